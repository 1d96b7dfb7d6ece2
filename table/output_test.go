package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/extension/driver"
)

// everyType carries every Edm type (and the Go types that map onto them).
type everyType struct {
	PartitionKey string
	RowKey       string
	Timestamp    time.Time
	ETag         string `json:"-"`
	Str          string
	Bool         bool
	I32          int32
	I64          int64
	Int          int
	U64          uint64
	F64          float64
	Whole        float64
	NaN          float64
	When         time.Time
	Data         []byte
	ID           GUID
	Raw16        [16]byte
	UUID         uuidLike
	Ptr          *int64
	NilPtr       *string
	Nested       map[string]int
	Tagged       string `table:"renamed"`
}

// uuidLike has the shape of github.com/google/uuid.UUID (and its text methods).
type uuidLike [16]byte

func (u uuidLike) MarshalText() ([]byte, error) { return []byte(GUID(u).String()), nil }

// Every Edm type survives a write through the output and a read through the input, and goes
// over the wire with the right @odata.type.
func TestTypedRoundTrip(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("typed")
	seven := int64(7)
	gid, _ := ParseGUID("0f8fad5b-d9cb-469f-a165-70867728950e")
	in := everyType{
		PartitionKey: "p", RowKey: "r",
		Str: "héllo 'quoted'", Bool: true, I32: -5, I64: math.MaxInt64, Int: 1 << 40, U64: 1<<63 - 1,
		F64: 3.25, Whole: 2, NaN: math.NaN(),
		When:   time.Date(2024, 2, 29, 13, 14, 15, 123456700, time.UTC),
		Data:   []byte{0, 1, 2, 255},
		ID:     gid,
		Raw16:  [16]byte{1, 2, 3},
		UUID:   uuidLike{0xde, 0xad, 15: 0xff},
		Ptr:    &seven,
		Nested: map[string]int{"a": 1},
		Tagged: "t",
	}
	if err := write(t, e.output(t, driver.Props{"tableName": tbl}), md(), in); err != nil {
		t.Fatal(err)
	}

	// On the wire: the annotations that make the types round-trip.
	wire := e.get(t, tbl, "p", "r")
	for prop, edm := range map[string]string{"I64": "Edm.Int64", "Int": "Edm.Int64", "U64": "Edm.Int64", "When": "Edm.DateTime",
		"Data": "Edm.Binary", "ID": "Edm.Guid", "Raw16": "Edm.Guid", "UUID": "Edm.Guid", "Ptr": "Edm.Int64"} {
		if wire[prop+"@odata.type"] != edm {
			t.Errorf("%s: annotation %v, want %s (entity %v)", prop, wire[prop+"@odata.type"], edm, wire)
		}
	}
	if wire["I64"] != "9223372036854775807" || wire["ID"] != "0f8fad5b-d9cb-469f-a165-70867728950e" || wire["Data"] != "AAEC/w==" {
		t.Errorf("wire values: %v", wire)
	}
	if _, ok := wire["NilPtr"]; ok {
		t.Error("a nil pointer was written")
	}
	if wire["Nested"] != `{"a":1}` || wire["renamed"] != "t" {
		t.Errorf("nested/tagged: %v / %v", wire["Nested"], wire["renamed"])
	}

	ctx := context.Background()
	v, err := e.input(t, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "r"}, reflect.TypeFor[everyType]()).Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	got := v.(everyType)
	if !math.IsNaN(got.NaN) {
		t.Errorf("NaN read back as %v", got.NaN)
	}
	if got.Timestamp.IsZero() {
		t.Error("Timestamp not read")
	}
	want := in
	want.NaN, got.NaN = 0, 0
	want.Timestamp = got.Timestamp
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}

	// The typed map view.
	v, err = e.input(t, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "r"}, reflect.TypeFor[map[string]any]()).Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	for k, w := range map[string]any{"Str": in.Str, "Bool": true, "I32": int32(-5), "I64": int64(math.MaxInt64), "Int": int64(1 << 40),
		"F64": 3.25, "When": in.When, "Data": in.Data, "ID": gid, "Ptr": int64(7)} {
		if !reflect.DeepEqual(m[k], w) {
			t.Errorf("map[%s] = %#v (%T), want %#v (%T)", k, m[k], m[k], w, w)
		}
	}

	// The SDK's own entity type, with its Edm wrapper types.
	edm := aztables.EDMEntity{Entity: aztables.Entity{PartitionKey: "p", RowKey: "edm"}, Properties: map[string]any{
		"L": aztables.EDMInt64(1 << 60), "T": aztables.EDMDateTime(in.When), "G": aztables.EDMGUID(gid.String()),
		"B": aztables.EDMBinary{9, 8}, "S": "s", "I": int32(3),
	}}
	if err := write(t, e.output(t, driver.Props{"tableName": tbl}), md(), edm); err != nil {
		t.Fatal(err)
	}
	v, err = e.input(t, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "edm"}, reflect.TypeFor[aztables.EDMEntity]()).Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	back := v.(aztables.EDMEntity)
	for k, w := range edm.Properties {
		if !reflect.DeepEqual(back.Properties[k], w) {
			t.Errorf("EDMEntity[%s] = %#v, want %#v", k, back.Properties[k], w)
		}
	}

	// A map written through the output reads back with the same Go types.
	tm := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	src := map[string]any{"PartitionKey": "p", "RowKey": "m", "n": int64(1) << 50, "small": int32(4), "t": tm, "b": []byte("x"), "g": gid, "s": "str", "f": 1.5, "ok": false}
	if err := write(t, e.output(t, driver.Props{"tableName": tbl}), md(), src); err != nil {
		t.Fatal(err)
	}
	v, err = e.input(t, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "m"}, reflect.TypeFor[map[string]any]()).Bind(ctx, md())
	if err != nil {
		t.Fatal(err)
	}
	m = v.(map[string]any)
	for k, w := range src {
		if !reflect.DeepEqual(m[k], w) {
			t.Errorf("map round trip [%s] = %#v (%T), want %#v (%T)", k, m[k], m[k], w, w)
		}
	}
}

