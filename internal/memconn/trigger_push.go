package memconn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

// PushPath is where the host's router receives pushes for memPushTrigger functions, as Functions
// routes extension webhooks (runtime/webhooks/<extension>?functionName=<function>, reference §3.7),
// at AuthSystem with the system key PushKeyName.
const PushPath = "/runtime/webhooks/memory"

// PushKeyName is the system key a pusher presents (the setting host.systemKey.memory_extension,
// else generated into the host's keys).
const PushKeyName = "memory_extension"

// PushURL is the URL of function's webhook on a host served at baseURL, with the system key.
func PushURL(baseURL, function, key string) string {
	return strings.TrimSuffix(baseURL, "/") + PushPath + "?functionName=" + url.QueryEscape(function) + "&code=" + url.QueryEscape(key)
}

// memPushTrigger: {"type": "memPushTrigger", "cardinality": "one"|"many"}. A POST to PushURL runs
// the function with the request body (a JSON array of items for many) and answers 202 when it
// succeeded, 500 when it failed, 503 when the host is stopping (the sender must push again later).

type pushTrigger struct {
	function string
	many     bool
	host     *driver.Services

	mu       sync.Mutex
	ctx      context.Context // Run's context: nil before Run and after it has stopped accepting
	exec     driver.Executor
	inflight sync.WaitGroup
}

func newPushTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	return &pushTrigger{function: bc.Function, many: bc.Spec.Many(), host: bc.Host}, nil
}

// BindingData implements driver.BindingDataContract.
func (t *pushTrigger) BindingData() []string { return []string{"Id", "*"} }

// Run implements driver.Trigger: accept pushes until ctx is cancelled, then answer 503 and wait
// for the invocations already accepted.
func (t *pushTrigger) Run(ctx context.Context, exec driver.Executor) error {
	// One route per host (a Shared value: mounted on the host's router once, unmounted when the
	// host closes its shared values); the functionName query selects the trigger.
	tbl, err := driver.Shared(ctx, t.host, pushTableKey{}, func(context.Context) (*pushTable, error) {
		tbl := &pushTable{funcs: map[string]*pushTrigger{}}
		unmount, err := t.host.Router.Mount(driver.Route{Template: strings.TrimPrefix(PushPath, "/"), Methods: []string{http.MethodPost}, Level: driver.AuthSystem, SystemKey: PushKeyName, Handler: tbl})
		if err != nil {
			return nil, err
		}
		tbl.unmount = unmount
		return tbl, nil
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.ctx, t.exec = ctx, exec
	t.mu.Unlock()
	tbl.add(t.function, t)
	defer tbl.remove(t.function, t)
	<-ctx.Done()
	t.mu.Lock()
	t.ctx, t.exec = nil, nil // no inflight.Add after this point
	t.mu.Unlock()
	t.inflight.Wait()
	return nil
}

func (t *pushTrigger) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t.mu.Lock()
	ctx, exec := t.ctx, t.exec
	if exec == nil || ctx.Err() != nil {
		t.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the host is stopping", http.StatusServiceUnavailable)
		return
	}
	t.inflight.Add(1)
	t.mu.Unlock()
	defer t.inflight.Done()

	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := req.Header.Get("Memory-Item-Id")
	ev := &driver.Event{ID: id, Metadata: driver.MapMetadata{"Id": id}}
	if t.many {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			http.Error(w, "cardinality many: the body must be a JSON array: "+err.Error(), http.StatusBadRequest)
			return
		}
		for _, it := range items {
			ev.Batch = append(ev.Batch, []byte(it))
		}
	} else {
		ev.Data = body
	}
	res := exec.Execute(ctx, ev)
	switch res.Status {
	case driver.Succeeded:
		w.WriteHeader(http.StatusAccepted)
	case driver.Failed:
		http.Error(w, "Exception while executing function: "+t.function, http.StatusInternalServerError)
	default: // cancelled at shutdown: not processed, push again
		http.Error(w, "the host stopped before the invocation finished", http.StatusServiceUnavailable)
	}
}

type pushTableKey struct{}

// pushTable dispatches PushPath requests to the running trigger of the named function.
type pushTable struct {
	unmount func()
	mu      sync.Mutex
	funcs   map[string]*pushTrigger // by lower-case function name
}

// Close unmounts the route.
func (r *pushTable) Close() error {
	r.unmount()
	return nil
}

func (r *pushTable) add(name string, t *pushTrigger) {
	r.mu.Lock()
	r.funcs[strings.ToLower(name)] = t
	r.mu.Unlock()
}

func (r *pushTable) remove(name string, t *pushTrigger) {
	r.mu.Lock()
	if r.funcs[strings.ToLower(name)] == t {
		delete(r.funcs, strings.ToLower(name))
	}
	r.mu.Unlock()
}

func (r *pushTable) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	name := req.URL.Query().Get("functionName")
	r.mu.Lock()
	t := r.funcs[strings.ToLower(name)]
	r.mu.Unlock()
	if t == nil {
		http.Error(w, fmt.Sprintf("cannot find function: '%s'", name), http.StatusNotFound)
		return
	}
	t.ServeHTTP(w, req)
}
