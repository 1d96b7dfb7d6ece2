package extension

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// StorageFactory builds the host storage from the host's settings and connection resolver; it
// returns (nil, nil) when it does not apply (e.g. AzureWebJobsStorage is not set).
type StorageFactory func(ctx context.Context, s *Services) (HostStorage, error)

var (
	storageMu      sync.Mutex
	storageFactory StorageFactory
)

// RegisterStorage installs the factory for the default host storage, used when
// HostOptions.Storage is nil. The blob connector registers one that keeps host storage in the
// AzureWebJobsStorage account's azure-webjobs-hosts container, as Functions does; without one,
// or when it does not apply, host storage is in memory (and a warning is logged).
func RegisterStorage(f StorageFactory) {
	storageMu.Lock()
	storageFactory = f
	storageMu.Unlock()
}

func (h *Host) defaultStorage(ctx context.Context) (HostStorage, error) {
	storageMu.Lock()
	f := storageFactory
	storageMu.Unlock()
	if f != nil {
		st, err := f(ctx, h.services)
		if err != nil {
			return nil, fmt.Errorf("host storage (AzureWebJobsStorage): %w", err)
		}
		if st != nil {
			return st, nil
		}
	}
	return nil, nil
}

// checkHostIDCollision records which app uses the host id at ids/usage/<hostId> and warns when
// another app already does (Functions' AZFD0004): receipts, locks and checkpoints are keyed by
// host id, so two apps sharing one would steal each other's work.
func (h *Host) checkHostIDCollision(ctx context.Context) {
	names := make([]string, 0, len(h.specs))
	for _, s := range h.specs {
		names = append(names, strings.ToLower(s.Name))
	}
	sort.Strings(names)
	sum := sha256.Sum256([]byte(strings.Join(names, "\n")))
	app := hex.EncodeToString(sum[:8])
	key := "ids/usage/" + h.services.HostID
	st := h.services.Storage
	_, err := st.Put(ctx, key, Record{Data: []byte(app)}, Cond{IfNoneMatch: true})
	if err == nil || !errors.Is(err, ErrConflict) {
		return
	}
	rec, err := st.Get(ctx, key)
	if err != nil || string(rec.Data) == app {
		return
	}
	h.logger.Warn("a collision for this host id was detected in host storage: another app with different functions uses it; give each app its own AzureFunctionsWebHost__hostid (AZFD0004)",
		slog.String("host_id", h.services.HostID))
}
