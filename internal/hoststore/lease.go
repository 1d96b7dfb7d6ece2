package hoststore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/azbind/azbind/extension/driver"
)

var _ driver.Leaser = (*Store)(nil)

// AcquireLease implements driver.Leaser with a blob lease on the blob named key (created empty
// when missing, as the real host's singleton lock blobs are). A blob lease lasts 15 to 60
// seconds: period is rounded into that range.
func (h *Store) AcquireLease(ctx context.Context, key string, period time.Duration) (driver.Lease, error) {
	secs := int32(period / time.Second)
	secs = max(15, min(60, secs))
	bb := h.c.NewBlockBlobClient(key)
	lc, err := lease.NewBlobClient(bb, nil)
	if err != nil {
		return nil, fmt.Errorf("host storage lease %q: %w", key, err)
	}
	for attempt := 0; ; attempt++ {
		_, err = lc.AcquireLease(ctx, secs, nil)
		if err == nil {
			return &blobLease{key: key, lc: lc}, nil
		}
		if attempt == 0 && (bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) || isStatus(err, 404)) {
			if cerr := h.createLockBlob(ctx, bb); cerr != nil {
				return nil, fmt.Errorf("host storage lease %q: create the lock blob: %w", key, cerr)
			}
			continue
		}
		if bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) || isStatus(err, 409) {
			return nil, fmt.Errorf("host storage lease %q is held by another: %w", key, driver.ErrConflict)
		}
		return nil, h.mapErr("lease", key, err)
	}
}

func (h *Store) createLockBlob(ctx context.Context, bb *blockblob.Client) error {
	opts := &blockblob.UploadOptions{AccessConditions: &sdkblob.AccessConditions{
		ModifiedAccessConditions: &sdkblob.ModifiedAccessConditions{IfNoneMatch: new(azcore.ETagAny)}}}
	for attempt := 0; ; attempt++ {
		_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(nil)), opts)
		switch {
		case err == nil, bloberror.HasCode(err, bloberror.BlobAlreadyExists), isStatus(err, 409), isStatus(err, 412):
			return nil
		case attempt == 0 && bloberror.HasCode(err, bloberror.ContainerNotFound):
			if cerr := h.ensureContainer(ctx); cerr != nil {
				return cerr
			}
		default:
			return err
		}
	}
}

type blobLease struct {
	key string
	lc  *lease.BlobClient
}

func (l *blobLease) Key() string { return l.key }

// Renew implements driver.Lease: a lease that another holder took (or that was released or
// broken) is lost. Renewing an expired lease nobody took succeeds, as the service allows.
func (l *blobLease) Renew(ctx context.Context) error {
	_, err := l.lc.RenewLease(ctx, nil)
	if err == nil {
		return nil
	}
	if bloberror.HasCode(err, bloberror.LeaseIDMismatchWithLeaseOperation, bloberror.LeaseNotPresentWithLeaseOperation, bloberror.LeaseLost, bloberror.LeaseIsBrokenAndCannotBeRenewed, bloberror.BlobNotFound) || isStatus(err, 409) || isStatus(err, 404) {
		return fmt.Errorf("host storage lease %q: %w (%v)", l.key, driver.ErrLeaseLost, errorCode(err))
	}
	return fmt.Errorf("host storage lease %q: renew: %w", l.key, err)
}

// Release implements driver.Lease (idempotent: a lease no longer held is not an error).
func (l *blobLease) Release(ctx context.Context) error {
	_, err := l.lc.ReleaseLease(ctx, nil)
	if err == nil || isStatus(err, 409) || isStatus(err, 404) {
		return nil
	}
	return fmt.Errorf("host storage lease %q: release: %w", l.key, err)
}
