package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/testhost"
)

var queueSeq atomic.Int64

// memQueue returns a fresh in-memory queue and its trigger binding.
func memQueue(name string) (*memconn.Queue, *driver.BindingSpec) {
	q := fmt.Sprintf("cosmos-%s-%d", name, queueSeq.Add(1))
	return memconn.Default.Queue(q), driver.Binding("memTrigger", "msg", driver.DirIn, driver.Props{"queue": q})
}

func settled(q *memconn.Queue, n int) func() bool {
	return func() bool { return len(q.Acked())+len(q.Dead()) >= n }
}

type request struct {
	ID   string `json:"id"`
	PK   string `json:"pk"`
	Name string `json:"name"`
	Min  int    `json:"min"`
}

// Input: a point read by {id} and {pk} (nil when missing), and a query whose {tokens} become
// parameters: an injection attempt in the binding data stays a literal.
func TestInput(t *testing.T) {
	e := newEnv(t)
	e.write(testDoc{ID: "a", PK: "p1", N: 1}, testDoc{ID: "b", PK: "p1", N: 2}, testDoc{ID: "c", PK: "p2", N: 3},
		testDoc{ID: `x" OR true OR "`, PK: "p1", N: 4})
	q, trig := memQueue("input")
	type params struct {
		Req     request   `azbind:"msg"`
		Doc     *testDoc  `azbind:"doc"`
		ByID    []testDoc `azbind:"byid"`
		Scoped  []testDoc `azbind:"scoped"`
		Scanned []testDoc `azbind:"scanned"`
	}
	type result struct {
		doc                   *testDoc
		byID, scoped, scanned []string
	}
	results := make(chan result, 10)
	ids := func(ds []testDoc) []string {
		out := []string{}
		for _, d := range ds {
			out = append(out, d.ID)
		}
		sort.Strings(out)
		return out
	}
	h := newHost(t, hostOpts{})
	err := h.Func("Read", extension.Action(func(ctx context.Context, p params) error {
		results <- result{p.Doc, ids(p.ByID), ids(p.Scoped), ids(p.Scanned)}
		return nil
	}), trig,
		Input("doc", e.db, "items", driver.Props{"id": "{id}", "partitionKey": "{pk}"}),
		Input("byid", e.db, "items", driver.Props{"sqlQuery": "SELECT * FROM c WHERE c.id = {name}"}),
		Input("scoped", e.db, "items", driver.Props{"sqlQuery": "SELECT * FROM c WHERE c.n >= {min}", "partitionKey": "{pk}"}),
		Input("scanned", e.db, "items", driver.Props{"sqlQuery": "SELECT * FROM c WHERE c.n >= {min}"}))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	send := func(r request) result {
		t.Helper()
		b, _ := json.Marshal(r)
		q.Send(b)
		select {
		case res := <-results:
			return res
		case <-time.After(waitLong):
			t.Fatalf("no invocation for %+v", r)
		}
		return result{}
	}
	got := send(request{ID: "a", PK: "p1", Name: "b", Min: 2})
	if got.doc == nil || got.doc.ID != "a" || got.doc.N != 1 {
		t.Errorf("point read: %+v", got.doc)
	}
	if fmt.Sprint(got.byID) != "[b]" || fmt.Sprint(got.scoped) != "[b x\" OR true OR \"]" || fmt.Sprint(got.scanned) != "[b c x\" OR true OR \"]" {
		t.Errorf("queries: byid %v scoped %v scanned %v", got.byID, got.scoped, got.scanned)
	}
	// Missing document: nil, not an error. Injection attempts match only a document of that id.
	got = send(request{ID: "nope", PK: "p1", Name: `a" OR c.id != "`, Min: 100})
	if got.doc != nil || len(got.byID) != 0 || len(got.scoped) != 0 {
		t.Errorf("missing/injection: doc %+v byid %v scoped %v", got.doc, got.byID, got.scoped)
	}
	got = send(request{ID: "a", PK: "p2", Name: `x" OR true OR "`, Min: 3})
	if got.doc != nil {
		t.Errorf("point read with the wrong partition key found %+v", got.doc)
	}
	if fmt.Sprint(got.byID) != "[x\" OR true OR \"]" {
		t.Errorf("the injection text should match only the document with that id: %v", got.byID)
	}
}

