// Command eventhubs benchmarks the eventHubTrigger against a hand-written azeventhubs partition
// loop on the same workload, on the amqp-peer with checkpoints on Azurite, the legs interleaved.
//
//	go run ./bench/eventhubs [-n 20000] [-partitions 4] [-size 64] [-batch 100] [-rounds 3]
//
// It starts Azurite and the amqp-peer, sends n events of size bytes spread over the partitions,
// then measures -rounds times, alternating raw and trigger legs (raw first in odd rounds, the
// trigger first in even ones), each leg reading the same events through its own consumer group:
//
//	(a) raw: one ConsumerClient, one PartitionClient per partition from the earliest event, each
//	    receiving up to batch events at a time (20 ms receive timeout) and writing a checkpoint
//	    (checkpoints.BlobStore) after each batch, as the trigger does with batchCheckpointFrequency 1;
//	(b) the trigger: a `cardinality: many` function with a no-op handler through the real runtime
//	    (extension.NewHost + Func), maxEventBatchSize batch, default settings otherwise (the
//	    greedy Processor claims every partition in its first round; a shorter
//	    loadBalancingUpdateInterval would only add ownership listings to Azurite during the leg).
//
// Each figure is events/second from the first receive to the last event handled. Each round
// prints `round <i>: raw <a> trigger <b> ratio <b/a>`; the last line is `ratio: min <m> median
// <md> total <t>` over the rounds, total being every event of every round over the time each side
// took for them (the run's ratio; a single round of about 2 s swings by ±15 % on 2 shared cores).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/emulator"
)

var (
	n          = flag.Int("n", 20000, "events")
	partitions = flag.Int("partitions", 4, "partitions")
	size       = flag.Int("size", 64, "event body size in bytes")
	batch      = flag.Int("batch", 100, "events per receive / maxEventBatchSize")
	rounds     = flag.Int("rounds", 3, "interleaved rounds of both legs")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/eventhubs:", err)
		os.Exit(1)
	}
}

const hub = "bench"

func run() error {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	var groups []string
	for r := range *rounds {
		groups = append(groups, fmt.Sprintf("raw%d", r), fmt.Sprintf("trigger%d", r))
	}
	peer, err := amqppeer.Launch(&amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: hub, Partitions: *partitions, ConsumerGroups: groups}}})
	if err != nil {
		return err
	}
	defer peer.Stop()
	ctx := context.Background()
	if err := fill(ctx, peer.ConnectionString); err != nil {
		return err
	}
	fmt.Printf("workload: %d events of %d bytes over %d partitions, batch %d, %d interleaved rounds\n", *n, *size, *partitions, *batch, *rounds)
	var ratios []float64
	var rawSecs, trigSecs float64 // time per event summed over the rounds
	for r := range *rounds {
		rawLeg := func() (float64, error) {
			return rawLoop(ctx, peer.ConnectionString, az.ConnectionString, fmt.Sprintf("raw%d", r))
		}
		trigLeg := func() (float64, error) {
			return trigger(ctx, peer.ConnectionString, az.ConnectionString, fmt.Sprintf("trigger%d", r))
		}
		var raw, trig float64
		var err error
		if r%2 == 0 {
			if raw, err = rawLeg(); err == nil {
				trig, err = trigLeg()
			}
		} else {
			if trig, err = trigLeg(); err == nil {
				raw, err = rawLeg()
			}
		}
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		ratios = append(ratios, trig/raw)
		rawSecs, trigSecs = rawSecs+1/raw, trigSecs+1/trig
		fmt.Printf("round %d: raw %.0f events/s, trigger %.0f events/s, ratio %.2f\n", r+1, raw, trig, trig/raw)
	}
	sorted := append([]float64(nil), ratios...)
	sort.Float64s(sorted)
	// The run's ratio: all the events each side read over the time it took for them.
	fmt.Printf("ratio: min %.2f median %.2f total %.2f\n", sorted[0], sorted[len(sorted)/2], rawSecs/trigSecs)
	return nil
}

