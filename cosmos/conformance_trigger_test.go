package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
)

// cosmosTriggerHarness runs the kit's trigger tests on cosmosDBTrigger. Its source writes each
// payload as a document {"id", "pk", "payload": <the payload as a string>}; the trigger delivers
// the documents with their system properties (_rid, _etag, _ts, _lsn…), and Payload maps them back.
// One harness per test holds that test's host storage, where the trigger dead-letters.
type cosmosTriggerHarness struct {
	f       *emulator.CosmosFeed
	storage driver.HostStorage
}

var (
	_ conformance.TriggerHarness = (*cosmosTriggerHarness)(nil)
	_ conformance.StorageHarness = (*cosmosTriggerHarness)(nil)
	_ conformance.PayloadMapper  = (*cosmosTriggerHarness)(nil)
)

// confMaxBatch is maxItemsPerInvocation for `cardinality: many`; single items are read one
// document at a time (maxItemsPerInvocation 1), since the trigger otherwise hands a single-item
// handler the whole batch as one JSON array.
const confMaxBatch = 5

func (h *cosmosTriggerHarness) Settings() map[string]string {
	return map[string]string{"CosmosDB": h.f.ConnectionString}
}

func (h *cosmosTriggerHarness) HostStorage() driver.HostStorage { return h.storage }

// Capabilities declares what the trigger has. Left out:
//
//   - Redelivery: a batch that fails (after the function's retry policy; also a panic or a
//     function timeout) is dead-lettered to host storage and checkpointed, never delivered again;
//     a cancelled batch comes back only to the lease's next owner (after a restart: Checkpoints).
//     So FailureRedelivery, PanicRecovery, FunctionTimeout and CancelAtDrainDeadline do not apply.
//   - Metadata: the trigger has no binding data (its contract is empty).
//   - HandlerSettlement, Push: not a feature of the change feed.
func (h *cosmosTriggerHarness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		// The first failure dead-letters the batch (one document with cardinality one).
		PoisonAfter: 1,
		// Not CompetingConsumers: the kit checks exactly once while a second host joins, and a
		// lease taken over mid-batch is at-least-once (the batch after the last continuation runs
		// again). The two-host lease-sharing test in trigger_test.go checks the balanced case.
		Batch:        true,
		MaxBatchSize: confMaxBatch,
		// The partition key decides a document's feed range; a lease's batches run one at a time,
		// in change-feed (write) order.
		OrderedPerKey: true,
		// Checkpoints are the lease documents' continuations in the lease container, which
		// outlives the host: a restarted host resumes from them.
		Checkpoints: true,
		Timeout:     30 * time.Second,
	}
}

// Payload implements conformance.PayloadMapper: a document (one item of a batch) or, with
// cardinality one, the one-document array the trigger delivers.
func (h *cosmosTriggerHarness) Payload(delivered []byte) ([]byte, error) {
	doc := json.RawMessage(delivered)
	if trimmed := strings.TrimSpace(string(delivered)); strings.HasPrefix(trimmed, "[") {
		var docs []json.RawMessage
		if err := json.Unmarshal(delivered, &docs); err != nil {
			return nil, err
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%d documents in one single-item delivery, want 1", len(docs))
		}
		doc = docs[0]
	}
	return payloadOfDoc(doc)
}

