package extension

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hostkeys"
	"github.com/azbind/azbind/internal/hoststore"
)

// Functions keys (internal/hostkeys): a request presents its key in the x-functions-key header
// or, when the header is absent, the code query parameter (as Functions reads them). The key is
// matched in Functions' order — master (admin), system keys, host function keys, the function's
// keys — and the route's level decides: AuthAnonymous admits everyone; AuthFunction (and
// AuthUser) any key of the host or of the route's function; AuthSystem the route's system key or
// the master key; AuthAdmin the master key only. Anything else gets 401 with an empty body, as
// Functions answers.

// presentedKey returns the key a request presents.
func presentedKey(r *http.Request) string {
	if k := r.Header.Get("x-functions-key"); k != "" {
		return k
	}
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("code")
}

// authorize checks the route's level; it answers 401 itself and returns false when the request
// is not admitted.
func (h *Host) authorize(w http.ResponseWriter, r *http.Request, rt *driver.Route) bool {
	if rt.Level == driver.AuthAnonymous {
		return true
	}
	keys := h.hostKeys()
	key := presentedKey(r)
	if keys == nil || key == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	fn := ""
	if rt.Level == driver.AuthFunction || rt.Level == driver.AuthUser {
		fn = rt.Function
	}
	m, err := keys.Match(r.Context(), key, fn)
	if err != nil {
		h.logger.Error("host keys could not be read; the request is refused", slog.String("path", r.URL.Path), slog.String("error", connection.ScrubText(err.Error())))
		http.Error(w, "the host keys could not be read; see the host log", http.StatusInternalServerError)
		return false
	}
	if !m.Admits(rt.Level, rt.SystemKey) {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return true
}

// hostKeys returns the host's keys once Run (or Verify) has opened host storage.
func (h *Host) hostKeys() *hostkeys.Store {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys
}

// HostKeys returns the host's Functions keys after Verify or Run opened its storage (nil before):
// what `azbind keys` reads and sets. Keys are kept in the azure-webjobs-secrets container of
// AzureWebJobsStorage; with HostOptions.Storage given, in that storage under "secrets/"; in memory
// (new at every start) when the host storage is the memory fallback.
func (h *Host) HostKeys() *hostkeys.Store { return h.hostKeys() }

// openKeys opens the host's key store (called with h.mu held, after the storage is chosen).
func (h *Host) openKeys(ctx context.Context) error {
	o := hostkeys.Options{Settings: h.settings, Logger: h.logger, Clock: h.clock, HostName: "localhost"}
	if addr := h.opts.HTTPAddr; addr != "" {
		o.HostName = addr
	}
	var st driver.HostStorage
	switch {
	case h.opts.Storage != nil:
		st, o.Prefix = h.opts.Storage, "secrets/"
	case h.services.StorageVolatile:
		st = NewMemoryStorage()
		if _, ok := h.settings.Get("host.master"); !ok {
			if _, ok := h.settings.Get("host__master"); !ok {
				h.logger.Warn("host keys are in memory (AzureWebJobsStorage is not set): the master key and every generated key change at each start; define AzureWebJobsStorage, or the setting host.master (and host.function.<name>, host.systemKey.<name>) to fix them")
			}
		}
	default:
		c, err := h.services.Connections.Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
		if err != nil {
			return &driver.ConfigError{Where: "setting AzureWebJobsStorage", Problem: "host keys", Err: err}
		}
		sc, err := hoststore.ServiceClient(c)
		if err != nil {
			return &driver.ConfigError{Where: "setting AzureWebJobsStorage", Problem: "host keys", Err: err}
		}
		st = hoststore.New(sc.NewContainerClient(hostkeys.Container))
		o.Legacy = h.services.Storage
	}
	h.keys = hostkeys.New(st, h.services.HostID, o)
	return nil
}

// keysRouter is Services.Router: the host's router, which makes sure a route's system key exists
// (generated into host.json systemKeys when absent) before the route is mounted.
type keysRouter struct {
	*router
}

func (kr keysRouter) Mount(r driver.Route) (func(), error) {
	if r.Level == driver.AuthSystem && r.SystemKey != "" {
		if err := kr.h.ensureSystemKey(r.SystemKey); err != nil {
			return nil, err
		}
	}
	return kr.router.Mount(r)
}

// ensureSystemKey generates the system key name when it does not exist. On the memory fallback a
// generated system key would change at every start and break the subscriptions that hold it, so
// that is a configuration error unless a setting holds the key.
func (h *Host) ensureSystemKey(name string) error {
	keys := h.hostKeys()
	if keys == nil {
		return fmt.Errorf("router: the %s system key: the host has not opened its storage yet: %w", name, ErrInvalidConfig)
	}
	if h.services.StorageVolatile {
		for _, k := range []string{"host.systemKey." + name, "host__systemKey__" + name} {
			if v, ok := h.settings.Get(k); ok && strings.TrimSpace(v) != "" {
				return nil
			}
		}
		return &driver.ConfigError{Where: "system key " + name,
			Problem: "the " + name + " system key is not set and the host has only memory storage, so a generated key would change at every start and break the subscriptions that use it",
			Fix:     "define the setting host.systemKey." + name + " (any long random string), or AzureWebJobsStorage so that the key is generated once and kept there"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := keys.EnsureSystemKey(ctx, name); err != nil {
		if errors.Is(err, hostkeys.ErrCorrupt) {
			return fmt.Errorf("%w: %w", err, ErrInvalidConfig)
		}
		return fmt.Errorf("router: the %s system key: %w", name, connection.RedactError(err))
	}
	return nil
}