// C37: insert is the default; a conflict fails with an error naming the keys, and the
// transaction is atomic.
func TestInsertConflict(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("conflict")
	e.seed(t, tbl, `{"PartitionKey":"p","RowKey":"taken","V":1}`)
	out := e.output(t, driver.Props{"tableName": tbl})
	err := write(t, out, md(),
		map[string]any{"PartitionKey": "p", "RowKey": "fresh", "V": 2},
		map[string]any{"PartitionKey": "p", "RowKey": "taken", "V": 3})
	if !errors.Is(err, ErrEntityExists) || !errors.Is(err, driver.ErrConflict) {
		t.Fatalf("got %v, want ErrEntityExists", err)
	}
	var ee *EntityError
	if !errors.As(err, &ee) || ee.PartitionKey != "p" || ee.RowKey != "taken" || ee.StatusCode != 409 || ee.Table != tbl {
		t.Fatalf("EntityError %+v", ee)
	}
	for _, s := range []string{`PartitionKey="p"`, `RowKey="taken"`, tbl, "already exists", "use mode upsert or merge", "bindings[out]"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if strings.Contains(err.Error(), azurite.AccountKey) {
		t.Error("error leaks the account key")
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Error("EntityError does not unwrap to *azcore.ResponseError")
	}
	if got := e.get(t, tbl, "p", "fresh"); got != nil {
		t.Fatalf("the transaction was not atomic: %v", got)
	}
	if got := e.get(t, tbl, "p", "taken"); fmt.Sprint(got["V"]) != "1" {
		t.Fatalf("existing entity changed: %v", got)
	}
}

// mode upsert replaces the whole entity; mode merge keeps the properties it does not carry.
func TestUpsertAndMerge(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("modes")
	e.seed(t, tbl,
		`{"PartitionKey":"p","RowKey":"u","A":"old","B":"keep?"}`,
		`{"PartitionKey":"p","RowKey":"m","A":"old","B":"kept"}`)
	type ab struct {
		PartitionKey, RowKey string
		A                    string
		C                    string `json:",omitempty"`
	}
	if err := write(t, e.output(t, driver.Props{"tableName": tbl, "mode": "upsert"}), md(),
		ab{PartitionKey: "p", RowKey: "u", A: "new"}, ab{PartitionKey: "p", RowKey: "u2", A: "created"}); err != nil {
		t.Fatal(err)
	}
	if err := write(t, e.output(t, driver.Props{"tableName": tbl, "mode": "Merge"}), md(),
		ab{PartitionKey: "p", RowKey: "m", A: "new", C: "added"}, ab{PartitionKey: "p", RowKey: "m2", A: "created"}); err != nil {
		t.Fatal(err)
	}
	u := e.get(t, tbl, "p", "u")
	if u["A"] != "new" || u["B"] != nil {
		t.Errorf("upsert did not replace: %v", u)
	}
	m := e.get(t, tbl, "p", "m")
	if m["A"] != "new" || m["B"] != "kept" || m["C"] != "added" {
		t.Errorf("merge did not keep untouched properties: %v", m)
	}
	if e.get(t, tbl, "p", "u2")["A"] != "created" || e.get(t, tbl, "p", "m2")["A"] != "created" {
		t.Error("upsert/merge did not create missing entities")
	}

	_, err := newOutput(context.Background(), e.bc("out", driver.DirOut, driver.Props{"tableName": tbl, "mode": "replace-all"}, nil))
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "mode") || !strings.Contains(err.Error(), "upsert") {
		t.Fatalf("bad mode: %v", err)
	}
}