// The query text sent is parameterised: {name} becomes @name, binding data never becomes text.
func TestSQLQueryParameters(t *testing.T) {
	spec := Input("x", "db", "c", driver.Props{"sqlQuery": "SELECT * FROM c WHERE c.id = {id} AND c.n > {Min} OR c.id = {id} AND c.t = '{literal}'x{not a token}"})
	bc := &driver.BindContext{Spec: spec}
	q, err := parseSQLQuery(bc, spec.Properties["sqlQuery"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if q.text != "SELECT * FROM c WHERE c.id = @id AND c.n > @Min OR c.id = @id AND c.t = '@literal'x{not a token}" {
		t.Errorf("text %q", q.text)
	}
	if fmt.Sprint(q.names) != "[id Min literal]" {
		t.Errorf("names %v", q.names)
	}
	fc := &driver.FunctionContext{Metadata: driver.MapMetadata{"id": "1' OR 1=1 --", "min": 5.0, "literal": "l"}}
	ps, err := q.parameters(fc)
	if err != nil || len(ps) != 3 || ps[0].Name != "@id" || ps[0].Value != "1' OR 1=1 --" || ps[1].Value != 5.0 {
		t.Errorf("parameters %+v, %v", ps, err)
	}
	if _, err := q.parameters(&driver.FunctionContext{Metadata: driver.MapMetadata{}}); err == nil || !strings.Contains(err.Error(), "{id}") {
		t.Errorf("missing binding data: %v", err)
	}
	// Binding data the trigger does not provide is a load-time error; dot notation is refused.
	bc.TriggerData, bc.TriggerType = []string{"Id"}, "memTrigger"
	if _, err := parseSQLQuery(bc, "SELECT * FROM c WHERE c.x = {other}"); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("unknown token: %v", err)
	}
	if _, err := parseSQLQuery(&driver.BindContext{Spec: spec}, "SELECT * FROM c WHERE c.x = {a.b}"); !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "dot notation") {
		t.Errorf("dotted token: %v", err)
	}
}

