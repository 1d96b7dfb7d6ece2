package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/uuid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// A lease taken by another host while a batch runs is not checkpointed by the old owner: its
// ETag-conditional write fails, it gives the lease up, and the new owner's document stands.
func TestLeaseLostMidBatch(t *testing.T) {
	e := newEnv(t)
	logs := &logCapture{}
	h := newHost(t, hostOpts{logger: slog.New(logs)})
	started, release := make(chan struct{}, 1), make(chan struct{})
	err := h.Func("Slow", extension.Action(func(ctx context.Context, batch []testDoc) error {
		started <- struct{}{}
		<-release
		return nil
	}), Trigger("docs", e.db, "items", fast(map[string]any{"startFromBeginning": true, "leaseAcquireInterval": 600000, "leaseExpirationInterval": 600000})))
	if err != nil {
		t.Fatal(err)
	}
	e.write(testDoc{ID: "only", PK: "p1", N: 1})
	run(t, h)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // (runs before the host's stop)
	select {
	case <-started:
	case <-time.After(waitLong):
		t.Fatal("no batch")
	}
	// Take every lease as another host would: an ETag-conditional write, again after a 412 (the
	// owner renewed it in between).
	before := map[string]string{}
	store := &leaseStore{cc: e.leases}
	for _, l := range e.leaseDocs() {
		for {
			l.Owner, l.Timestamp = "thief-1", time.Now().UTC()
			_, err := store.replace(context.Background(), l)
			if err == nil {
				break
			}
			if !isPrecondition(err) {
				t.Fatalf("stealing %s: %v", l.ID, err)
			}
			if l, err = store.read(context.Background(), l.ID); err != nil {
				t.Fatal(err)
			}
		}
		before[l.ID] = l.ContinuationToken
	}
	unblock()
	eventually(t, "the old owner to give the leases up", func() bool { return logs.count("lost a lease") >= 4 })
	for _, l := range e.leaseDocs() {
		if l.Owner != "thief-1" || l.ContinuationToken != before[l.ID] {
			t.Errorf("lease %s: owner %q continuation %q, want thief-1 and %q", l.LeaseToken, l.Owner, l.ContinuationToken, before[l.ID])
		}
	}
}

func (l *logCapture) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// Scale reports the documents not yet processed across the leases.
func TestScale(t *testing.T) {
	e := newEnv(t)
	e.write(docs(0, 7)...)
	tr, err := newTestTrigger(t, Trigger("docs", e.db, "items", fast(map[string]any{"startFromBeginning": true, "maxItemsPerInvocation": 5})))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := tr.Scale(context.Background()); err != nil || m.Backlog != 0 || m.TargetPerInstance != 5 {
		t.Errorf("before start: %+v, %v", m, err)
	}
	if err := tr.setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := tr.Scale(context.Background())
	if err != nil || m.Backlog != 7 || m.TargetPerInstance != 5 {
		t.Errorf("Scale: %+v, %v; want backlog 7, target 5", m, err)
	}
}

// Check proves a connection with one call, and says nothing secret when it fails.
func TestCheck(t *testing.T) {
	s := settings()
	c, err := resolver(s).Resolve(context.Background(), "CosmosDB", connection.Cosmos)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(context.Background(), c); err != nil {
		t.Errorf("check: %v", err)
	}
	bad := connection.NewSettings(connection.FromMap("t", map[string]string{"Bad": "AccountEndpoint=https://127.0.0.1:1/;AccountKey=" + feed.Key + ";"}))
	bc, err := connection.NewResolver(bad, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: feed.HTTPClient,
		Retry: policyNoRetry()}}).Resolve(context.Background(), "Bad", connection.Cosmos)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = check(ctx, bc)
	if err == nil || strings.Contains(err.Error(), feed.Key) {
		t.Errorf("check of an unreachable account: %v", err)
	}
}

// Leases are owned by bare GUIDs, as the Change Feed Processor's instance names in Functions
// (DocumentServiceLeaseCore.Owner; issue 23), and a lease container holding the processor's own
// partition-key-range leases (version 0, LeaseToken = range id, no FeedRange) for this container
// is refused with one clear line instead of being read as whole-container leases.
func TestLeaseOwnerGUIDAndForeignLeasesRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tr, err := newTestTrigger(t, Trigger("docs", e.db, "items", fast()))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(rctx, nil) }()
	eventually(t, "owned leases", func() bool {
		ls := e.leaseDocs()
		for _, l := range ls {
			if l.Owner == "" {
				return false
			}
		}
		return len(ls) > 0
	})
	for _, l := range e.leaseDocs() {
		if uuid.Validate(l.Owner) != nil || l.Properties[propHostID] != "direct" {
			t.Errorf("lease %s: owner %q (host %q), want a bare GUID and host id direct", l.ID, l.Owner, l.Properties[propHostID])
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// What a Functions app's processor writes first: one lease per partition-key range.
	l := e.leaseDocs()[0]
	raw, _ := json.Marshal(map[string]any{"id": l.ID, "version": 0, "LeaseToken": "0", "Owner": uuid.NewString(), "ContinuationToken": `"12"`, "properties": map[string]string{}})
	if _, err := e.leases.UpsertItem(ctx, pkOf(l.ID), raw, nil); err != nil {
		t.Fatal(err)
	}
	tr2, err := newTestTrigger(t, Trigger("docs", e.db, "items", fast()))
	if err != nil {
		t.Fatal(err)
	}
	err = tr2.Run(ctx, nil)
	if !errors.Is(err, driver.ErrPermanent) || !strings.Contains(err.Error(), "holds leases of an Azure Functions app's change feed processor") || !strings.Contains(err.Error(), "leaseContainerPrefix") {
		t.Errorf("Run over processor-written leases: %v", err)
	}
}
