package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// recordingFunc declares fn on h: a cosmosDBTrigger on e's items whose handler records each
// batch under host.
func recordingFunc(t testing.TB, h *extension.Host, e *env, fn, host string, rec *recorder, props map[string]any) {
	t.Helper()
	err := h.Func(fn, extension.Action(func(ctx context.Context, batch []testDoc) error {
		rec.add(host, batch)
		return nil
	}), Trigger("docs", e.db, "items", props))
	if err != nil {
		t.Fatal(err)
	}
}

// Changes arrive in batches of at most maxItemsPerInvocation, each once, in order per partition
// key (an update is a later change of its document); the leases have the change-feed processor's
// layout, and each holds the continuation of its last batch.
func TestTriggerDelivery(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder()
	h := newHost(t, hostOpts{})
	recordingFunc(t, h, e, "Watch", "h1", rec, fast(map[string]any{"maxItemsPerInvocation": 5}))
	run(t, h)
	eventually(t, "4 leases owned", func() bool {
		ls := e.leaseDocs()
		for _, l := range ls {
			if l.Owner == "" {
				return false
			}
		}
		return len(ls) == 4
	})
	all := docs(0, 40)
	e.write(all...)
	upd := []testDoc{{ID: "d001", PK: "p1", N: 101}, {ID: "d009", PK: "p1", N: 109}}
	e.write(upd...)
	// The feed has the latest version of a document: d001:1 and d009:9 are delivered only if they
	// were read before their update.
	var want []testDoc
	for _, d := range all {
		if d.ID != "d001" && d.ID != "d009" {
			want = append(want, d)
		}
	}
	eventually(t, "all changes", func() bool { return rec.has(keys(upd)...) && rec.has(keys(want)...) })

	rec.mu.Lock()
	for _, n := range rec.batches {
		if n > 5 || n == 0 {
			t.Errorf("batch of %d documents, want 1..5", n)
		}
	}
	for pk, ns := range rec.perPK {
		for i := 1; i < len(ns); i++ {
			if ns[i] <= ns[i-1] {
				t.Errorf("partition %s delivered out of order: %v", pk, ns)
				break
			}
		}
	}
	for k, n := range rec.seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	rec.mu.Unlock()

	ls := e.leaseDocs()
	tokens := map[string]bool{}
	for _, l := range ls {
		if l.Version != 1 || l.FeedRange == nil || l.LeaseToken != l.FeedRange.Range.Min+"-"+l.FeedRange.Range.Max ||
			!strings.HasSuffix(l.ID, ".."+l.LeaseToken) || !strings.Contains(l.ID, "127.0.0.1_") || l.Owner == "" || l.ContinuationToken == "" {
			t.Errorf("lease document %+v", l)
		}
		tokens[l.LeaseToken] = true
	}
	if len(tokens) != 4 || !tokens["-40"] || !tokens["C0-FF"] {
		t.Errorf("lease tokens %v", tokens)
	}
}

// A handler may take []json.RawMessage, []map[string]any, or (cardinality many) the element type.
func TestTriggerParameterTypes(t *testing.T) {
	e := newEnv(t)
	h := newHost(t, hostOpts{})
	raw := make(chan json.RawMessage, 10)
	maps := make(chan map[string]any, 10)
	many := make(chan testDoc, 10)
	begin := fast(map[string]any{"startFromBeginning": true})
	with := func(prefix string) map[string]any {
		m := fast(begin)
		m["leaseContainerPrefix"] = prefix
		return m
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Func("Raw", extension.Action(func(ctx context.Context, b []json.RawMessage) error {
		for _, d := range b {
			raw <- d
		}
		return nil
	}), Trigger("docs", e.db, "items", with("raw"))))
	must(h.Func("Maps", extension.Action(func(ctx context.Context, b []map[string]any) error {
		for _, d := range b {
			maps <- d
		}
		return nil
	}), Trigger("docs", e.db, "items", with("maps"))))
	m := with("many")
	m["cardinality"] = "many"
	must(h.Func("Many", extension.Action(func(ctx context.Context, b []testDoc) error {
		for _, d := range b {
			many <- d
		}
		return nil
	}), Trigger("docs", e.db, "items", m)))
	e.write(testDoc{ID: "only", PK: "p", N: 7})
	run(t, h)
	select {
	case d := <-raw:
		var td testDoc
		if err := json.Unmarshal(d, &td); err != nil || td.ID != "only" || !strings.Contains(string(d), `"_lsn"`) {
			t.Errorf("raw document %s", d)
		}
	case <-time.After(waitLong):
		t.Fatal("no raw batch")
	}
	select {
	case d := <-maps:
		if d["id"] != "only" || d["n"] != float64(7) {
			t.Errorf("map document %v", d)
		}
	case <-time.After(waitLong):
		t.Fatal("no map batch")
	}
	select {
	case d := <-many:
		if d.ID != "only" || d.N != 7 {
			t.Errorf("cardinality many document %+v", d)
		}
	case <-time.After(waitLong):
		t.Fatal("no cardinality-many batch")
	}
}

