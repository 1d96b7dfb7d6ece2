// Package testhost is the connectors' test support for hosts: full host services for a unit
// test that calls a factory outside a running host (Services), and a real host started with a
// test's functions and stopped when the test ends (Start).
package testhost

import (
	"log/slog"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// Services returns the host services a connector gets inside the runtime (every field set:
// Logger, Clock, Meter, Settings, Connections, Storage, Router, Mux), built by
// extension.NewHost(opts).Services() and closed when the test ends. A nil opts.Logger discards;
// nil opts.Settings are empty (not the environment); opts.HostID is copied to Services.HostID;
// a nil opts.Storage is memory the host fell back to (StorageVolatile, as a host without
// AzureWebJobsStorage has): give extension.NewMemoryStorage() for storage that counts as durable.
// For a unit test that calls a factory outside a running host: the driver's rule is that no
// connector checks these for nil.
func Services(t testing.TB, opts extension.HostOptions) *driver.Services {
	t.Helper()
	s, err := NewServices(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// NewServices is Services for a helper process (no testing.TB); the caller closes them.
func NewServices(opts extension.HostOptions) (*driver.Services, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Settings == nil {
		opts.Settings = connection.NewSettings()
	}
	h, err := extension.NewHost(opts)
	if err != nil {
		return nil, err
	}
	s := h.Services()
	s.HostID = opts.HostID
	s.StorageVolatile = opts.Storage == nil
	return s, nil
}
