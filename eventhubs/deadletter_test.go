package eventhubs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

var poisonBody = []byte{'p', 'o', 'i', 's', 0x00, 0xff, 0xfe, 'n'} // not UTF-8: must survive byte for byte

// A handler that still fails after the retry policy: the event is written whole to the
// dead-letter location (with the error), logged at ERROR, counted, and only then checkpointed past;
// the partition moves on. Replay sends it back through the hub.
func TestFailingHandlerDeadLettersAndMovesOn(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	var attempts atomic.Int32
	var healed atomic.Bool
	rec := &recorder{}
	fn := "Poison" + fmt.Sprint(hubSeq.Load())
	th := startHost(t, hostOpts{retry: &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 2, DelayInterval: 10 * time.Millisecond}},
		func(h *extension.Host) error {
			return h.Func(fn, extension.Action(func(ctx context.Context, body []byte) error {
				if bytes.Equal(body, poisonBody) && !healed.Load() {
					attempts.Add(1)
					return errors.New("cannot digest this")
				}
				rec.add(string(body))
				return nil
			}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
		})
	send(t, hub, "0", "ok1", string(poisonBody), "ok2")
	waitFor(t, 30*time.Second, "ok1 and ok2 processed", func() bool { return rec.len() == 2 })
	if n := attempts.Load(); n != 3 {
		t.Errorf("poison attempted %d times, want 3 (1 + 2 retries)", n)
	}
	if got := fmt.Sprint(rec.all()); got != "[ok1 ok2]" {
		t.Errorf("processed %s", got)
	}
	waitFor(t, 10*time.Second, "checkpoint past the poison event", func() bool { return checkpointSeq(t, hub, "$Default", "0") == 2 })

	hs := hostStorage(t)
	keys, err := eventhubs.ListDeadLetters(tctx(t), hs, th.h.HostID(), fn)
	if err != nil || len(keys) != 1 {
		t.Fatalf("dead letters %v, %v", keys, err)
	}
	// The one layout (issue 21): deadletters/<hostId>/<function>/<time>-<position>.json.
	wantPrefix := fmt.Sprintf("deadletters/%s/%s/", th.h.HostID(), strings.ToLower(fn))
	if !strings.HasPrefix(keys[0], wantPrefix) || !strings.HasSuffix(keys[0], fmt.Sprintf("-p0-%020d-%020d.json", 1, 1)) {
		t.Errorf("dead letter key %s, want %s<time>-p0-…1-…1.json", keys[0], wantPrefix)
	}
	dl, err := eventhubs.ReadDeadLetter(tctx(t), hs, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	md, err := eventhubs.Metadata(dl.Events[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(dl.Events) != 1 || !bytes.Equal(dl.Events[0].Body, poisonBody) || md.SequenceNumber != 1 || dl.Source.Partition != "0" ||
		dl.Function != fn || !strings.Contains(dl.Reason, "cannot digest this") || dl.Source.Entity != hub || dl.Trigger != "eventHubTrigger" ||
		dl.HostID != th.h.HostID() || dl.Connection != "EventHubConn" || *dl.Source.FirstSequence != 1 || *dl.Source.LastSequence != 1 {
		t.Errorf("dead letter %+v", dl)
	}
	if !strings.Contains(th.logs.String(), "level=ERROR") || !strings.Contains(th.logs.String(), "dead_letter="+keys[0]) {
		t.Errorf("no ERROR log naming the dead letter")
	}

	// Replay: the event goes back to partition 0 and is processed now that the handler works.
	healed.Store(true)
	p := producerFor(t, hub)
	n, err := eventhubs.Replay(tctx(t), hs, p, keys[0])
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	waitFor(t, 30*time.Second, "replayed event processed", func() bool { return rec.len() == 3 })
	if got := rec.all()[2]; got != string(poisonBody) {
		t.Errorf("replayed %q", got)
	}
	if keys, _ := eventhubs.ListDeadLetters(tctx(t), hs, "", fn); len(keys) != 0 {
		t.Errorf("dead letter still there after replay: %v", keys)
	}
}

// A failing batch (cardinality many) is dead-lettered whole.
func TestFailingBatchDeadLetteredWhole(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	fn := "PoisonBatch" + fmt.Sprint(hubSeq.Load())
	var mu sync.Mutex
	var okBatches [][]string
	startHost(t, hostOpts{ext: map[string]any{"maxEventBatchSize": 3, "minEventBatchSize": 3, "maxWaitTime": "00:00:05"}}, func(h *extension.Host) error {
		return h.Func(fn, extension.Action(func(ctx context.Context, bodies []string) error {
			for _, b := range bodies {
				if b == "bad" {
					return errors.New("bad batch")
				}
			}
			mu.Lock()
			okBatches = append(okBatches, bodies)
			mu.Unlock()
			return nil
		}), eventhubs.Trigger("bodies", hub, map[string]any{"connection": "EventHubConn", "cardinality": "many"}))
	})
	send(t, hub, "0", "a", "bad", "c", "d", "e", "f")
	waitFor(t, 30*time.Second, "second batch processed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(okBatches) == 1
	})
	hs := hostStorage(t)
	var keys []string
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		keys, _ = eventhubs.ListDeadLetters(tctx(t), hs, "", fn)
		return len(keys) == 1
	})
	dl, err := eventhubs.ReadDeadLetter(tctx(t), hs, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range dl.Events {
		got = append(got, string(e.Body))
	}
	if fmt.Sprint(got) != "[a bad c]" || *dl.Source.FirstSequence != 0 || *dl.Source.LastSequence != 2 {
		t.Errorf("dead-lettered %v (%d-%d)", got, *dl.Source.FirstSequence, *dl.Source.LastSequence)
	}
	waitFor(t, 10*time.Second, "checkpoint at the end", func() bool { return checkpointSeq(t, hub, "$Default", "0") == 5 })
}

// failingStorage fails dead-letter writes while fail is set.
type failingStorage struct {
	driver.HostStorage
	fail  atomic.Bool
	tries atomic.Int32
}

func (f *failingStorage) Put(ctx context.Context, key string, rec driver.Record, cond driver.Cond) (string, error) {
	if strings.HasPrefix(key, driver.DeadLetterPrefix) {
		f.tries.Add(1)
		if f.fail.Load() {
			return "", errors.New("storage unavailable")
		}
	}
	return f.HostStorage.Put(ctx, key, rec, cond)
}

// When the dead-letter location cannot be written, the partition is held: nothing after the
// failed event is invoked or checkpointed until the write succeeds.
func TestDeadLetterWriteFailureHoldsPartition(t *testing.T) {
	t.Parallel()
	hub := newHub(t, 1)
	fs := &failingStorage{HostStorage: hostStorage(t)}
	fs.fail.Store(true)
	rec := &recorder{}
	startHost(t, hostOpts{storage: fs}, func(h *extension.Host) error {
		return h.Func("Hold", extension.Action(func(ctx context.Context, body string) error {
			if body == "bad" {
				return errors.New("no")
			}
			rec.add(body)
			return nil
		}), eventhubs.Trigger("body", hub, map[string]any{"connection": "EventHubConn"}))
	})
	send(t, hub, "0", "ok1", "bad", "ok2")
	waitFor(t, 30*time.Second, "two dead-letter attempts", func() bool { return fs.tries.Load() >= 2 })
	if got := fmt.Sprint(rec.all()); got != "[ok1]" {
		t.Errorf("processed %s while the partition should be held", got)
	}
	if cp := checkpointSeq(t, hub, "$Default", "0"); cp > 0 {
		t.Errorf("checkpoint at %d while the failed event at 1 is not dead-lettered", cp)
	}
	fs.fail.Store(false)
	waitFor(t, 30*time.Second, "partition moves on once the dead letter is written", func() bool { return rec.len() == 2 })
	waitFor(t, 10*time.Second, "checkpoint past it", func() bool { return checkpointSeq(t, hub, "$Default", "0") == 2 })
}