func payloadOfDoc(doc []byte) ([]byte, error) {
	var d struct {
		Payload *string `json:"payload"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	if d.Payload == nil {
		return nil, fmt.Errorf("document has no payload property: %s", doc)
	}
	return []byte(*d.Payload), nil
}

func (h *cosmosTriggerHarness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	t.Helper()
	cl := plainClient(t, h.f)
	s := &cosmosSource{db: fmt.Sprintf("ctrig%d", confSeq.Add(1)), storage: h.storage}
	for _, c := range []struct{ name, pk string }{{"items", "/pk"}, {"leases", "/id"}} {
		if err := ensureContainer(ctx, cl, s.db, c.name, c.pk, 0); err != nil {
			t.Fatalf("creating %s/%s: %v", s.db, c.name, err)
		}
	}
	s.items, _ = cl.NewContainer(s.db, "items")
	s.leases, _ = cl.NewContainer(s.db, "leases")
	return s
}

func plainClient(t testing.TB, f *emulator.CosmosFeed) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(f.Key)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := azcosmos.NewClientWithKey(f.Endpoint, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// cosmosSource is one database with the monitored container "items" (/pk) and "leases".
type cosmosSource struct {
	db      string
	items   *azcosmos.ContainerClient
	leases  *azcosmos.ContainerClient
	storage driver.HostStorage
	sent    atomic.Int64
}

var (
	_ conformance.KeyedSource        = (*cosmosSource)(nil)
	_ conformance.BatchTriggerSource = (*cosmosSource)(nil)
)

func (s *cosmosSource) trigger(name string, maxItems int) *driver.BindingSpec {
	// From the beginning: the kit sends some items before the first host starts.
	return Trigger(name, s.db, "items", fast(map[string]any{"startFromBeginning": true, "maxItemsPerInvocation": maxItems}))
}

func (s *cosmosSource) Trigger(name string) *driver.BindingSpec { return s.trigger(name, 1) }

// TriggerMany implements conformance.BatchTriggerSource.
func (s *cosmosSource) TriggerMany(name string) *driver.BindingSpec {
	spec := s.trigger(name, confMaxBatch)
	spec.Cardinality = "many"
	return spec
}

// Send writes the payload with one of 8 partition keys in turn, so that the items spread over
// the feed ranges (and the hosts of CompetingConsumers); 12 items sent before a host starts put
// at least 3 in one range, for Batch.
func (s *cosmosSource) Send(ctx context.Context, payload []byte) error {
	return s.SendKeyed(ctx, fmt.Sprintf("p%d", s.sent.Add(1)%8), payload)
}

// SendKeyed writes the payload as a document with key as its partition key.
func (s *cosmosSource) SendKeyed(ctx context.Context, key string, payload []byte) error {
	b, err := json.Marshal(map[string]any{"id": fmt.Sprintf("doc%06d", confSeq.Add(1)), "pk": key, "payload": string(payload)})
	if err != nil {
		return err
	}
	_, err = s.items.CreateItem(ctx, azcosmos.NewPartitionKeyString(key), b, nil)
	return err
}

// Pending counts the documents beyond the leases' continuations (all of them before the
// leases exist: the trigger starts from the beginning).
func (s *cosmosSource) Pending(ctx context.Context) (int, error) {
	leases, initialized, err := s.leaseDocs(ctx)
	if err != nil {
		return 0, err
	}
	if !initialized { // (leases are created one by one: trust them once the store says all exist)
		return s.countAll(ctx)
	}
	n := 0
	for _, l := range leases {
		fr := l.feedRange()
		opts := &azcosmos.ChangeFeedOptions{MaxItemCount: 1000}
		if l.ContinuationToken == "" {
			opts.FeedRange = &fr
		} else {
			opts.Continuation = continuationFor(fr, l.ContinuationToken)
		}
		resp, err := s.items.ReadChangeFeed(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("reading lease %s's change feed: %w", l.LeaseToken, err)
		}
		n += len(resp.Items)
	}
	return n, nil
}

// leaseDocs lists the leases, and whether the store's .info marker (written once every lease
// exists) is there.
func (s *cosmosSource) leaseDocs(ctx context.Context) (leases []*leaseDoc, initialized bool, err error) {
	pager := s.leases.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, it := range page.Items {
			var l leaseDoc
			if err := json.Unmarshal(it, &l); err != nil {
				return nil, false, err
			}
			switch {
			case strings.Contains(l.ID, ".."):
				leases = append(leases, &l)
			case strings.HasSuffix(l.ID, ".info"):
				initialized = true
			}
		}
	}
	return leases, initialized, nil
}

func (s *cosmosSource) countAll(ctx context.Context) (int, error) {
	pager := s.items.NewQueryItemsPager("SELECT c.id FROM c", azcosmos.NewPartitionKey(), nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		n += len(page.Items)
	}
	return n, nil
}

// Poisoned returns the payloads of the documents the trigger dead-lettered for this source's
// database (host storage, DeadLetterPrefix).
func (s *cosmosSource) Poisoned(ctx context.Context) ([][]byte, error) {
	keys, err := ListDeadLetters(ctx, s.storage, "", "")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, k := range keys {
		dl, err := ReadDeadLetter(ctx, s.storage, k)
		if errors.Is(err, driver.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if dl.Source.Database != s.db {
			continue
		}
		for _, ev := range dl.Events {
			p, err := payloadOfDoc(ev.Document)
			if err != nil {
				return nil, fmt.Errorf("dead letter %s: %w", k, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}
