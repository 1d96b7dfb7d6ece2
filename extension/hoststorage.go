package extension

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hoststore"
)

// defaultStorage is host storage when HostOptions.Storage is nil: the azure-webjobs-hosts
// container of AzureWebJobsStorage, as the real host keeps it. Without that setting it is memory,
// Services.StorageVolatile is set (so bindings that need durable state refuse to start, see
// driver.Services.DurableStorage), and the host says so at WARN. A setting that exists but cannot
// be used is an error.
func (h *Host) defaultStorage(ctx context.Context) (driver.HostStorage, error) {
	c, err := h.services.Connections.Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
	if errors.Is(err, connection.ErrNotFound) {
		h.services.StorageVolatile = true
		h.logger.Warn("host storage is in memory: AzureWebJobsStorage is not set, so receipts, locks and checkpoints would not survive a restart; bindings that need durable state will not start (define AzureWebJobsStorage, or give HostOptions.Storage)")
		return NewMemoryStorage(), nil
	}
	if err != nil {
		return nil, &driver.ConfigError{Where: "setting AzureWebJobsStorage", Problem: "host storage", Err: err}
	}
	return hoststore.Open(c)
}

// checkHostIDCollision records which app uses the host id at ids/usage/<hostId> and warns when
// another app already does (Functions' AZFD0004): receipts, locks and checkpoints are keyed by
// host id, so two apps sharing one would steal each other's work.
func (h *Host) checkHostIDCollision(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h.mu.Lock()
	names := make([]string, 0, len(h.specs))
	for _, s := range h.specs {
		names = append(names, strings.ToLower(s.Name))
	}
	h.mu.Unlock()
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
