package table

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testhost"
)

// One Azurite for the package; every test uses its own tables.
var azurite *emulator.Azurite

func TestMain(m *testing.M) {
	a, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table tests need Azurite:", err)
		os.Exit(1)
	}
	azurite = a
	code := m.Run()
	_ = a.Stop()
	os.Exit(code)
}

// resolver is a ConnectionResolver returning one connection (ClientOptions carry the probe).
type resolver struct{ c connection.Connection }

func (r resolver) Resolve(_ context.Context, name string, svc connection.Service) (*connection.Connection, error) {
	c := r.c
	c.Name, c.Service, c.Key = name, svc, name
	return &c, nil
}

// probe counts requests: transactions (with their operation counts) and entity queries.
type probe struct {
	mu      sync.Mutex
	batches []int // operations per submitted transaction
	queries atomic.Int32
}

func (p *probe) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$batch"):
		var n int
		if body := req.Body(); body != nil {
			b, _ := io.ReadAll(body)
			_ = req.RewindBody()
			n = bytes.Count(b, []byte("Content-Type: application/http"))
		}
		p.mu.Lock()
		p.batches = append(p.batches, n)
		p.mu.Unlock()
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "()"):
		p.queries.Add(1)
	}
	return req.Next()
}

func (p *probe) transactions() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.batches...)
}

type env struct {
	host  *driver.Services
	svc   *aztables.ServiceClient // direct SDK access for arranging and asserting
	probe *probe
}

var tableSeq atomic.Int32

func newEnv(t *testing.T) *env {
	t.Helper()
	p := &probe{}
	conn := connection.Connection{
		Kind:             connection.KindConnectionString,
		ConnectionString: azurite.ConnectionString,
		Endpoint:         azurite.TableEndpoint,
		ClientOptions:    azcore.ClientOptions{PerCallPolicies: []policy.Policy{p}},
	}
	svc, err := aztables.NewServiceClientFromConnectionString(azurite.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		host:  testhost.Services(t, extension.HostOptions{Connections: resolver{conn}}),
		svc:   svc,
		probe: p,
	}
}

// newTable returns a fresh table name (not created).
func (e *env) newTable(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, tableSeq.Add(1))
}

func (e *env) bc(name string, dir driver.Direction, props driver.Props, param reflect.Type) *driver.BindContext {
	spec := driver.Binding(BindingType, name, dir, props)
	spec.Where = "Go API: TestFunc: bindings[" + name + "]"
	return &driver.BindContext{Function: "TestFunc", Spec: spec, Host: e.host, Param: param}
}

func (e *env) input(t *testing.T, props driver.Props, param reflect.Type) driver.Input {
	t.Helper()
	in, err := newInput(context.Background(), e.bc("in", driver.DirIn, props, param))
	if err != nil {
		t.Fatalf("newInput: %v", err)
	}
	return in
}

func (e *env) output(t *testing.T, props driver.Props) driver.Output {
	t.Helper()
	out, err := newOutput(context.Background(), e.bc("out", driver.DirOut, props, nil))
	if err != nil {
		t.Fatalf("newOutput: %v", err)
	}
	return out
}

// write adds items to a fresh sink of out and flushes it.
func write(t *testing.T, out driver.Output, fc *driver.FunctionContext, items ...any) error {
	t.Helper()
	ctx := context.Background()
	s, err := out.Open(ctx, fc)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, it := range items {
		if err := s.Add(ctx, it); err != nil {
			return err
		}
	}
	return s.Flush(ctx)
}

func md(kv ...any) *driver.FunctionContext {
	m := driver.MapMetadata{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return &driver.FunctionContext{FunctionName: "TestFunc", Metadata: m}
}

// seed creates table and inserts entities (JSON objects) with the SDK directly.
func (e *env) seed(t *testing.T, table string, entities ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.CreateTable(ctx, table, nil); err != nil && !strings.Contains(err.Error(), "TableAlreadyExists") {
		t.Fatal(err)
	}
	c := e.svc.NewClient(table)
	for _, en := range entities {
		if _, err := c.AddEntity(ctx, []byte(en), nil); err != nil {
			t.Fatalf("seed %s: %v", en, err)
		}
	}
}

// bulkSeed inserts n entities {PartitionKey: pk, RowKey: fmt(i), N: i} in transactions.
func (e *env) bulkSeed(t *testing.T, table, pk string, n int) {
	t.Helper()
	ctx := context.Background()
	e.seed(t, table)
	c := e.svc.NewClient(table)
	var acts []aztables.TransactionAction
	for i := 0; i < n; i++ {
		acts = append(acts, aztables.TransactionAction{ActionType: aztables.TransactionTypeAdd,
			Entity: fmt.Appendf(nil, `{"PartitionKey":%q,"RowKey":"%05d","N":%d}`, pk, i, i)})
		if len(acts) == 100 || i == n-1 {
			if _, err := c.SubmitTransaction(ctx, acts, nil); err != nil {
				t.Fatal(err)
			}
			acts = nil
		}
	}
}

// get reads an entity with the SDK as a raw map (nil when absent).
func (e *env) get(t *testing.T, table, pk, rk string) map[string]any {
	t.Helper()
	resp, err := e.svc.NewClient(table).GetEntity(context.Background(), pk, rk, nil)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := jsonUnmarshal(resp.Value, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// accountSAS signs an account SAS for the table service of the test Azurite (http and https, so
// that it works against plain-HTTP Azurite; the SDK's own helper hard-codes https).
func accountSAS(t *testing.T) aztables.SASQueryParameters {
	t.Helper()
	cred, err := aztables.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	sas, err := aztables.AccountSASSignatureValues{
		Protocol:      aztables.SASProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   aztables.AccountSASPermissions{Read: true, Write: true, Add: true, Create: true, Update: true, List: true}.String(),
		Services:      "t",
		ResourceTypes: aztables.AccountSASResourceTypes{Service: true, Container: true, Object: true}.String(),
	}.Sign(cred)
	if err != nil {
		t.Fatal(err)
	}
	return sas
}
