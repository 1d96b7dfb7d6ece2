package memconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// CheckpointKey is the host-storage key of a partition's checkpoint, laid out as Event Hubs'
// ("<namespace>/<hub>/<consumer group>/checkpoint/<partition>", reference §3.6).
func CheckpointKey(stream, group string, partition int) string {
	return fmt.Sprintf("memory/%s/%s/checkpoint/%d", strings.ToLower(stream), strings.ToLower(group), partition)
}

// A checkpoint records the sequence number of the next event to process, in the metadata
// "sequencenumber" (the last one processed, as Event Hubs writes it) and in the body.
func loadCheckpoint(ctx context.Context, store driver.HostStorage, key string) (int64, error) {
	rec, err := store.Get(ctx, key)
	if errors.Is(err, driver.ErrNotFound) {
		return 0, nil // no checkpoint yet: from the start
	}
	if err != nil {
		return 0, err
	}
	next, err := strconv.ParseInt(string(rec.Data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", key, err)
	}
	return next, nil
}

// DeadLetterPrefix is where the stream trigger keeps the batches that failed after the retry
// policy, one record per batch: "memory/<stream>/<group>/deadletters/<partition>/<first seq>".
func DeadLetterPrefix(stream, group string) string {
	return fmt.Sprintf("memory/%s/%s/deadletters/", strings.ToLower(stream), strings.ToLower(group))
}

// DeadLetters returns the events of every dead-lettered batch of stream, in key order.
func DeadLetters(ctx context.Context, store driver.HostStorage, stream, group string) ([][]byte, error) {
	keys, err := store.List(ctx, DeadLetterPrefix(stream, group))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, k := range keys {
		rec, err := store.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		var bodies [][]byte
		if err := json.Unmarshal(rec.Data, &bodies); err != nil {
			return nil, fmt.Errorf("dead letter %s: %w", k, err)
		}
		out = append(out, bodies...)
	}
	return out, nil
}

func saveCheckpoint(ctx context.Context, store driver.HostStorage, key string, next int64) error {
	_, err := store.Put(ctx, key, driver.Record{Data: strconv.AppendInt(nil, next, 10),
		Metadata: map[string]string{"sequencenumber": strconv.FormatInt(next-1, 10)}}, driver.Cond{})
	return err
}

// memStreamTrigger: {"type": "memStreamTrigger", "stream": "<name>", "consumerGroup": "$Default",
// "cardinality": "one"|"many"}. One host per consumer group: there is no partition ownership.

type streamConfig struct {
	Stream        string `binding:"stream,required"`
	ConsumerGroup string `binding:"consumerGroup"`
}

type streamTrigger struct {
	s     *Stream
	group string
	store driver.HostStorage
	opts  *Options
	many  bool
	log   *slog.Logger
}

func newStreamTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg streamConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.ConsumerGroup == "" {
		cfg.ConsumerGroup = "$Default"
	}
	opts, err := optionsFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	cl, err := clientFor(ctx, bc)
	if err != nil {
		return nil, err
	}
	// Checkpoints must survive a restart: refuse memory storage the host fell back to.
	store, err := bc.Host.DurableStorage("memStreamTrigger checkpoints")
	if err != nil {
		return nil, err
	}
	return &streamTrigger{s: cl.b.Stream(cfg.Stream), group: cfg.ConsumerGroup, store: store, opts: opts,
		many: bc.Spec.Many(), log: bc.Host.Logger}, nil
}

// BindingData implements driver.BindingDataContract.
func (t *streamTrigger) BindingData() []string {
	return []string{"PartitionId", "SequenceNumber", "PartitionKey", "*"}
}

type streamMeta struct {
	partition int
	seq       int64
	key       string
}

func (md streamMeta) Lookup(name string) (any, bool) {
	switch strings.ToLower(name) {
	case "partitionid":
		return strconv.Itoa(md.partition), true
	case "sequencenumber":
		return md.seq, true
	case "partitionkey":
		return md.key, true
	}
	return nil, false
}

// Run implements driver.Trigger: one reader per partition, each resuming from its checkpoint.
func (t *streamTrigger) Run(ctx context.Context, exec driver.Executor) error {
	errs := make([]error, len(t.s.parts))
	var wg sync.WaitGroup
	for p := range t.s.parts {
		wg.Go(func() { errs[p] = t.runPartition(ctx, exec, p) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runPartition delivers one partition's events in order, one event (or batch) at a time, and
// checkpoints after each — except after a cancellation at shutdown, which leaves the batch to the
// next host. A batch that failed after the retry policy is not redelivered (retry policies are
// the way to run it again) and not dropped either: it is written whole to host storage as a dead
// letter, and logged at ERROR, before the checkpoint moves past it; while that write fails the
// partition holds.
func (t *streamTrigger) runPartition(ctx context.Context, exec driver.Executor, p int) error {
	key := CheckpointKey(t.s.name, t.group, p)
	next, err := loadCheckpoint(ctx, t.store, key)
	if err != nil {
		return fmt.Errorf("memStreamTrigger %s partition %d: %w", t.s.name, p, err)
	}
	n := 1
	if t.many {
		n = t.opts.batchSize()
	}
	for {
		evs, grown := t.s.read(p, next, n)
		if len(evs) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-grown:
				continue
			}
		}
		if ctx.Err() != nil { // never deliver after stop
			return nil
		}
		ev := &driver.Event{ID: fmt.Sprintf("%d/%d", p, next), Metadata: streamMeta{p, next, evs[0].key}}
		if t.many {
			for _, e := range evs {
				ev.Batch = append(ev.Batch, e.body)
			}
		} else {
			ev.Data = evs[0].body
		}
		res := exec.Execute(ctx, ev)
		if res.Status == driver.Cancelled {
			return nil
		}
		if res.Status == driver.Failed && !t.deadLetter(ctx, p, next, evs, res.Err) {
			return nil // stopped while the dead letter could not be written: not checkpointed
		}
		next += int64(len(evs))
		// The write must land even when the host is stopping: the batch has been processed.
		if err := saveCheckpoint(context.WithoutCancel(ctx), t.store, key, next); err != nil {
			t.log.Error("memStreamTrigger: checkpoint failed; the batch will be delivered again after a restart",
				slog.String("stream", t.s.name), slog.Int("partition", p), slog.String("error", err.Error()))
		}
	}
}

// deadLetter writes a failed batch to host storage, retrying until it is written or the trigger
// stops (false: not written, so the caller must not checkpoint past it).
func (t *streamTrigger) deadLetter(ctx context.Context, p int, first int64, evs []streamEvent, cause error) bool {
	bodies := make([][]byte, len(evs))
	for i, e := range evs {
		bodies[i] = e.body
	}
	data, _ := json.Marshal(bodies)
	key := fmt.Sprintf("%s%d/%020d", DeadLetterPrefix(t.s.name, t.group), p, first)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, err := t.store.Put(context.WithoutCancel(ctx), key, driver.Record{Data: data}, driver.Cond{})
		if err == nil {
			t.log.Error("memStreamTrigger: batch failed after the retry policy; dead-lettered, the partition moves on",
				slog.String("stream", t.s.name), slog.Int("partition", p), slog.String("dead_letter", key),
				slog.Int("events", len(evs)), slog.Any("error", cause))
			return true
		}
		t.log.Error("memStreamTrigger: cannot write a dead letter; holding the partition",
			slog.String("stream", t.s.name), slog.Int("partition", p), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}