// Start options apply when the leases are created: startFromBeginning sees everything,
// startFromTime what was written from then, the default only what was written after the start.
// Three functions share the lease container through leaseContainerPrefix.
func TestTriggerStartOptions(t *testing.T) {
	e := newEnv(t)
	a := testDoc{ID: "a", PK: "p1", N: 1}
	e.write(a)
	aTS := e.ts(a)
	from := time.Unix(aTS+1, 0).UTC()
	eventually(t, "the clock to pass the document's second", func() bool { return time.Now().After(from.Add(50 * time.Millisecond)) })
	b := testDoc{ID: "b", PK: "p2", N: 2}
	e.write(b)
	if e.ts(b) < from.Unix() {
		t.Fatalf("b written at %d, before %v", e.ts(b), from)
	}
	begin, tm, now := newRecorder(), newRecorder(), newRecorder()
	h := newHost(t, hostOpts{})
	recordingFunc(t, h, e, "Begin", "h", begin, fast(map[string]any{"startFromBeginning": true, "leaseContainerPrefix": "begin"}))
	recordingFunc(t, h, e, "Time", "h", tm, fast(map[string]any{"startFromTime": from.Format(time.RFC3339), "leaseContainerPrefix": "time"}))
	recordingFunc(t, h, e, "Now", "h", now, fast(map[string]any{"leaseContainerPrefix": "now"}))
	run(t, h)
	eventually(t, "12 leases", func() bool { return len(e.leaseDocs()) == 12 })
	c := testDoc{ID: "c", PK: "p3", N: 3}
	e.write(c)
	eventually(t, "all deliveries", func() bool { return begin.count() == 3 && tm.count() == 2 && now.count() == 1 })
	begin.exactlyOnce(t, []testDoc{a, b, c})
	tm.exactlyOnce(t, []testDoc{b, c})
	now.exactlyOnce(t, []testDoc{c})
	byPrefix := map[string]int{}
	for _, l := range e.leaseDocs() {
		for _, p := range []string{"begin", "time", "now"} {
			if strings.HasPrefix(l.ID, p+"127.0.0.1_") {
				byPrefix[p]++
			}
		}
	}
	if byPrefix["begin"] != 4 || byPrefix["time"] != 4 || byPrefix["now"] != 4 {
		t.Errorf("leases per prefix %v", byPrefix)
	}
}