func fill(ctx context.Context, cs string) error {
	p, err := azeventhubs.NewProducerClientFromConnectionString(cs, hub, nil)
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	body := []byte(strings.Repeat("x", *size))
	per := *n / *partitions
	for pid := range *partitions {
		evs := make([]*azeventhubs.EventData, per)
		for i := range evs {
			evs[i] = &azeventhubs.EventData{Body: body}
		}
		if err := sendAll(ctx, p, fmt.Sprint(pid), evs); err != nil {
			return err
		}
	}
	*n = per * *partitions
	return nil
}

func sendAll(ctx context.Context, p *azeventhubs.ProducerClient, pid string, evs []*azeventhubs.EventData) error {
	for len(evs) > 0 {
		b, err := p.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr(pid)})
		if err != nil {
			return err
		}
		k := 0
		for _, e := range evs {
			if err := b.AddEventData(e, nil); err != nil {
				if errors.Is(err, azeventhubs.ErrEventDataTooLarge) && k > 0 {
					break
				}
				return err
			}
			k++
		}
		if err := p.SendEventDataBatch(ctx, b, nil); err != nil {
			return err
		}
		evs = evs[k:]
	}
	return nil
}

func rawLoop(ctx context.Context, cs, storage, group string) (float64, error) {
	cc, err := container.NewClientFromConnectionString(storage, "bench-"+group, nil)
	if err != nil {
		return 0, err
	}
	if _, err := cc.Create(ctx, nil); err != nil {
		return 0, err
	}
	store, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		return 0, err
	}
	c, err := azeventhubs.NewConsumerClientFromConnectionString(cs, hub, group, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	per := *n / *partitions
	var wg sync.WaitGroup
	errs := make(chan error, *partitions)
	var startNs atomic.Int64
	for pid := range *partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := c.NewPartitionClient(fmt.Sprint(pid), &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
			if err != nil {
				errs <- err
				return
			}
			defer pc.Close(ctx)
			// Open the link before the clock matters (the trigger's Processor does so at claim time).
			first, err := pc.ReceiveEvents(ctx, 1, nil)
			if err != nil {
				errs <- err
				return
			}
			startNs.CompareAndSwap(0, time.Now().UnixNano())
			got := len(first)
			for got < per {
				rctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				evs, err := pc.ReceiveEvents(rctx, min(*batch, per-got), nil)
				cancel()
				if len(evs) == 0 {
					if err != nil && rctx.Err() == nil {
						errs <- err
						return
					}
					continue
				}
				got += len(evs)
				last := evs[len(evs)-1]
				if err := store.SetCheckpoint(ctx, azeventhubs.Checkpoint{FullyQualifiedNamespace: "127.0.0.1", EventHubName: hub, ConsumerGroup: group,
					PartitionID: fmt.Sprint(pid), Offset: &last.Offset, SequenceNumber: &last.SequenceNumber}, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(time.Unix(0, startNs.Load()))
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(*n) / el.Seconds(), nil
}

func trigger(ctx context.Context, cs, storage, group string) (float64, error) {
	var count atomic.Int64
	var first atomic.Int64
	done := make(chan struct{})
	h, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("bench", map[string]string{"AzureWebJobsStorage": storage, "EventHubConn": cs})),
		Logger:     slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"eventHubs": {"maxEventBatchSize": *batch}}},
		HostID:     "bench",
	})
	if err != nil {
		return 0, err
	}
	err = h.Func("Bench", extension.Action(func(ctx context.Context, bodies [][]byte) error {
		first.CompareAndSwap(0, time.Now().UnixNano())
		if count.Add(int64(len(bodies))) == int64(*n) {
			close(done)
		}
		return nil
	}), eventhubs.Trigger("bodies", hub, map[string]any{"connection": "EventHubConn", "consumerGroup": group, "cardinality": "many"}))
	if err != nil {
		return 0, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- h.Run(runCtx) }()
	defer func() { cancel(); <-runErr }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("only %d of %d events after 5 minutes", count.Load(), *n)
	case err := <-runErr:
		return 0, fmt.Errorf("host stopped: %v", err)
	}
	el := time.Since(time.Unix(0, first.Load()))
	return float64(*n) / el.Seconds(), nil
}
