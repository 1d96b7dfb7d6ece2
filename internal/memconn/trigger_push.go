package memconn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

// PushPath is where the host's Mux receives pushes for memPushTrigger functions, as Functions
// routes extension webhooks (runtime/webhooks/<extension>?functionName=<function>, reference §3.7).
const PushPath = "/runtime/webhooks/memory"

// PushURL is the URL of function's webhook on a host served at baseURL.
func PushURL(baseURL, function string) string {
	return strings.TrimSuffix(baseURL, "/") + PushPath + "?functionName=" + function
}

// memPushTrigger: {"type": "memPushTrigger", "cardinality": "one"|"many"}. A POST to PushURL runs
// the function with the request body (a JSON array of items for many) and answers 202 when it
// succeeded, 500 when it failed, 503 when the host is stopping (the sender must push again later).

type pushTrigger struct {
	function string
	many     bool
	router   *pushRouter

	mu       sync.Mutex
	ctx      context.Context // Run's context: nil before Run and after it has stopped accepting
	exec     driver.Executor
	inflight sync.WaitGroup
}

func newPushTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	// One router per host, mounted on the host's Mux; Shared keeps it with the host.
	r, err := driver.Shared(ctx, bc.Host, pushRouterKey{}, func(context.Context) (*pushRouter, error) {
		return mountRouter(bc.Host.Mux), nil
	})
	if err != nil {
		return nil, err
	}
	return &pushTrigger{function: bc.Function, many: bc.Spec.Many(), router: r}, nil
}

// BindingData implements driver.BindingDataContract.
func (t *pushTrigger) BindingData() []string { return []string{"Id", "*"} }

// Run implements driver.Trigger: accept pushes until ctx is cancelled, then answer 503 and wait
// for the invocations already accepted.
func (t *pushTrigger) Run(ctx context.Context, exec driver.Executor) error {
	t.mu.Lock()
	t.ctx, t.exec = ctx, exec
	t.mu.Unlock()
	t.router.add(t.function, t)
	defer t.router.remove(t.function, t)
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
		http.Error(w, res.Err.Error(), http.StatusInternalServerError)
	default: // cancelled at shutdown: not processed, push again
		http.Error(w, "the host stopped before the invocation finished", http.StatusServiceUnavailable)
	}
}

type pushRouterKey struct{}

// pushRouter dispatches PushPath requests to the running trigger of the named function.
type pushRouter struct {
	mu    sync.Mutex
	funcs map[string]*pushTrigger // by lower-case function name
}

// mountRouter returns the router mounted on mux, mounting one if there is none yet. (A Mux never
// forgets a pattern, and mounting one twice panics; the router outlives the host's Shared values
// when the host closes and reopens them, as Verify then Run does.)
func mountRouter(mux driver.Mux) *pushRouter {
	if m, ok := mux.(interface {
		Handler(*http.Request) (http.Handler, string)
	}); ok {
		probe, _ := http.NewRequest(http.MethodPost, PushPath, nil)
		if h, pattern := m.Handler(probe); pattern == PushPath {
			if r, ok := h.(*pushRouter); ok {
				return r
			}
		}
	}
	r := &pushRouter{funcs: map[string]*pushTrigger{}}
	mux.Handle(PushPath, r)
	return r
}

func (r *pushRouter) add(name string, t *pushTrigger) {
	r.mu.Lock()
	r.funcs[strings.ToLower(name)] = t
	r.mu.Unlock()
}

func (r *pushRouter) remove(name string, t *pushTrigger) {
	r.mu.Lock()
	if r.funcs[strings.ToLower(name)] == t {
		delete(r.funcs, strings.ToLower(name))
	}
	r.mu.Unlock()
}

func (r *pushRouter) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
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
