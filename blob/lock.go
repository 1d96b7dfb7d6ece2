package blob

import (
	"context"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hoststore"
)

// The scan of a container runs on one host per host ID at a time, like the real host's
// singleton listener lock (checklist §5.3): the one lease of the contract (driver.HoldLease) on
// azure-webjobs-hosts/locks/<hostId>/WebJobs.Internal.Blobs.<container>.Listener in the
// trigger's account (hoststore's blob lease on that container). Other hosts only consume the
// internal queue (and hand over their own writes through the fast path) and try to take the lock
// over every scanLockRetry. The lease is the real host's listenerLockPeriod (1 minute), renewed
// at half its period as the real SingletonManager does: 2 requests a minute while idle. A host
// that stops releases it at once; one that crashes leaves it to expire.
const (
	scanLockPeriod = time.Minute
	scanLockRetry  = 5 * time.Second
)

type scanLock struct {
	leaser driver.Leaser
	key    string
	held   *driver.HeldLease
	tried  time.Time
}

func lockName(hostID, containerName string) string {
	return "locks/" + hostID + "/WebJobs.Internal.Blobs." + containerName + ".Listener"
}

func newScanLock(s *scanner) *scanLock {
	return &scanLock{leaser: hoststore.New(s.hosts), key: lockName(s.key.hostID, s.key.container)}
}

// hold reports whether this host holds the lock now, acquiring it when another host does not
// (at most every scanLockRetry); once held, driver.HoldLease renews it in the background.
func (l *scanLock) hold(ctx context.Context, s *scanner) bool {
	if l.held != nil {
		if l.held.Held() {
			return true
		}
		if ctx.Err() == nil {
			s.log.Warn("blob trigger: lost the scan lock; another host scans now", "lock", l.key)
		}
		l.held = nil
	}
	now := time.Now()
	if !l.tried.IsZero() && now.Sub(l.tried) < scanLockRetry {
		return false
	}
	l.tried = now
	h, err := driver.HoldLease(ctx, l.leaser, driver.SystemClock, l.key, scanLockPeriod)
	if err != nil {
		if !errors.Is(err, driver.ErrConflict) && ctx.Err() == nil {
			s.log.Warn("blob trigger: could not acquire the scan lock", "error", err)
		}
		return false
	}
	l.held = h
	return true
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

// release gives the lock up at shutdown so that another host takes over at once.
func (l *scanLock) release() {
	if l.held == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.held.Release(ctx)
	l.held = nil
}
