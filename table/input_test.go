package table

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/extension/driver"
)

type order struct {
	PartitionKey string
	RowKey       string
	Timestamp    time.Time
	ETag         azcore.ETag
	Item         string `json:"item"`
	Qty          int64
}

// C36: partitionKey + rowKey read one entity; a missing one is nil, not an error.
func TestPointReadHitAndMiss(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("point")
	e.seed(t, tbl, `{"PartitionKey":"p1","RowKey":"r1","item":"book","Qty":"3","Qty@odata.type":"Edm.Int64"}`)
	ctx := context.Background()
	props := driver.Props{"tableName": tbl, "partitionKey": "{pk}", "rowKey": "{id}"}

	in := e.input(t, props, reflect.TypeFor[order]())
	v, err := in.Bind(ctx, md("pk", "p1", "id", "r1"))
	if err != nil {
		t.Fatal(err)
	}
	o, ok := v.(order)
	if !ok {
		t.Fatalf("Bind returned %T, want order", v)
	}
	if o.PartitionKey != "p1" || o.RowKey != "r1" || o.Item != "book" || o.Qty != 3 {
		t.Fatalf("got %+v", o)
	}
	if o.Timestamp.IsZero() || time.Since(o.Timestamp) > time.Hour || o.ETag == "" {
		t.Fatalf("Timestamp/ETag not set: %+v", o)
	}

	// Miss: nil (the runtime turns it into the zero value).
	v, err = in.Bind(ctx, md("pk", "p1", "id", "nope"))
	if err != nil || v != nil {
		t.Fatalf("miss: got %v, %v; want nil, nil", v, err)
	}
	// Missing table: also nil.
	in2 := e.input(t, driver.Props{"tableName": e.newTable("absent"), "partitionKey": "p1", "rowKey": "r1"}, reflect.TypeFor[*order]())
	if v, err := in2.Bind(ctx, md()); err != nil || v != nil {
		t.Fatalf("missing table: got %v, %v; want nil, nil", v, err)
	}

	// Pointer, map, raw JSON and untyped targets.
	for _, tc := range []struct {
		param reflect.Type
		check func(any) bool
	}{
		{reflect.TypeFor[*order](), func(v any) bool { return v.(*order).Item == "book" }},
		{reflect.TypeFor[map[string]any](), func(v any) bool {
			m := v.(map[string]any)
			return m["item"] == "book" && m["Qty"] == int64(3) && m["RowKey"] == "r1" && m["ETag"] != nil
		}},
		{reflect.TypeFor[json.RawMessage](), func(v any) bool {
			var m map[string]any
			_ = json.Unmarshal(v.(json.RawMessage), &m)
			return m["item"] == "book" && m["Qty"] == "3" && m["Qty@odata.type"] == nil && m["odata.etag"] == nil && m["ETag"] != nil
		}},
		{reflect.TypeFor[string](), func(v any) bool { return strings.Contains(v.(string), `"item":"book"`) }},
		{nil, func(v any) bool { return strings.Contains(string(v.(json.RawMessage)), `"RowKey":"r1"`) }},
		{reflect.TypeFor[aztables.EDMEntity](), func(v any) bool {
			x := v.(aztables.EDMEntity)
			return x.RowKey == "r1" && x.Properties["Qty"] == aztables.EDMInt64(3) && x.ETag != ""
		}},
	} {
		in := e.input(t, props, tc.param)
		v, err := in.Bind(ctx, md("pk", "p1", "id", "r1"))
		if err != nil {
			t.Fatalf("%v: %v", tc.param, err)
		}
		if !tc.check(v) {
			t.Errorf("%v: unexpected value %#v", tc.param, v)
		}
	}
}

// An SDK-type binding: *aztables.Client for the (expression-named) table.
func TestClientBinding(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("client")
	e.seed(t, tbl, `{"PartitionKey":"a","RowKey":"b","V":1}`)
	in := e.input(t, driver.Props{"tableName": "{name}"}, reflect.TypeFor[*aztables.Client]())
	v, err := in.Bind(context.Background(), md("name", tbl))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := v.(*aztables.Client)
	if !ok {
		t.Fatalf("got %T", v)
	}
	if _, err := c.GetEntity(context.Background(), "a", "b", nil); err != nil {
		t.Fatalf("client does not address table %s: %v", tbl, err)
	}
}