func (e *env) ts(d testDoc) int64 {
	e.t.Helper()
	resp, err := e.items.ReadItem(context.Background(), pkOf(d.PK), d.ID, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var v struct {
		TS int64 `json:"_ts"`
	}
	_ = json.Unmarshal(resp.Value, &v)
	return v.TS
}

// Two hosts split the leases between them, and while both live each change is processed once.
func TestTriggerTwoHostsShareLeases(t *testing.T) {
	e := newEnv(t)
	rec := newRecorder()
	h1, h2 := newHost(t, hostOpts{id: "host1"}), newHost(t, hostOpts{id: "host2"})
	recordingFunc(t, h1, e, "Watch", "host1", rec, fast())
	recordingFunc(t, h2, e, "Watch", "host2", rec, fast())
	run(t, h1)
	eventually(t, "host1 owns the 4 leases", func() bool { return ownersOf(e.leaseDocs())["host1"] == 4 })
	run(t, h2)
	eventually(t, "the leases split 2/2", func() bool {
		o := ownersOf(e.leaseDocs())
		return o["host1"] == 2 && o["host2"] == 2
	})
	want := docs(0, 60)
	e.write(want...)
	eventually(t, "60 documents", func() bool { return rec.count() == 60 })
	rec.exactlyOnce(t, want)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.byHost["host1"] == 0 || rec.byHost["host2"] == 0 {
		t.Errorf("documents per host %v, want both to process some", rec.byHost)
	}
}

// ownersOf counts live owners by host id (owners are bare GUIDs, the host id is in the lease's
// properties).
func ownersOf(ls []*leaseDoc) map[string]int {
	out := map[string]int{}
	for _, l := range ls {
		if l.Owner == "" {
			continue
		}
		if uuid.Validate(l.Owner) != nil {
			panic("lease owner " + l.Owner + " is not a GUID")
		}
		out[l.Properties[propHostID]]++
	}
	return out
}

// A stopped host releases its leases with their continuations; the next host (even one asking
// for startFromBeginning, which no longer applies) resumes where it stopped.
func TestTriggerRestartResumes(t *testing.T) {
	e := newEnv(t)
	first, second := newRecorder(), newRecorder()
	h1 := newHost(t, hostOpts{id: "first"})
	recordingFunc(t, h1, e, "Watch", "first", first, fast(map[string]any{"startFromBeginning": true}))
	before := docs(0, 20)
	e.write(before...)
	stop := run(t, h1)
	eventually(t, "20 documents", func() bool { return first.count() == 20 })
	stop()
	first.exactlyOnce(t, before)
	// Every lease is released; those whose worker read its range before the stop keep their
	// position (on a busy machine a lease acquired just before the stop may not have been read:
	// it has no position yet, and the next host reads its range from the start, which still
	// holds nothing of before's documents it has not seen — exactlyOnce below proves it).
	withPos := 0
	for _, l := range e.leaseDocs() {
		if l.Owner != "" {
			t.Errorf("lease after stop: owner %q, want released", l.Owner)
		}
		if l.ContinuationToken != "" {
			withPos++
		}
	}
	if withPos == 0 {
		t.Error("no lease kept a continuation after the stop")
	}
	after := docs(20, 15)
	e.write(after...)
	h2 := newHost(t, hostOpts{id: "second"})
	recordingFunc(t, h2, e, "Watch", "second", second, fast(map[string]any{"startFromBeginning": true}))
	run(t, h2)
	eventually(t, "15 documents", func() bool { return second.count() >= 15 })
	second.exactlyOnce(t, after)
}

// A batch that still fails after the retry policy goes to host storage with its documents and
// the error, logged at ERROR; the lease moves on and later changes are delivered.
func TestTriggerDeadLetter(t *testing.T) {
	e := newEnv(t)
	store := extension.NewMemoryStorage()
	logs := &logCapture{}
	h := newHost(t, hostOpts{storage: store, logger: slog.New(logs), cfg: &extension.HostConfig{Version: "2.0",
		Retry: &extension.RetryPolicy{Strategy: extension.FixedDelay, MaxRetryCount: 1, DelayInterval: 10 * time.Millisecond}}})
	rec := newRecorder()
	attempts := make(chan struct{}, 10)
	var healed atomic.Bool
	err := h.Func("Poisoned", extension.Action(func(ctx context.Context, batch []testDoc) error {
		for _, d := range batch {
			if d.ID == "poison" && !healed.Load() {
				attempts <- struct{}{}
				return errors.New("cannot digest poison")
			}
		}
		rec.add("h", batch)
		return nil
	}), Trigger("docs", e.db, "items", fast(map[string]any{"maxItemsPerInvocation": 1, "startFromBeginning": true})))
	if err != nil {
		t.Fatal(err)
	}
	poison := testDoc{ID: "poison", PK: "p1", N: 0}
	e.write(poison)
	after := []testDoc{{ID: "next1", PK: "p1", N: 1}, {ID: "next2", PK: "p1", N: 2}}
	e.write(after...)
	run(t, h)
	eventually(t, "the later documents", func() bool { return rec.count() == 2 })
	rec.exactlyOnce(t, after)
	if n := len(attempts); n != 2 {
		t.Errorf("poison batch attempted %d times, want 2 (1 + 1 retry)", n)
	}
	ks, err := ListDeadLetters(context.Background(), store, "cosmostest", "Poisoned")
	if err != nil || len(ks) != 1 || !strings.HasPrefix(ks[0], "deadletters/cosmostest/poisoned/") || !strings.HasSuffix(ks[0], ".json") {
		t.Fatalf("dead letters %v, %v", ks, err)
	}
	dl, err := ReadDeadLetter(context.Background(), store, ks[0])
	if err != nil {
		t.Fatal(err)
	}
	if dl.Function != "Poisoned" || dl.Trigger != TriggerType || dl.HostID != "cosmostest" || !strings.Contains(dl.Reason, "cannot digest poison") || len(dl.Events) != 1 ||
		!strings.Contains(string(dl.Events[0].Document), `"poison"`) || dl.Source.NextContinuation == "" || dl.Source.Entity != "items" ||
		dl.Source.Database != e.db || dl.Source.FeedRange == "" {
		t.Errorf("dead letter %+v", dl)
	}
	if !logs.has(slog.LevelError, "dead") {
		t.Errorf("no ERROR log for the dead letter: %v", logs.lines())
	}

	// Replay: the document is rewritten unchanged, and the trigger (healed) receives it again.
	healed.Store(true)
	res, err := Replay(context.Background(), store, e.client, ks[0])
	if err != nil || res.Replayed != 1 || len(res.Skipped) != 0 {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	eventually(t, "the replayed document", func() bool { return rec.has(poison.key()) })
	if ks, _ := ListDeadLetters(context.Background(), store, "", ""); len(ks) != 0 {
		t.Errorf("dead letter still there after replay: %v", ks)
	}
}

// The §3.4 checks: one of both containers missing stops the function with the reference's
// message; createLeaseContainerIfNotExists creates the lease container (partitioned by /id);
// monitored = lease container and both start options are configuration errors.
func TestTriggerContainerChecks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A missing container does not stop the trigger for good (issue 25): the start is retried,
	// ERROR once with the reference's message, and the listener starts once the container exists.
	logs := &logCapture{}
	tr, err := newLoggedTrigger(t, Trigger("docs", e.db, "items", fast(map[string]any{"leaseContainerName": "nope"})), slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	want := "Either the source container 'items' (in database '" + e.db + "') or the lease container 'nope' (in database '" + e.db + "') does not exist. Both containers must exist before the listener starts. To automatically create the lease container, set 'CreateLeaseContainerIfNotExists' to 'true'."
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tr.Run(rctx, nil) }()
	eventually(t, "the start retried", func() bool { return logs.has(slog.LevelDebug, "failed again") })
	if !logs.has(slog.LevelError, want) || logs.countLevel(slog.LevelError) != 1 {
		t.Errorf("want one ERROR with the reference message: %v", logs.lines())
	}
	if err := ensureContainer(ctx, e.client, e.db, "nope", "/id", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "leases once the container exists", func() bool {
		cc, _ := e.client.NewContainer(e.db, "nope")
		return len((&env{t: t, leases: cc}).leaseDocs()) > 0
	})
	eventually(t, "the recovery logged", func() bool { return logs.has(slog.LevelInfo, "recovered") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// The monitored container missing, createLeaseContainerIfNotExists set: the message does not
	// tell the user to set it.
	logs = &logCapture{}
	tr, err = newLoggedTrigger(t, Trigger("docs", e.db, "later", fast(map[string]any{"createLeaseContainerIfNotExists": true})), slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- tr.Run(rctx, nil) }()
	eventually(t, "the start failing", func() bool { return logs.has(slog.LevelError, "'later'") })
	if logs.has(slog.LevelError, "set 'CreateLeaseContainerIfNotExists'") {
		t.Errorf("tells the user to set a flag that is set: %v", logs.lines())
	}
	cancel()
	<-done

	tr, err = newTestTrigger(t, Trigger("docs", e.db, "items", fast(map[string]any{"leaseContainerName": "made", "createLeaseContainerIfNotExists": true})))
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- tr.Run(rctx, nil) }()
	eventually(t, "the lease container", func() bool {
		paths, err := (&account{client: e.client}).partitionKeyPaths(ctx, e.db, "made")
		return err == nil && len(paths) == 1 && paths[0] == "/id"
	})
	eventually(t, "leases in it", func() bool {
		cc, _ := e.client.NewContainer(e.db, "made")
		return len((&env{t: t, leases: cc}).leaseDocs()) == 4
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	for _, c := range []struct {
		props map[string]any
		field string
		msg   string
	}{
		{map[string]any{"leaseContainerName": "items"}, "leaseContainerName", "The monitored container cannot be the same as the container storing the leases"},
		{map[string]any{"startFromBeginning": true, "startFromTime": "2021-02-16T14:19:29Z"}, "startFromTime", "Only one of StartFromBeginning or StartFromTime can be used"},
		{map[string]any{"startFromTime": "yesterday"}, "startFromTime", "not a date"},
		{map[string]any{"leaseRenewInterval": 5000, "leaseExpirationInterval": 1000}, "leaseRenewInterval", "expire before"},
	} {
		_, err := newTestTrigger(t, Trigger("docs", e.db, "items", c.props))
		var ce *driver.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: %v, want a ConfigError on %s saying %q", c.props, err, c.field, c.msg)
		}
	}
}
