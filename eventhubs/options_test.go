package eventhubs

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/azbind/azbind/extension/driver"
)

func decode(t *testing.T, raw map[string]any) (Options, error) {
	t.Helper()
	return decodeOptions(&driver.BindContext{Config: raw, Spec: &driver.BindingSpec{Type: "eventHubTrigger"}})
}

func TestOptionsDefaults(t *testing.T) {
	o, err := decode(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.MaxEventBatchSize != 100 || o.MinEventBatchSize != 1 || o.MaxWaitTime != time.Minute || o.BatchCheckpointFrequency != 1 ||
		o.PrefetchCount != 300 || o.prefetch() != 300 || o.PartitionOwnershipExpirationInterval != 30*time.Second ||
		o.LoadBalancingUpdateInterval != 10*time.Second || o.LoadBalancingStrategy != "greedy" || o.target() != 100 {
		t.Errorf("defaults %+v", o)
	}
	if sp := o.startPosition(); sp.Earliest == nil || !*sp.Earliest {
		t.Errorf("default start %+v, want earliest (fromStart)", sp)
	}
	if o.retry != (azeventhubs.RetryOptions{}) {
		t.Errorf("retry %+v, want SDK defaults", o.retry)
	}
}

func TestOptionsMapping(t *testing.T) {
	o, err := decode(t, map[string]any{"prefetchCount": float64(0), "targetUnprocessedEventThreshold": float64(7), "maxWaitTime": "00:00:05",
		"clientRetryOptions":   map[string]any{"mode": "fixed", "delay": "00:00:02", "maximumRetries": float64(0)},
		"initialOffsetOptions": map[string]any{"type": "FromEnqueuedTime", "enqueuedTimeUtc": "2026-01-31T12:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	if o.prefetch() != -1 || o.target() != 7 || o.MaxWaitTime != 5*time.Second {
		t.Errorf("mapped %+v", o)
	}
	if o.retry.MaxRetries != -1 || o.retry.RetryDelay != 2*time.Second || o.retry.MaxRetryDelay != 2*time.Second {
		t.Errorf("retry %+v", o.retry)
	}
	sp := o.startPosition()
	if sp.EnqueuedTime == nil || !sp.EnqueuedTime.Equal(time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)) || !sp.Inclusive {
		t.Errorf("start %+v", sp)
	}
	o, _ = decode(t, map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnd"}})
	if sp := o.startPosition(); sp.Latest == nil || !*sp.Latest {
		t.Errorf("fromEnd start %+v", sp)
	}
	if _, err := decode(t, map[string]any{"prefetchCount": float64(-1)}); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("negative prefetch: %v", err)
	}
	if _, err := decode(t, map[string]any{"loadBalancingStrategy": "random"}); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("strategy: %v", err)
	}
}

func TestUnprocessed(t *testing.T) {
	pp := azeventhubs.PartitionProperties{BeginningSequenceNumber: 10, LastEnqueuedSequenceNumber: 19}
	if n := unprocessed(pp, azeventhubs.Checkpoint{}); n != 10 {
		t.Errorf("no checkpoint: %d", n)
	}
	if n := unprocessed(pp, azeventhubs.Checkpoint{SequenceNumber: to.Ptr(int64(15))}); n != 4 {
		t.Errorf("checkpoint at 15: %d", n)
	}
	if n := unprocessed(pp, azeventhubs.Checkpoint{SequenceNumber: to.Ptr(int64(25))}); n != 0 {
		t.Errorf("checkpoint beyond (hub recreated): %d", n)
	}
	if n := unprocessed(azeventhubs.PartitionProperties{IsEmpty: true}, azeventhubs.Checkpoint{}); n != 0 {
		t.Errorf("empty: %d", n)
	}
}

func TestDeadLetterIDSortsByPosition(t *testing.T) {
	a, b := deadLetterID("3", 9, 10), deadLetterID("3", 100, 120)
	if a != "p3-00000000000000000009-00000000000000000010" || a >= b {
		t.Errorf("ids %s, %s", a, b)
	}
}

// enqueuedTimeUtc is parsed as DateTimeOffset.Parse does: the cases of
// CanParseInitialOffsetFromConfig_EnqueuedTime and ParseInitialOffsetWithInvalidTime_Throws…
// (azure-sdk-for-net sdk/eventhub/Microsoft.Azure.WebJobs.Extensions.EventHubs/tests/
// EventHubConfigurationTests.cs), and other forms .NET accepts.
func TestEnqueuedTimeUTCDotNetForms(t *testing.T) {
	noon := time.Date(2020, 9, 13, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2020-09-13T12:00Z":         noon, // ported
		"2020-09-13 12:00:00Z":      noon, // ported
		"2020-09-13T12:00:00.000Z":  noon,
		"2020-09-13T14:00:00+02:00": noon,
		"2020-09-13T14:00+0200":     noon,
		"2020-09-13T12:00:00":       noon,
		"2020-09-13":                noon.Add(-12 * time.Hour),
		"9/13/2020 12:00:00 PM":     noon,
		"09/13/2020 12:00":          noon,
		" 2020-09-13T12:00:00.5Z ":  noon.Add(500 * time.Millisecond),
	} {
		o, err := decode(t, map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnqueuedTime", "enqueuedTimeUtc": in}})
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if sp := o.startPosition(); sp.EnqueuedTime == nil || !sp.EnqueuedTime.Equal(want) {
			t.Errorf("%q: start %v, want %v", in, sp.EnqueuedTime, want)
		}
	}
	for _, in := range []string{"not a valid time", "2020-13-13T12:00Z", "12:00"} { // ported: not a valid time
		if _, err := decode(t, map[string]any{"initialOffsetOptions": map[string]any{"type": "fromEnqueuedTime", "enqueuedTimeUtc": in}}); !errors.Is(err, driver.ErrInvalidConfig) {
			t.Errorf("%q: %v, want a configuration error", in, err)
		}
	}
}

// TriggerPartitionContext is binding data (the v5 extension's EventHubTriggerBindingStrategy
// adds it beside PartitionContext), for single events and batches.
func TestTriggerPartitionContextBindingData(t *testing.T) {
	pc := &PartitionContext{EventHubName: "hub", PartitionID: "3"}
	if !slices.Contains((&trigger{}).BindingData(), "TriggerPartitionContext") {
		t.Error("TriggerPartitionContext is not in the binding data contract")
	}
	e := &azeventhubs.ReceivedEventData{}
	for _, md := range []driver.Metadata{singleMetadata(pc, e), batchMetadata{pc: pc, evs: []*azeventhubs.ReceivedEventData{e}}} {
		if v, ok := md.Lookup("TriggerPartitionContext"); !ok || v != pc {
			t.Errorf("%T: TriggerPartitionContext = %v, %v", md, v, ok)
		}
	}
}

// An idle host rewrites its ownership blobs about every other load-balancing round instead of
// every round (issue 24: 24 ownership writes a minute for one idle function), never so late that
// the ownership could expire before the next round.
func TestRenewDue(t *testing.T) {
	interval, expiry := 10*time.Second, 30*time.Second
	for age, want := range map[time.Duration]bool{0: false, 8 * time.Second: false, 19 * time.Second: false, 20 * time.Second: true, 25 * time.Second: true} {
		if got := renewDue(age, interval, expiry); got != want {
			t.Errorf("age %v: renew %v, want %v", age, got, want)
		}
	}
	// Skipped at age a, the next round comes at most 1.3 rounds later: still fresh then, with a
	// sixth of the expiry to spare.
	for _, c := range []struct{ interval, expiry time.Duration }{{10 * time.Second, 30 * time.Second}, {500 * time.Millisecond, 3 * time.Second}, {20 * time.Second, 30 * time.Second}} {
		for age := time.Duration(0); age < c.expiry; age += 100 * time.Millisecond {
			if !renewDue(age, c.interval, c.expiry) && age+processorRound(c.interval)*13/10+c.expiry/6 >= c.expiry {
				t.Errorf("%+v: skipping at age %v lets the ownership expire before the next round", c, age)
			}
		}
	}
}

// The Processor's rounds come every quarter second, but the ownership blobs are listed again only when the
// kept listing is an interval old, shows a partition nobody owns, or another owner's ownership past
// its expiry; a refused claim drops the kept listing.
func TestOwnershipListingKept(t *testing.T) {
	if r := processorRound(10 * time.Second); r != 250*time.Millisecond {
		t.Errorf("round for 10 s = %v", r)
	}
	if r := processorRound(200 * time.Millisecond); r != 200*time.Millisecond {
		t.Errorf("round for 0.2 s = %v", r)
	}
	key := [3]string{"ns", "hub", "$default"}
	now := time.Now()
	own := func(pid, owner string, age time.Duration) azeventhubs.Ownership {
		return azeventhubs.Ownership{FullyQualifiedNamespace: "ns", EventHubName: "hub", ConsumerGroup: "$default", PartitionID: pid, OwnerID: owner, LastModifiedTime: now.Add(-age)}
	}
	s := &store{ownerID: "me", interval: 10 * time.Second, expiry: 30 * time.Second, others: map[string]string{}, mine: map[string]azeventhubs.Ownership{}}
	set := func(listedAge time.Duration, owns ...azeventhubs.Ownership) {
		s.listed, s.listKey, s.listedAt = owns, key, now.Add(-listedAge)
	}
	for _, c := range []struct {
		what   string
		age    time.Duration
		owns   []azeventhubs.Ownership
		key    [3]string
		reused bool
	}{
		{"fresh listing", time.Second, []azeventhubs.Ownership{own("0", "me", 20*time.Second), own("1", "other", 29*time.Second)}, key, true},
		{"an interval old", 10 * time.Second, []azeventhubs.Ownership{own("0", "me", time.Second)}, key, false},
		{"another group", time.Second, []azeventhubs.Ownership{own("0", "me", time.Second)}, [3]string{"ns", "hub", "g2"}, false},
		{"unowned partition", time.Second, []azeventhubs.Ownership{own("0", "", time.Second)}, key, false},
		{"foreign ownership expired", time.Second, []azeventhubs.Ownership{own("0", "other", 31*time.Second)}, key, false},
		{"own ownership old", time.Second, []azeventhubs.Ownership{own("0", "me", 31*time.Second)}, key, true},
	} {
		set(c.age, c.owns...)
		if _, ok := s.cachedListing(c.key); ok != c.reused {
			t.Errorf("%s: listing kept = %v, want %v", c.what, ok, c.reused)
		}
	}
	set(time.Second, own("0", "other", 29*time.Second), own("1", "me", time.Second))
	claimed := own("0", "me", 0)
	s.claimedInListing([]azeventhubs.Ownership{claimed}, []azeventhubs.Ownership{claimed})
	got, ok := s.cachedListing(key)
	if !ok || len(got) != 2 || got[0].OwnerID != "me" {
		t.Errorf("after a claim: %v %+v", ok, got)
	}
	s.claimedInListing([]azeventhubs.Ownership{own("1", "me", 0)}, nil)
	if _, ok := s.cachedListing(key); ok {
		t.Error("a refused claim kept the listing")
	}
}