// C36: a query is "PartitionKey eq pk" AND the filter, limited by take.
func TestQueryPartitionKeyFilterTake(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("query")
	e.bulkSeed(t, tbl, "a", 30)
	e.seed(t, tbl, `{"PartitionKey":"b","RowKey":"00001","N":1}`, `{"PartitionKey":"b","RowKey":"00029","N":29}`)
	ctx := context.Background()
	type row struct {
		PartitionKey, RowKey string
		N                    int
	}

	in := e.input(t, driver.Props{"tableName": tbl, "partitionKey": "{p}", "filter": "N ge {min}"}, reflect.TypeFor[[]row]())
	v, err := in.Bind(ctx, md("p", "a", "min", 20))
	if err != nil {
		t.Fatal(err)
	}
	rows := v.([]row)
	if len(rows) != 10 {
		t.Fatalf("got %d rows, want 10 (N 20..29 of partition a)", len(rows))
	}
	for _, r := range rows {
		if r.PartitionKey != "a" || r.N < 20 {
			t.Fatalf("row outside PK/filter: %+v", r)
		}
	}

	// No partitionKey: filter over all partitions; take from a number and from an expression.
	for _, take := range []any{float64(3), "{t}"} {
		in = e.input(t, driver.Props{"tableName": tbl, "filter": "N ge 29", "take": take}, reflect.TypeFor[[]map[string]any]())
		v, err = in.Bind(ctx, md("t", "3"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v.([]map[string]any)); got != 2 {
			t.Fatalf("take %v: got %d, want the 2 entities with N ≥ 29", take, got)
		}
		in = e.input(t, driver.Props{"tableName": tbl, "take": take}, reflect.TypeFor[[]map[string]any]())
		v, err = in.Bind(ctx, md("t", "3"))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(v.([]map[string]any)); got != 3 {
			t.Fatalf("take %v: got %d, want 3", take, got)
		}
	}

	// JSON array targets and a missing table (empty result).
	in = e.input(t, driver.Props{"tableName": tbl, "partitionKey": "b"}, reflect.TypeFor[json.RawMessage]())
	v, _ = in.Bind(ctx, md())
	var arr []map[string]any
	if err := json.Unmarshal(v.(json.RawMessage), &arr); err != nil || len(arr) != 2 {
		t.Fatalf("raw array: %s (%v)", v, err)
	}
	in = e.input(t, driver.Props{"tableName": e.newTable("nothere")}, reflect.TypeFor[[]row]())
	v, err = in.Bind(ctx, md())
	if err != nil || len(v.([]row)) != 0 {
		t.Fatalf("missing table: %v, %v", v, err)
	}
}

// Queries follow continuation tokens: with a small page size, take and all-results reads cross
// pages; Azurite's own 1000-entity page is crossed by a 1200-entity partition.
func TestQueryPaging(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("paging")
	e.bulkSeed(t, tbl, "p", 1200)
	ctx := context.Background()

	in := e.input(t, driver.Props{"tableName": tbl, "filter": "N ge 100"}, reflect.TypeFor[[]map[string]any]())
	before := e.probe.queries.Load()
	v, err := in.Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(v.([]map[string]any)); got != 1100 {
		t.Fatalf("got %d entities, want 1100", got)
	}
	if pages := e.probe.queries.Load() - before; pages < 2 {
		t.Fatalf("%d query requests: the 1000-entity page limit was not crossed", pages)
	}

	pageSize = 7
	defer func() { pageSize = 0 }()
	in = e.input(t, driver.Props{"tableName": tbl, "take": float64(30), "filter": "N lt 1000"}, reflect.TypeFor[[]struct{ N int }]())
	before = e.probe.queries.Load()
	v, err = in.Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	rows := v.([]struct{ N int })
	if len(rows) != 30 || rows[29].N != 29 {
		t.Fatalf("got %d rows (last %+v), want 30 ending with N=29", len(rows), rows[len(rows)-1])
	}
	if pages := e.probe.queries.Load() - before; pages != 5 {
		t.Fatalf("%d query requests for 30 entities at 7 per page, want 5", pages)
	}
}

// C36 + §4: values substituted into a filter are OData string literals: trigger data cannot
// widen the query.
func TestFilterInjectionStaysLiteral(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("inject")
	e.seed(t, tbl,
		`{"PartitionKey":"p","RowKey":"1","Owner":"alice"}`,
		`{"PartitionKey":"p","RowKey":"2","Owner":"bob"}`,
		`{"PartitionKey":"q","RowKey":"3","Owner":"x' or PartitionKey ne '"}`)
	in := e.input(t, driver.Props{"tableName": tbl, "filter": "Owner eq '{owner}'"}, reflect.TypeFor[[]map[string]any]())
	ctx := context.Background()

	v, err := in.Bind(ctx, md("owner", "alice"))
	if err != nil || len(v.([]map[string]any)) != 1 {
		t.Fatalf("plain value: %v, %v", v, err)
	}
	v, err = in.Bind(ctx, md("owner", "x' or PartitionKey ne '"))
	if err != nil {
		t.Fatal(err)
	}
	got := v.([]map[string]any)
	if len(got) != 1 || got[0]["RowKey"] != "3" {
		t.Fatalf("injection widened the filter: %v", got)
	}
	// And a partitionKey expression is escaped too.
	in = e.input(t, driver.Props{"tableName": tbl, "partitionKey": "{pk}"}, reflect.TypeFor[[]map[string]any]())
	v, err = in.Bind(ctx, md("pk", "p' or PartitionKey ne 'p"))
	if err != nil || len(v.([]map[string]any)) != 0 {
		t.Fatalf("partitionKey injection: %v, %v", v, err)
	}
	// A partitionKey that evaluates to "" still restricts the query (to PartitionKey eq '').
	v, err = in.Bind(ctx, md("pk", ""))
	if err != nil || len(v.([]map[string]any)) != 0 {
		t.Fatalf("empty partitionKey widened the query: %v, %v", v, err)
	}
}

func TestInputConfigErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		props driver.Props
		param reflect.Type
		want  string
	}{
		{driver.Props{}, nil, "tableName: is required"},
		{driver.Props{"tableName": "a-b"}, nil, "not a valid table name"},
		{driver.Props{"tableName": "orders", "rowKey": "r"}, nil, "rowKey is set without partitionKey"},
		{driver.Props{"tableName": "orders", "partitionKey": "p", "rowKey": "r", "filter": "N eq 1"}, nil, "rowKey cannot be combined"},
		{driver.Props{"tableName": "orders", "partitionKey": "p", "rowKey": "r", "take": float64(2)}, nil, "rowKey cannot be combined"},
		{driver.Props{"tableName": "orders", "take": float64(-1)}, nil, "take"},
		{driver.Props{"tableName": "orders", "take": "many"}, nil, "take"},
		{driver.Props{"tableName": "orders"}, reflect.TypeFor[order](), "use a slice such as []table.order"},
		{driver.Props{"tableName": "orders", "partitionKey": "p", "rowKey": "r"}, reflect.TypeFor[int](), "reads one entity"},
	} {
		_, err := newInput(ctx, e.bc("in", driver.DirIn, tc.props, tc.param))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bindings[in]") {
			t.Errorf("%v: got %v, want an error containing %q and the binding", tc.props, err, tc.want)
			continue
		}
		if !errors.Is(err, driver.ErrInvalidConfig) && !errors.Is(err, driver.ErrUnsupportedType) {
			t.Errorf("%v: %v does not wrap ErrInvalidConfig/ErrUnsupportedType", tc.props, err)
		}
	}
	// A table name from an expression is checked per invocation.
	in := e.input(t, driver.Props{"tableName": "{name}"}, nil)
	if _, err := in.Bind(ctx, md("name", "no_underscores")); err == nil || !strings.Contains(err.Error(), "not a valid table name") {
		t.Fatalf("got %v", err)
	}
}
