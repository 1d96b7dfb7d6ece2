package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
)

// receiptLease is how long a host holds a receipt while handing a blob over (checklist C31).
const receiptLease = 30 // seconds

type claimResult int

const (
	claimed     claimResult = iota // we queued the blob now
	alreadyDone                    // a complete receipt exists
	busy                           // another host holds the receipt: look again later
)

// receipts manages the receipt blobs of one storage account.
type receipts struct {
	hosts *container.Client // azure-webjobs-hosts
}

func isIncomplete(md map[string]*string) bool {
	for k := range md {
		if strings.EqualFold(k, incompleteKey) {
			return true
		}
	}
	return false
}

// claim hands one blob version over to the internal queue at most once per function and host
// ID (BlobTriggerExecutor / BlobReceiptManager): it creates the receipt with Incomplete
// metadata, leases it, checks it is still incomplete, enqueues, and marks it complete.
//
// fresh says the blob is probably new (written since the last persisted scan, or announced by
// the fast path): the receipt is then created straight away instead of being read first, which
// saves a request per new blob.
func (r *receipts) claim(ctx context.Context, hostID, fnID, etag, containerName, blobName string, fresh bool, enqueue func(context.Context) error) (claimResult, error) {
	rb := r.hosts.NewBlockBlobClient(receiptName(hostID, fnID, etag, containerName, blobName))
	var seen string // the receipt's ETag when we last saw it incomplete
	if fresh {
		e, created, err := r.create(ctx, rb)
		if err != nil {
			return busy, err
		}
		seen = e
		if !created {
			fresh = false // it exists: read it
		}
	}
	if !fresh {
		props, err := rb.GetProperties(ctx, nil)
		switch {
		case err == nil:
			if !isIncomplete(props.Metadata) {
				return alreadyDone, nil
			}
			seen = etagString(props.ETag)
		case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) || isStatus(err, 404):
			e, created, cerr := r.create(ctx, rb)
			if cerr != nil {
				return busy, cerr
			}
			if !created {
				return busy, nil // another host created it just now: look again later
			}
			seen = e
		default:
			return busy, fmt.Errorf("read receipt: %w", err)
		}
	}

	lc, err := lease.NewBlobClient(rb, nil)
	if err != nil {
		return busy, err
	}
	lr, err := lc.AcquireLease(ctx, receiptLease, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) || isStatus(err, 409) {
			return busy, nil
		}
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return busy, nil // deleted meanwhile (Reprocess): look again later
		}
		return busy, fmt.Errorf("lease receipt: %w", err)
	}
	leaseID := deref(lr.LeaseID)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = lc.ReleaseLease(rctx, nil)
	}()
	// Another host may have completed the receipt between our read and our lease. Leasing does
	// not change a blob's ETag, so an unchanged ETag proves it is still incomplete; otherwise
	// read it again.
	if seen == "" || etagString(lr.ETag) != seen {
		props, err := rb.GetProperties(ctx, nil)
		if err != nil {
			return busy, fmt.Errorf("re-read receipt: %w", err)
		}
		if !isIncomplete(props.Metadata) {
			return alreadyDone, nil
		}
	}
	if err := enqueue(ctx); err != nil {
		return busy, fmt.Errorf("enqueue: %w", err)
	}
	// Mark complete (remove Incomplete) under the lease. Past this point the message is queued:
	// a failure here only means another scan may queue it again (at-least-once).
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := rb.SetMetadata(mctx, map[string]*string{}, &sdkblob.SetMetadataOptions{
		AccessConditions: &sdkblob.AccessConditions{LeaseAccessConditions: &sdkblob.LeaseAccessConditions{LeaseID: &leaseID}},
	}); err != nil {
		return claimed, fmt.Errorf("mark receipt complete: %w", err)
	}
	return claimed, nil
}

// create makes an empty incomplete receipt if none exists and returns its ETag; created=false
// means it exists already.
func (r *receipts) create(ctx context.Context, rb *blockblob.Client) (etag string, created bool, err error) {
	opts := &blockblob.UploadOptions{
		Metadata: map[string]*string{incompleteKey: to.Ptr(incompleteKey)},
		AccessConditions: &sdkblob.AccessConditions{ModifiedAccessConditions: &sdkblob.ModifiedAccessConditions{
			IfNoneMatch: to.Ptr(anyETag),
		}},
	}
	for attempt := 0; attempt < 2; attempt++ {
		var resp blockblob.UploadResponse
		resp, err = rb.Upload(ctx, streaming.NopCloser(bytes.NewReader(nil)), opts)
		if err == nil {
			return etagString(resp.ETag), true, nil
		}
		if bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) || isStatus(err, 409) || isStatus(err, 412) {
			return "", false, nil
		}
		if attempt == 0 && bloberror.HasCode(err, bloberror.ContainerNotFound) {
			if _, cerr := r.hosts.Create(ctx, nil); cerr != nil && !bloberror.HasCode(cerr, bloberror.ContainerAlreadyExists) {
				return "", false, fmt.Errorf("create container %s: %w", HostsContainer, cerr)
			}
			continue
		}
		break
	}
	return "", false, fmt.Errorf("create receipt: %w", err)
}

// isStatus reports whether err is an azcore.ResponseError with the given HTTP status.
func isStatus(err error, code int) bool {
	var rerr *responseError
	if errors.As(err, &rerr) {
		return rerr.StatusCode == code
	}
	return false
}
