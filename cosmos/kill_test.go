package cosmos

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testhost"
)

const killHelperEnv = "AZBIND_COSMOS_KILL_HELPER"

// runKillHelper is the child process of TestKilledHostLosesNothing: a host whose handler
// announces its batch and then hangs, until the parent kills the process.
func runKillHelper() int {
	var cfg struct {
		ConnStr, CertPEM, DB string
		Defaults             bool // lease and poll intervals at their defaults
	}
	if err := testhost.HelperConfig(killHelperEnv, &cfg); err != nil {
		return testhost.RunHelper(nil, err)
	}
	s := connection.NewSettings(connection.FromMap("test", map[string]string{"CosmosDB": cfg.ConnStr}))
	r := connection.NewResolver(s, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: transportFromPEM([]byte(cfg.CertPEM))}})
	h, err := extension.NewHost(extension.HostOptions{Settings: s, Connections: r, HostID: "doomed", Storage: extension.NewMemoryStorage()})
	if err == nil {
		err = h.Func("Watch", extension.Action(func(ctx context.Context, batch []testDoc) error {
			testhost.Hang(len(batch))
			return nil
		}), Trigger("docs", cfg.DB, "items", killTiming(cfg.Defaults)))
	}
	return testhost.RunHelper(h, err)
}

// killTiming is the trigger's properties in the kill tests: fast intervals, or the defaults.
func killTiming(defaults bool) map[string]any {
	if defaults {
		return map[string]any{"startFromBeginning": true}
	}
	return fast(map[string]any{"startFromBeginning": true})
}

// A host killed mid-batch loses nothing: its leases expire (no renewal from a dead process), and
// another host takes them over from the stored continuations, the batches in flight included.
func TestKilledHostLosesNothing(t *testing.T) {
	took := killTakeover(t, false, waitLong)
	t.Logf("takeover after %v (expiration 1.5 s, acquire 0.1 s)", took.Round(100*time.Millisecond))
}

// The same at the default intervals (issue 24: the idle poll back-off must not slow failover). A
// killed host's lease was renewed at most leaseRenewInterval (17 s) before the kill and expires
// leaseExpirationInterval (60 s) after that renewal; the heir, short of its share, looks again just
// after that expiry instead of at its next 13 s acquire round: the takeover comes 43–60 s after
// the kill (the change-feed processor's own rounds would make it up to 73 s).
func TestKilledHostTakeoverAtDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: waits up to 60 s for a lease to expire at the default 60 s")
	}
	took := killTakeover(t, true, 66*time.Second)
	t.Logf("takeover after %v (defaults: expiration 60 s, renew 17 s, acquire 13 s)", took.Round(100*time.Millisecond))
}

// killTakeover kills a host mid-batch and returns how long after the kill an heir had delivered
// every document exactly once (failing the test after bound).
func killTakeover(t *testing.T, defaults bool, bound time.Duration) time.Duration {
	e := newEnv(t)
	before := docs(0, 20)
	e.write(before...)
	cfg, _ := json.Marshal(map[string]any{"ConnStr": feed.ConnectionString, "CertPEM": string(feed.CertPEM), "DB": e.db, "Defaults": defaults})
	child, _ := testhost.StartKillHelper(t, killHelperEnv, string(cfg), waitLong)
	eventually(t, "the helper to own the 4 leases", func() bool { return ownersOf(e.leaseDocs())["doomed"] == 4 })
	child.Kill()
	killedAt := time.Now()
	// The child is dead: its last lease write is final, and its leases are free an expiration
	// interval after it.
	expiration := 1500 * time.Millisecond
	if defaults {
		expiration = 60 * time.Second
	}
	var lastRenew time.Time
	for _, l := range e.leaseDocs() {
		if r := l.renewed(); r.After(lastRenew) {
			lastRenew = r
		}
	}
	expiresAt := lastRenew.Add(expiration)
	later := docs(20, 10)
	e.write(later...)

	rec := newRecorder()
	h := newHost(t, hostOpts{id: "heir", logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	recordingFunc(t, h, e, "Watch", "heir", rec, killTiming(defaults))
	run(t, h)
	for deadline := killedAt.Add(bound); rec.count() < 30; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v the heir delivered %d of 30 documents", bound, rec.count())
		}
	}
	took := time.Since(killedAt)
	after := killedAt.Add(took).Sub(expiresAt)
	t.Logf("leases expired %v after the kill; every document delivered %v after that", expiresAt.Sub(killedAt).Round(100*time.Millisecond), after.Round(100*time.Millisecond))
	if defaults && after > 3*time.Second {
		t.Errorf("documents delivered %v after the leases expired, want ≤ 3 s (the heir looks again 20 ms after a foreign lease's expiry)", after)
	}
	rec.exactlyOnce(t, append(before, later...))
	if o := ownersOf(e.leaseDocs()); o["heir"] != 4 {
		t.Errorf("owners after the takeover %v", o)
	}
	return took
}
