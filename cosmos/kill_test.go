package cosmos

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/testhost"
)

const killHelperEnv = "AZBIND_COSMOS_KILL_HELPER"

// runKillHelper is the child process of TestKilledHostLosesNothing: a host whose handler
// announces its batch and then hangs, until the parent kills the process.
func runKillHelper() int {
	var cfg struct{ ConnStr, CertPEM, DB string }
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
		}), Trigger("docs", cfg.DB, "items", fast(map[string]any{"startFromBeginning": true})))
	}
	return testhost.RunHelper(h, err)
}

// A host killed mid-batch loses nothing: its leases expire (no renewal from a dead process), and
// another host takes them over from the stored continuations, the batches in flight included.
func TestKilledHostLosesNothing(t *testing.T) {
	e := newEnv(t)
	before := docs(0, 20)
	e.write(before...)
	cfg, _ := json.Marshal(map[string]string{"ConnStr": feed.ConnectionString, "CertPEM": string(feed.CertPEM), "DB": e.db})
	child, _ := testhost.StartKillHelper(t, killHelperEnv, string(cfg), waitLong)
	eventually(t, "the helper to own the 4 leases", func() bool { return ownersOf(e.leaseDocs())["doomed"] == 4 })
	child.Kill()
	later := docs(20, 10)
	e.write(later...)

	rec := newRecorder()
	h := newHost(t, hostOpts{id: "heir"})
	recordingFunc(t, h, e, "Watch", "heir", rec, fast(map[string]any{"startFromBeginning": true}))
	run(t, h)
	eventually(t, "30 documents", func() bool { return rec.count() == 30 })
	rec.exactlyOnce(t, append(before, later...))
	if o := ownersOf(e.leaseDocs()); o["heir"] != 4 {
		t.Errorf("owners after the takeover %v", o)
	}
}
