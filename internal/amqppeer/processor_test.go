package amqppeer_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/emulator"
)

// processed records which processor handled which event.
type processed struct {
	mu     sync.Mutex
	events map[string][]string // body -> processor ids that handled it
}

func (p *processed) add(owner, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events[body] = append(p.events[body], owner)
}

// check returns "" when exactly the bodies in want were each handled once (by any processor).
func (p *processed) check(want []string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range want {
		if n := len(p.events[b]); n != 1 {
			return fmt.Sprintf("event %s handled %d times (%v)", b, n, p.events[b])
		}
	}
	if len(p.events) != len(want) {
		return fmt.Sprintf("handled %d distinct events, want %d", len(p.events), len(want))
	}
	return ""
}

func (p *processed) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = map[string][]string{}
}

// runProcessor runs a Processor with id on the hub until stop is called; every event is recorded
// and checkpointed.
func runProcessor(t *testing.T, id, hub string, store azeventhubs.CheckpointStore, rec *processed) (stop func()) {
	t.Helper()
	cc, err := azeventhubs.NewConsumerClientFromConnectionString(peer.ConnectionString, hub, azeventhubs.DefaultConsumerGroup,
		&azeventhubs.ConsumerClientOptions{InstanceID: id})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := azeventhubs.NewProcessor(cc, store, &azeventhubs.ProcessorOptions{
		LoadBalancingStrategy:       azeventhubs.ProcessorStrategyBalanced,
		UpdateInterval:              250 * time.Millisecond,
		PartitionExpirationDuration: 5 * time.Second,
		StartPositions:              azeventhubs.StartPositions{Default: azeventhubs.StartPosition{Earliest: to.Ptr(true)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := proc.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor %s: Run: %v", id, err)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			ppc := proc.NextPartitionClient(runCtx)
			if ppc == nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer ppc.Close(context.Background())
				for runCtx.Err() == nil {
					rctx, rcancel := context.WithTimeout(runCtx, 200*time.Millisecond)
					evs, err := ppc.ReceiveEvents(rctx, 50, nil)
					rcancel()
					for _, e := range evs {
						rec.add(id, string(e.Body))
					}
					if len(evs) > 0 {
						if cerr := ppc.UpdateCheckpoint(runCtx, evs[len(evs)-1], nil); cerr != nil && runCtx.Err() == nil {
							t.Errorf("processor %s: checkpoint partition %s: %v", id, ppc.PartitionID(), cerr)
						}
					}
					var ehErr *azeventhubs.Error
					if errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeOwnershipLost {
						return // another processor took the partition
					}
				}
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			_ = cc.Close(context.Background())
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestEHProcessorWithBlobCheckpointsOnAzurite(t *testing.T) {
	t.Parallel()
	hub := name(t)
	create(t, amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: 4}}})
	az := emulator.StartAzurite(t, nil)
	cont, err := container.NewClientFromConnectionString(az.ConnectionString, "checkpoints", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cont.Create(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoints.NewBlobStore(cont, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := fmt.Sprintf("127.0.0.1:%d", peer.Port)
	owners := func() map[string][]string {
		os, err := store.ListOwnership(ctx(t), ns, hub, azeventhubs.DefaultConsumerGroup, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]string{}
		for _, o := range os {
			if o.OwnerID != "" {
				m[o.OwnerID] = append(m[o.OwnerID], o.PartitionID)
			}
		}
		return m
	}

	p := ehProducer(t, hub)
	sendRound := func(round string) []string {
		var bodies []string
		for _, pid := range []string{"0", "1", "2", "3"} {
			var bs []string
			for i := range 3 {
				bs = append(bs, fmt.Sprintf("%s-p%s-%d", round, pid, i))
			}
			sendEvents(t, p, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(pid)}, bs...)
			bodies = append(bodies, bs...)
		}
		return bodies
	}
	rec := &processed{events: map[string][]string{}}

	// One processor takes all four partitions and handles every event once.
	round1 := sendRound("r1")
	stopA := runProcessor(t, "proc-a", hub, store, rec)
	eventually(t, 20*time.Second, func() string {
		if o := owners(); len(o["proc-a"]) != 4 {
			return fmt.Sprintf("ownership %v, want proc-a owning 4", o)
		}
		return rec.check(round1)
	})

	// A second processor joins: the partitions end up split 2/2.
	stopB := runProcessor(t, "proc-b", hub, store, rec)
	eventually(t, 20*time.Second, func() string {
		o := owners()
		if len(o["proc-a"]) != 2 || len(o["proc-b"]) != 2 {
			return fmt.Sprintf("ownership %v, want 2/2", o)
		}
		return ""
	})
	// Absence check, in a bounded window: for a second after the split (four balancing rounds,
	// the loser's link detached as stolen) the ownership must not move again.
	time.Sleep(time.Second)
	final := owners()
	if len(final["proc-a"]) != 2 || len(final["proc-b"]) != 2 {
		t.Fatalf("ownership did not stay balanced: %v", final)
	}
	rec.reset()
	round2 := sendRound("r2")
	eventually(t, 20*time.Second, func() string { return rec.check(round2) })
	// Each event went to the processor that owns its partition.
	rec.mu.Lock()
	for body, by := range rec.events {
		var pid string
		fmt.Sscanf(body[len("r2-p"):], "%1s", &pid)
		owner := ""
		for o, ps := range final {
			for _, x := range ps {
				if x == pid {
					owner = o
				}
			}
		}
		if by[0] != owner {
			t.Errorf("event %s handled by %s, partition %s is owned by %s", body, by[0], pid, owner)
		}
	}
	rec.mu.Unlock()

	// A processor records its events before it checkpoints them: poll the checkpoints (reading
	// them once raced the processor's UpdateCheckpoint on a busy machine).
	eventually(t, 20*time.Second, func() string {
		cps, err := store.ListCheckpoints(ctx(t), ns, hub, azeventhubs.DefaultConsumerGroup, nil)
		if err != nil {
			return err.Error()
		}
		var seqs []string
		for _, cp := range cps {
			if cp.SequenceNumber != nil {
				seqs = append(seqs, fmt.Sprintf("%s:%d", cp.PartitionID, *cp.SequenceNumber))
			}
		}
		sort.Strings(seqs)
		if fmt.Sprint(seqs) != "[0:5 1:5 2:5 3:5]" {
			return fmt.Sprintf("checkpoints %v, want sequence number 5 on every partition", seqs)
		}
		return ""
	})

	// Restart: both stop, events arrive meanwhile, a new processor resumes from the checkpoints.
	stopA()
	stopB()
	rec.reset()
	round3 := sendRound("r3")
	runProcessor(t, "proc-c", hub, store, rec)
	eventually(t, 20*time.Second, func() string {
		if o := owners(); len(o["proc-c"]) != 4 {
			return fmt.Sprintf("ownership %v, want proc-c owning 4", o)
		}
		return rec.check(round3)
	})
}
