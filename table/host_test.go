package table

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/testhost"
)

type hostOrderMsg struct {
	ID         string  `json:"orderId"`
	CustomerID string  `json:"customerId"`
	Total      float64 `json:"total"`
}

type hostCustomer struct {
	PartitionKey, RowKey string
	Name                 string
	Credit               int64
}

type hostOrder struct {
	PartitionKey, RowKey string
	Customer             string
	Total                float64
	Previous             int
}

// The bindings inside a real host: a trigger's JSON payload drives a point read, a query and an
// output through {customerId}/{orderId} (and %OrdersTable%); a failed invocation writes nothing.
func TestInHost(t *testing.T) {
	e := newEnv(t)
	customers, orders := e.newTable("customers"), e.newTable("orders")
	e.seed(t, customers, `{"PartitionKey":"customers","RowKey":"c1","Name":"Ada","Credit":"100","Credit@odata.type":"Edm.Int64"}`)
	e.seed(t, orders, `{"PartitionKey":"c1","RowKey":"old","Customer":"Ada","Total":1.5}`)
	queue := fmt.Sprintf("tblorders%d", tableSeq.Add(1))

	host, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("test", map[string]string{"TablesConn": azurite.ConnectionString, "OrdersTable": orders})),
		Logger:     slog.New(slog.DiscardHandler),
		HostID:     "tabletest",
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	type params struct {
		Order    hostOrderMsg  `azbind:"order"`
		Customer *hostCustomer `azbind:"customer"`
		Previous []hostOrder   `azbind:"previous"`
	}
	conn := driver.Props{"connection": "TablesConn"}
	err = host.Func("PlaceOrder",
		extension.Func(func(ctx context.Context, p params) (hostOrder, error) {
			if p.Customer == nil {
				return hostOrder{}, errors.New("unknown customer " + p.Order.CustomerID)
			}
			return hostOrder{Customer: p.Customer.Name, Total: p.Order.Total, Previous: len(p.Previous)}, nil
		}),
		driver.Binding("memTrigger", "order", driver.DirIn, driver.Props{"queue": queue}),
		Input("customer", customers, conn, driver.Props{"partitionKey": "customers", "rowKey": "{customerId}"}),
		Input("previous", orders, conn, driver.Props{"partitionKey": "{customerId}", "filter": "Total lt {total}"}),
		Output("$return", "%OrdersTable%", conn, driver.Props{"partitionKey": "{customerId}", "rowKey": "{orderId}"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	q := memconn.Default.Queue(queue)
	q.Send([]byte(`{"orderId":"o1","customerId":"c1","total":9.5}`))
	q.Send([]byte(`{"orderId":"o2","customerId":"ghost","total":3}`))

	run := testhost.Run(t, host, testhost.RunOptions{})
	deadline := time.Now().Add(30 * time.Second)
	for len(q.Acked())+len(q.Dead()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("invocations not settled: acked %d, dead %d", len(q.Acked()), len(q.Dead()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(q.Acked()) != 1 || len(q.Dead()) != 1 {
		t.Fatalf("acked %d, dead %d; want 1 and 1", len(q.Acked()), len(q.Dead()))
	}
	got := e.get(t, orders, "c1", "o1")
	if got == nil || got["Customer"] != "Ada" || fmt.Sprint(got["Total"]) != "9.5" || fmt.Sprint(got["Previous"]) != "1" {
		t.Fatalf("order entity %v", got)
	}
	if e.get(t, orders, "ghost", "o2") != nil {
		t.Fatal("the failed invocation's output was written")
	}
}

// The binding declared in function.json (JSON-decoded properties: take as a number, %setting%,
// mode merge) through LoadAppDir.
func TestFunctionJSON(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("fjson")
	e.seed(t, tbl, `{"PartitionKey":"src","RowKey":"1","V":1}`, `{"PartitionKey":"src","RowKey":"2","V":2}`,
		`{"PartitionKey":"src","RowKey":"3","V":3}`, `{"PartitionKey":"copy","RowKey":"src","Kept":"yes"}`)
	queue := fmt.Sprintf("fjq%d", tableSeq.Add(1))
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version":"2.0"}`), 0o600))
	must(os.Mkdir(filepath.Join(dir, "Copy"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "Copy", "function.json"), []byte(`{"bindings":[
		{"type":"memTrigger","name":"msg","direction":"in","queue":"`+queue+`"},
		{"type":"table","name":"rows","direction":"in","tableName":"%T%","partitionKey":"{memTrigger}","take":2,"connection":"TablesConn"},
		{"type":"table","name":"$return","direction":"out","tableName":"%T%","partitionKey":"copy","rowKey":"{memTrigger}","mode":"merge","connection":"TablesConn"}
	]}`), 0o600))
	host, err := extension.NewHost(extension.HostOptions{
		Settings: connection.NewSettings(connection.FromMap("test", map[string]string{"TablesConn": azurite.ConnectionString, "T": tbl})),
		Logger:   slog.New(slog.DiscardHandler),
		HostID:   "tablejson",
	})
	must(err)
	host.Handle("Copy", extension.Reflect(func(ctx context.Context, msg string, rows []map[string]any) (map[string]any, error) {
		return map[string]any{"Count": len(rows)}, nil
	}))
	must(host.LoadAppDir(dir))
	q := memconn.Default.Queue(queue)
	q.Send([]byte("src"))
	run := testhost.Run(t, host, testhost.RunOptions{})
	for deadline := time.Now().Add(30 * time.Second); len(q.Acked())+len(q.Dead()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("message not processed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	must(run.Stop())
	got := e.get(t, tbl, "copy", "src")
	if fmt.Sprint(got["Count"]) != "2" || got["Kept"] != "yes" {
		t.Fatalf("merged entity %v: want Count 2 (take) and Kept (merge)", got)
	}
}

// A Collector used from 8 goroutines of one invocation loses nothing: the runtime serialises the
// sink's Add calls (driver.Sink), so the sink has no lock of its own and -race stays quiet.
func TestConcurrentAdd(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("concurrent")
	queue := fmt.Sprintf("tblconc%d", tableSeq.Add(1))
	host, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("test", map[string]string{"TablesConn": azurite.ConnectionString})),
		Logger:     slog.New(slog.DiscardHandler),
		HostID:     "tableconc",
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = host.Func("FanOut", extension.Reflect(func(ctx context.Context, _ string, c *extension.Collector[map[string]any]) error {
		errs := make(chan error, 8)
		for g := range 8 {
			go func() {
				var err error
				for i := 0; i < 20 && err == nil; i++ {
					err = c.Add(ctx, map[string]any{"PartitionKey": fmt.Sprint("g", g), "RowKey": fmt.Sprint(i)})
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}), driver.Binding("memTrigger", "msg", driver.DirIn, driver.Props{"queue": queue}), Output("out", tbl, driver.Props{"connection": "TablesConn"}))
	if err != nil {
		t.Fatal(err)
	}
	q := memconn.Default.Queue(queue)
	q.Send([]byte("go"))
	run := testhost.Run(t, host, testhost.RunOptions{})
	for deadline := time.Now().Add(30 * time.Second); len(q.Acked())+len(q.Dead()) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the invocation did not settle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := run.Stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(q.Acked()) != 1 {
		t.Fatalf("the invocation failed (dead %d)", len(q.Dead()))
	}
	v, err := e.input(t, driver.Props{"tableName": tbl}, reflect.TypeFor[[]map[string]any]()).Bind(context.Background(), md())
	if err != nil || len(v.([]map[string]any)) != 160 {
		t.Fatalf("read back %d entities (%v), want 160", len(v.([]map[string]any)), err)
	}
}