// C37: 250 entities over 3 partitions go out in transactions of ≤ 100 entities of one partition.
func TestBatchesOfAtMost100(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("batches")
	e.seed(t, tbl) // created, so only transactions are counted
	out := e.output(t, driver.Props{"tableName": tbl})
	s, err := out.Open(context.Background(), md())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		PartitionKey, RowKey string
		N                    int
	}
	perPart := map[string]int{}
	for i := 0; i < 250; i++ {
		pk := fmt.Sprintf("part%d", i%3)
		perPart[pk]++
		if err := s.Add(context.Background(), row{pk, fmt.Sprintf("%04d", i), i}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.probe.transactions()); n != 0 {
		t.Fatalf("%d transactions before Flush", n)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	txs := e.probe.transactions()
	total := 0
	for _, n := range txs {
		if n < 1 || n > 100 {
			t.Errorf("a transaction of %d operations", n)
		}
		total += n
	}
	wantTx := 0
	for _, n := range perPart {
		wantTx += (n + 99) / 100
	}
	if total != 250 || len(txs) != wantTx {
		t.Fatalf("transactions %v: %d entities in %d transactions, want 250 in %d", txs, total, len(txs), wantTx)
	}
	v, err := e.input(t, driver.Props{"tableName": tbl}, reflect.TypeFor[[]row]()).Bind(context.Background(), md())
	if err != nil || len(v.([]row)) != 250 {
		t.Fatalf("read back: %d, %v", len(v.([]row)), err)
	}
}

// A row key repeated before Flush starts a new transaction, so both writes apply in order.
func TestRepeatedRowKeyFlushesBatch(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("repeat")
	e.seed(t, tbl)
	err := write(t, e.output(t, driver.Props{"tableName": tbl, "mode": "upsert"}), md(),
		map[string]any{"PartitionKey": "p", "RowKey": "a", "V": "first"},
		map[string]any{"PartitionKey": "p", "RowKey": "b", "V": "x"},
		map[string]any{"PartitionKey": "p", "RowKey": "a", "V": "second"})
	if err != nil {
		t.Fatal(err)
	}
	if txs := e.probe.transactions(); !reflect.DeepEqual(txs, []int{2, 1}) {
		t.Fatalf("transactions %v, want [2 1]", txs)
	}
	if got := e.get(t, tbl, "p", "a")["V"]; got != "second" {
		t.Fatalf("V = %v, want the later write", got)
	}
}

// C37: a missing table is created and the write retried.
func TestTableAutoCreated(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("auto")
	if err := write(t, e.output(t, driver.Props{"tableName": "{name}"}), md("name", tbl),
		map[string]any{"PartitionKey": "p", "RowKey": "r", "V": 1}); err != nil {
		t.Fatal(err)
	}
	if e.get(t, tbl, "p", "r") == nil {
		t.Fatal("entity not written")
	}
	if txs := e.probe.transactions(); len(txs) != 2 {
		t.Fatalf("transactions %v: want the failed one and its retry", txs)
	}
}

// Keys come from the binding (with expressions) when the value lacks them; values without keys
// and keys with forbidden characters are rejected at Add, before anything is written.
func TestKeysFromBindingAndValidation(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("keys")
	out := e.output(t, driver.Props{"tableName": tbl, "partitionKey": "{customer}", "rowKey": "{id}"})
	if err := write(t, out, md("customer", "c1", "id", "o9"), map[string]any{"Total": 12.5}); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, tbl, "c1", "o9"); got == nil || fmt.Sprint(got["Total"]) != "12.5" {
		t.Fatalf("entity with keys from the binding: %v", got)
	}
	// A JSON object (as the runtime passes function.json outputs) and a JSON array.
	if err := write(t, out, md("customer", "c2", "id", "ignored"),
		`[{"RowKey":"j1","N":1},{"RowKey":"j2","N":9007199254740993}]`, json.RawMessage(`{"PartitionKey":"c3","RowKey":"j3"}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.get(t, tbl, "c2", "j2"); got["N"] != "9007199254740993" || got["N@odata.type"] != "Edm.Int64" {
		t.Fatalf("JSON number beyond int32: %v", got)
	}
	if e.get(t, tbl, "c2", "j1") == nil || e.get(t, tbl, "c3", "j3") == nil {
		t.Fatal("JSON entities not written")
	}

	before := len(e.probe.transactions())
	bare := e.output(t, driver.Props{"tableName": tbl})
	s, _ := bare.Open(context.Background(), md())
	for _, tc := range []struct {
		item any
		want string
	}{
		{map[string]any{"RowKey": "r"}, "no PartitionKey"},
		{map[string]any{"PartitionKey": "p"}, "no RowKey"},
		{map[string]any{"PartitionKey": "a/b", "RowKey": "r"}, "does not allow"},
		{map[string]any{"PartitionKey": "p", "RowKey": "tab\there"}, "control character"},
		{42, "cannot write a int"},
		{"not json", "JSON object"},
		{map[string]any{"PartitionKey": "p", "RowKey": "r", "C": complex(1, 2)}, "no Azure Tables type"},
	} {
		err := s.Add(context.Background(), tc.item)
		if !errors.Is(err, ErrInvalidEntity) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%v): %v, want ErrInvalidEntity mentioning %q", tc.item, err, tc.want)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.probe.transactions()) - before; n != 0 {
		t.Fatalf("%d transactions after rejected values, want 0", n)
	}
}

// Nothing is written when the invocation fails (no Flush).
func TestNoFlushNoWrite(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("noflush")
	e.seed(t, tbl)
	s, err := e.output(t, driver.Props{"tableName": tbl}).Open(context.Background(), md())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), map[string]any{"PartitionKey": "p", "RowKey": "r"}); err != nil {
		t.Fatal(err)
	}
	if e.get(t, tbl, "p", "r") != nil || len(e.probe.transactions()) != 0 {
		t.Fatal("Add wrote before Flush")
	}
}

// C37: an ETag makes the write conditional; "*" in insert mode replaces.
func TestETagConditionalWrites(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("etag")
	e.seed(t, tbl, `{"PartitionKey":"p","RowKey":"r","V":"v1"}`)
	ctx := context.Background()
	in := e.input(t, driver.Props{"tableName": tbl, "partitionKey": "p", "rowKey": "r"}, reflect.TypeFor[map[string]any]())
	v, _ := in.Bind(ctx, md())
	read := v.(map[string]any)
	out := e.output(t, driver.Props{"tableName": tbl})

	read["V"] = "v2"
	if err := write(t, out, md(), read); err != nil {
		t.Fatalf("write with the current ETag: %v", err)
	}
	read["V"] = "v3" // the ETag is now stale
	err := write(t, out, md(), read)
	if !errors.Is(err, ErrPreconditionFailed) || !strings.Contains(err.Error(), `RowKey="r"`) {
		t.Fatalf("stale ETag: %v", err)
	}
	if err := write(t, out, md(), map[string]any{"PartitionKey": "p", "RowKey": "r", "ETag": "*", "V": "v4"}); err != nil {
		t.Fatalf("ETag *: %v", err)
	}
	if got := e.get(t, tbl, "p", "r")["V"]; got != "v4" {
		t.Fatalf("V = %v", got)
	}
}

// Quotes in keys: the SDK leaves them unescaped inside transactions for replace/merge, so such
// entities are written one by one.
func TestQuoteInKeys(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("quotes")
	e.seed(t, tbl)
	for _, mode := range []string{"insert", "upsert", "merge"} {
		if err := write(t, e.output(t, driver.Props{"tableName": tbl, "mode": mode}), md(),
			map[string]any{"PartitionKey": "o'brien", "RowKey": "it's-" + mode, "V": mode}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if e.get(t, tbl, "o'brien", "it's-"+mode)["V"] != mode {
			t.Fatalf("%s: not written", mode)
		}
	}
	v, err := e.input(t, driver.Props{"tableName": tbl, "partitionKey": "{pk}"}, reflect.TypeFor[[]aztables.EDMEntity]()).Bind(context.Background(), md("pk", "o'brien"))
	if err != nil || len(v.([]aztables.EDMEntity)) != 3 {
		t.Fatalf("query by quoted partition key: %v, %v", v, err)
	}
}