// An input may hand over the container client itself.
func TestInputContainerClient(t *testing.T) {
	e := newEnv(t)
	e.write(testDoc{ID: "a", PK: "p1", N: 1})
	q, trig := memQueue("client")
	got := make(chan string, 1)
	h := newHost(t, hostOpts{})
	err := h.Func("Client", extension.Reflect(func(ctx context.Context, msg string, cc *azcosmos.ContainerClient) error {
		resp, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString("p1"), msg, nil)
		if err != nil {
			return err
		}
		got <- string(resp.Value)
		return nil
	}), trig, Input("cc", e.db, "items"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	q.Send([]byte("a"))
	select {
	case s := <-got:
		if !strings.Contains(s, `"id":"a"`) {
			t.Errorf("document %s", s)
		}
	case <-time.After(waitLong):
		t.Fatal("no invocation")
	}
}

// Output: upserts one document, a slice, or a JSON array; a failed invocation writes nothing; a
// missing container is the reference's error unless createIfNotExists creates it (with the
// declared partition-key path).
func TestOutput(t *testing.T) {
	e := newEnv(t)
	q, trig := memQueue("output")
	h := newHost(t, hostOpts{cfg: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}})
	type outs struct {
		One  *testDoc         `azbind:"one"`
		Many []map[string]any `azbind:"many"`
		Raw  json.RawMessage  `azbind:"raw"`
		New  *testDoc         `azbind:"created"`
		Miss *testDoc         `azbind:"missing"`
	}
	err := h.Func("Write", extension.Func(func(ctx context.Context, r request) (outs, error) {
		switch r.Name {
		case "fail":
			return outs{One: &testDoc{ID: "never", PK: "p9"}}, errors.New("failed invocation")
		case "missing":
			return outs{Miss: &testDoc{ID: "m", PK: "p"}}, nil
		}
		return outs{
			One:  &testDoc{ID: r.ID, PK: r.PK, N: 1},
			Many: []map[string]any{{"id": "m1", "pk": "p1", "n": 2}, {"id": "m2", "pk": "p2", "n": 3}},
			Raw:  json.RawMessage(`[{"id":"r1","pk":"p3","n":4},{"id":"a","pk":"p1","n":5}]`),
			New:  &testDoc{ID: "fresh", PK: "k", N: 6},
		}, nil
	}), trig,
		Output("one", e.db, "items"), Output("many", e.db, "items"), Output("raw", e.db, "items"),
		Output("created", e.db+"new", "made", driver.Props{"createIfNotExists": true, "partitionKey": "/pk"}),
		Output("missing", e.db, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	run(t, h)
	for _, r := range []request{{ID: "a", PK: "p1"}, {Name: "fail"}, {Name: "missing"}} {
		b, _ := json.Marshal(r)
		q.Send(b)
	}
	eventually(t, "3 invocations settled", settled(q, 3))
	if len(q.Acked()) != 1 || len(q.Dead()) != 2 {
		t.Fatalf("acked %d dead %d, want 1 and 2", len(q.Acked()), len(q.Dead()))
	}
	read := func(cc *azcosmos.ContainerClient, pk, id string) *testDoc {
		resp, err := cc.ReadItem(context.Background(), azcosmos.NewPartitionKeyString(pk), id, nil)
		if err != nil {
			return nil
		}
		var d testDoc
		_ = json.Unmarshal(resp.Value, &d)
		return &d
	}
	// "a" was written by One (n 1) and then by Raw (n 5): outputs flush in declaration order.
	for _, w := range []testDoc{{ID: "a", PK: "p1", N: 5}, {ID: "m1", PK: "p1", N: 2}, {ID: "m2", PK: "p2", N: 3}, {ID: "r1", PK: "p3", N: 4}} {
		if d := read(e.items, w.PK, w.ID); d == nil || *d != w {
			t.Errorf("document %s: %+v, want %+v", w.ID, d, w)
		}
	}
	if d := read(e.items, "p9", "never"); d != nil {
		t.Error("the failed invocation's document was written")
	}
	made, _ := e.client.NewContainer(e.db+"new", "made")
	if d := read(made, "k", "fresh"); d == nil || d.N != 6 {
		t.Errorf("document in the created container: %+v", d)
	}
	acct := &account{client: e.client}
	if paths, err := acct.partitionKeyPaths(context.Background(), e.db+"new", "made"); err != nil || fmt.Sprint(paths) != "[/pk]" {
		t.Errorf("created container partition key %v, %v", paths, err)
	}
	if paths, _ := acct.partitionKeyPaths(context.Background(), e.db, "absent"); paths != nil {
		t.Error("the container without createIfNotExists was created")
	}
}

// The exact message of a missing container, and what an output refuses.
func TestOutputErrors(t *testing.T) {
	e := newEnv(t)
	bc := testBindContext(t, Output("out", e.db, "absent"))
	o, err := newOutput(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := o.Open(context.Background(), &driver.FunctionContext{Metadata: driver.MapMetadata{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), map[string]any{"id": "x"}); err != nil {
		t.Fatal(err)
	}
	err = s.Flush(context.Background())
	want := "The container 'absent' (in database '" + e.db + "') does not exist. To automatically create the container, set 'CreateIfNotExists' to 'true'."
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("flush to a missing container: %v", err)
	}
	for _, bad := range []any{map[string]any{"n": 1}, "[1,2]", "not json", []map[string]any{{"id": "ok"}, {"id": 5}}} {
		if err := s.Add(context.Background(), bad); !errors.Is(err, ErrInvalidDocument) {
			t.Errorf("Add(%v): %v, want ErrInvalidDocument", bad, err)
		}
	}
	// The document must carry the container's partition key.
	d, err := documents(map[string]any{"id": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d[0].partitionKey([]string{"/pk"}); !errors.Is(err, ErrInvalidDocument) {
		t.Errorf("missing partition key: %v", err)
	}
	if _, err := newOutput(context.Background(), testBindContext(t, Output("out", e.db, "c", driver.Props{"partitionKey": "pk"}))); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("partitionKey without a slash: %v", err)
	}
	if _, err := newInput(context.Background(), testBindContext(t, Input("in", e.db, "c"))); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("input without id or sqlQuery: %v", err)
	}
}

func testBindContext(t testing.TB, spec *driver.BindingSpec) *driver.BindContext {
	s := settings()
	spec.Where = "test: " + t.Name()
	bc := &driver.BindContext{Function: "Direct", Spec: spec, Host: testhost.Services(t, extension.HostOptions{HostID: "direct",
		Settings: s, Connections: resolver(s), Storage: extension.NewMemoryStorage()})}
	return bc
}
