package blob

import (
	"bytes"
	"context"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
)

// The scan of a container runs on one host per host ID at a time, like the real host's
// singleton listener lock (checklist §5.3): a blob lease on
// azure-webjobs-hosts/locks/<hostId>/WebJobs.Internal.Blobs.<container>.Listener in the
// trigger's account. Other hosts only consume the internal queue (and hand over their own
// writes through the fast path) and try to take the lock over every scanLockRetry.
const (
	scanLockPeriod = 30 * time.Second
	scanLockRenew  = 10 * time.Second
	scanLockRetry  = 5 * time.Second
)

type scanLock struct {
	bb      *blockblob.Client
	lc      *lease.BlobClient
	held    bool
	renewed time.Time
	tried   time.Time
}

func lockName(hostID, containerName string) string {
	return "locks/" + hostID + "/WebJobs.Internal.Blobs." + containerName + ".Listener"
}

func newScanLock(s *scanner) *scanLock {
	bb := s.hosts.NewBlockBlobClient(lockName(s.key.hostID, s.key.container))
	lc, _ := lease.NewBlobClient(bb, nil)
	return &scanLock{bb: bb, lc: lc}
}

// hold reports whether this host holds the lock now, acquiring or renewing it as needed.
func (l *scanLock) hold(ctx context.Context, s *scanner) bool {
	now := time.Now()
	if l.held {
		if now.Sub(l.renewed) < scanLockRenew {
			return true
		}
		if _, err := l.lc.RenewLease(ctx, nil); err == nil {
			l.renewed = now
			return true
		} else if ctx.Err() == nil {
			s.log.Warn("blob trigger: lost the scan lock; another host scans now", "error", err)
		}
		l.held = false
	}
	if !l.tried.IsZero() && now.Sub(l.tried) < scanLockRetry {
		return false
	}
	l.tried = now
	_, err := l.lc.AcquireLease(ctx, int32(scanLockPeriod/time.Second), nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		if cerr := l.create(ctx, s); cerr != nil {
			if ctx.Err() == nil {
				s.log.Warn("blob trigger: could not create the scan lock", "error", cerr)
			}
			return false
		}
		_, err = l.lc.AcquireLease(ctx, int32(scanLockPeriod/time.Second), nil)
	}
	if err != nil {
		if !bloberror.HasCode(err, bloberror.LeaseAlreadyPresent) && !isStatus(err, 409) && ctx.Err() == nil {
			s.log.Warn("blob trigger: could not acquire the scan lock", "error", err)
		}
		return false
	}
	l.held, l.renewed = true, now
	return true
}

func (l *scanLock) create(ctx context.Context, s *scanner) error {
	opts := &blockblob.UploadOptions{AccessConditions: &sdkblob.AccessConditions{
		ModifiedAccessConditions: &sdkblob.ModifiedAccessConditions{IfNoneMatch: ptrETag(azcore.ETagAny)}}}
	err := withContainer(ctx, s.hosts, func() error {
		_, err := l.bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(nil)), opts)
		return err
	})
	if err == nil || bloberror.HasCode(err, bloberror.BlobAlreadyExists) || isStatus(err, 409) || isStatus(err, 412) {
		return nil
	}
	return err
}

// withContainer runs op and, when it fails because container does not exist yet, creates the
// container and runs op once more.
func withContainer(ctx context.Context, c *container.Client, op func() error) error {
	err := op()
	if err != nil && bloberror.HasCode(err, bloberror.ContainerNotFound) {
		if _, cerr := c.Create(ctx, nil); cerr != nil && !bloberror.HasCode(cerr, bloberror.ContainerAlreadyExists) {
			return cerr
		}
		err = op()
	}
	return err
}

// keepAlive renews the lock in the background while a (possibly long) sweep runs; the returned
// function stops it.
func (l *scanLock) keepAlive(ctx context.Context, s *scanner) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(scanLockRenew)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if !l.hold(ctx, s) {
					return
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// release gives the lock up at shutdown so that another host takes over at once.
func (l *scanLock) release() {
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.lc.ReleaseLease(ctx, nil)
	l.held = false
}

func ptrETag(e azcore.ETag) *azcore.ETag { return &e }
