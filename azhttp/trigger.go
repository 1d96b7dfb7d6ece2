package azhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/route"
)

// Stream is the escape hatch for streaming: a handler whose trigger parameter is a *Stream gets
// the live request and response writer (the body is not buffered) and answers through W; see
// Handle. Output bindings still flush after the handler returns; an `http` output is then
// ignored if W was written.
type Stream struct {
	W http.ResponseWriter
	R *http.Request
}

// Handle adapts an http.Handler to a handler for an httpTrigger (wrap it with extension.Action):
// the handler serves the request itself, with the invocation's context (cancelled at the
// function timeout and after the host's drain deadline).
func Handle(h http.Handler) func(context.Context, *Stream) error {
	return func(ctx context.Context, s *Stream) error {
		if v := driver.RouteValues(s.R); v != nil {
			ctx = driver.WithRouteValues(ctx, v)
		}
		h.ServeHTTP(s.W, s.R.WithContext(ctx))
		return nil
	}
}

type mode int

const (
	modeBody    mode = iota // Data is the buffered body ([]byte), converted by the runtime
	modeRequest             // Data is the *http.Request, its body buffered (readable again)
	modeStream              // Data is a *Stream, nothing buffered
)

var (
	requestType = reflect.TypeFor[*http.Request]()
	streamType  = reflect.TypeFor[*Stream]()
)

type trigger struct {
	function string
	route    driver.Route
	params   []string
	mode     mode
	object   bool // the handler takes a struct or map: an empty body is {} (as Functions creates an empty instance)
	router   driver.Router
	logger   *slog.Logger

	mu       sync.Mutex
	ctx      context.Context
	exec     driver.Executor
	inflight sync.WaitGroup
	unmount  func()
	started  chan struct{} // closed when Run begins: requests that came before it wait for it
	stopped  bool
}

func isHTTPTrigger(t string) bool { return strings.EqualFold(t, "httpTrigger") }

// routeTable records the templates of a host's HTTP functions, so that two functions with the
// same route are an error at load time rather than when the second one starts.
type routeTable struct {
	mu   sync.Mutex
	byID map[string]string // template key + methods -> function
}

type routeTableKey struct{}

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var p struct {
		Route     string   `binding:"route"`
		Methods   []string `binding:"methods"`
		AuthLevel string   `binding:"authLevel"`
	}
	if err := bc.Decode(&p); err != nil {
		return nil, err
	}
	level, err := driver.ParseAuthLevel(p.AuthLevel)
	if err != nil {
		return nil, bc.Errorf("authLevel", `use "anonymous", "function" or "admin"`, "%q is not an authorization level", p.AuthLevel)
	}
	opts, err := driver.Section[Options](ctx, bc)
	if err != nil {
		return nil, err
	}
	r := strings.Trim(p.Route, "/")
	if r == "" {
		r = bc.Function
	}
	tmplText := r
	if prefix := routePrefix(opts, bc); prefix != "" {
		tmplText = prefix + "/" + r
	}
	tmpl, err := route.Parse(tmplText)
	if err != nil {
		return nil, bc.Errorf("route", "write an ASP.NET Core route template such as products/{id:int}", "%w", err)
	}
	if first, _, _ := strings.Cut(tmplText, "/"); strings.EqualFold(first, "admin") || strings.EqualFold(first, "runtime") {
		// As Functions: "The specified route conflicts with one or more built in routes."
		return nil, bc.Errorf("route", "choose a route that does not start with admin/ or runtime/ (or keep the routePrefix)",
			"the route %q conflicts with the host's built-in routes", tmplText)
	}
	methods := make([]string, 0, len(p.Methods))
	for _, m := range p.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !isToken(m) { // (a method is an RFC 9110 token: "GET,POST" in one string is none)
			return nil, bc.Errorf("methods", `list HTTP methods such as ["get", "post"]`, "%q is not an HTTP method", m)
		}
		methods = append(methods, m)
	}
	table, err := driver.Shared(ctx, bc.Host, routeTableKey{}, func(context.Context) (*routeTable, error) {
		return &routeTable{byID: map[string]string{}}, nil
	})
	if err != nil {
		return nil, err
	}
	if err := table.claim(tmpl.Key(), methods, bc.Function); err != nil {
		return nil, bc.Errorf("route", "give each HTTP function its own route or methods", "%w", err)
	}
	t := &trigger{function: bc.Function, params: tmpl.Params(), router: bc.Host.Router, logger: bc.Host.Logger}
	t.route = driver.Route{Template: tmplText, Methods: methods, Level: level, Function: bc.Function, Handler: t}
	switch {
	case bc.Param == streamType:
		t.mode = modeStream
	case bc.Param == nil || bc.Param == requestType || bc.Param.Kind() == reflect.Interface:
		t.mode = modeRequest
	default:
		k := bc.Param.Kind()
		if k == reflect.Pointer {
			k = bc.Param.Elem().Kind()
		}
		t.object = k == reflect.Struct || k == reflect.Map
	}
	// Mounted when built, before the host listens: a request that arrives before Run gets 503
	// with Retry-After (never a 404 for a route that exists), and a host that answers its ping
	// serves every HTTP function. Close unmounts.
	unmount, err := t.router.Mount(t.route)
	if err != nil {
		return nil, bc.Errorf("route", "give each HTTP function its own route or methods", "%w", err)
	}
	t.unmount = unmount
	t.started = make(chan struct{})
	return t, nil
}

// Close implements io.Closer: the route is removed (the runtime closes the trigger after the
// drain, or at once after Verify).
func (t *trigger) Close() error {
	if t.unmount != nil {
		t.unmount()
	}
	return nil
}

// isToken reports whether s is an RFC 9110 token (tchar+), the syntax of an HTTP method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (rt *routeTable) claim(key string, methods []string, function string) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	ms := methods
	if len(ms) == 0 {
		ms = []string{"*"}
	}
	for _, m := range ms {
		for id, f := range rt.byID {
			k, om, _ := strings.Cut(id, " ")
			if k == key && f != function && (m == "*" || om == "*" || om == m) {
				return fmt.Errorf("the route %q (%s) is already the route of function %q", key, m, f)
			}
		}
	}
	for _, m := range ms {
		rt.byID[key+" "+m] = function
	}
	return nil
}

// BindingData implements driver.BindingDataContract: the route's parameters, Query and Headers,
// and "*" for query parameters and JSON body members, known only per request.
func (t *trigger) BindingData() []string {
	return append(append([]string{}, t.params...), "Query", "Headers", "*")
}

// Run implements driver.Trigger: requests are executed from Run's start until it returns; after
// ctx is cancelled new requests get 503 while the accepted ones finish.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	t.mu.Lock()
	t.ctx, t.exec = ctx, exec
	close(t.started)
	t.mu.Unlock()
	<-ctx.Done()
	t.mu.Lock()
	t.exec, t.stopped = nil, true // no inflight.Add after this point
	t.mu.Unlock()
	t.inflight.Wait()
	return nil
}

// noPayload is a non-nil empty Payload: the runtime then derives no JSON-member binding data of its
// own, and the body's members come from the metadata, below route values and query parameters
// (the precedence of Functions' HttpTriggerAttributeBindingProvider).
var noPayload = []byte{}

var emptyObject = []byte("{}")

func (t *trigger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.mu.Lock()
	if t.exec == nil && !t.stopped {
		// Mounted, the host listening, Run not started yet (it starts right after the server):
		// wait for it a little rather than refuse a request the host is about to serve.
		t.mu.Unlock()
		timer := time.NewTimer(10 * time.Second)
		select {
		case <-t.started:
		case <-timer.C:
		case <-r.Context().Done():
		}
		timer.Stop()
		t.mu.Lock()
	}
	ctx, exec := t.ctx, t.exec
	if exec == nil {
		t.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	t.inflight.Add(1)
	t.mu.Unlock()
	defer t.inflight.Done()

	m := &meta{r: r, route: driver.RouteValues(r)}
	ev := &driver.Event{Payload: noPayload, Metadata: m, ID: r.URL.Path}
	var tw *trackingWriter
	switch t.mode {
	case modeStream:
		tw = &trackingWriter{ResponseWriter: w}
		ev.Data = &Stream{W: tw, R: r}
	default:
		body, err := readBody(r)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the request body failed", http.StatusBadRequest)
			return
		}
		m.body = body
		if t.mode == modeRequest {
			if body != nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
			}
			ev.Data = r
		} else {
			switch {
			case len(body) == 0 && t.object:
				ev.Data = emptyObject
			case body == nil:
				ev.Data = []byte{}
			default:
				ev.Data = body
			}
		}
	}
	res := exec.Execute(ctx, ev)
	if tw != nil && tw.wrote {
		return // the handler answered itself
	}
	switch res.Status {
	case driver.Succeeded:
		t.write(w, res.Reply)
	case driver.Failed:
		// As Functions: a 500 without the error's text (the runtime logged it).
		w.WriteHeader(http.StatusInternalServerError)
	default:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// write sends the invocation's reply; none is Functions' OkResult (200, no body).
func (t *trigger) write(w http.ResponseWriter, v any) {
	var rep driver.HTTPReply
	switch x := v.(type) {
	case nil:
		w.WriteHeader(http.StatusOK)
		return
	case *driver.HTTPReply:
		rep = *x
	case driver.HTTPReply:
		rep = x
	default:
		var err error
		if rep, err = reply(v); err != nil {
			t.logger.Error("http reply", slog.String("function", t.function), slog.String("error", err.Error()))
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if checkStatus(status) != nil {
		t.logger.Error("http reply: invalid status code", slog.String("function", t.function), slog.Int("status", status))
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h := w.Header()
	for k, v := range rep.Header {
		h[k] = v
	}
	// (net/http sets Content-Length itself for a body that fits its buffer.)
	if len(rep.Body) > 2048 && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.Itoa(len(rep.Body)))
	}
	w.WriteHeader(status)
	if len(rep.Body) > 0 {
		w.Write(rep.Body)
	}
}

// readBody buffers the request body (bounded by the host's body limit, which the server applies
// while reading); nil when there is none.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, nil
	}
	if n := r.ContentLength; n > 0 && n <= 1<<20 { // a declared length is only trusted for small bodies
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(r.Body)
	if len(b) == 0 && err == nil {
		return nil, nil
	}
	return b, err
}

type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) { w.wrote = true; w.ResponseWriter.WriteHeader(code) }
func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (w *trackingWriter) Flush() {
	w.wrote = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// meta is the trigger's binding data, in Functions' precedence: route values, query parameters
// (not `code`), JSON body members, then Query and Headers (maps; the key in `code` and
// `x-functions-key` left out, where Functions keeps them).
type meta struct {
	r     *http.Request
	route map[string]string
	body  []byte

	qOnce sync.Once
	query url.Values

	bOnce   sync.Once
	members map[string]any
}

func (m *meta) queryValues() url.Values {
	m.qOnce.Do(func() { m.query = m.r.URL.Query() })
	return m.query
}

func (m *meta) bodyMembers() map[string]any {
	m.bOnce.Do(func() {
		b := bytes.TrimSpace(m.body)
		if len(b) > 0 && b[0] == '{' {
			var v map[string]any
			if json.Unmarshal(b, &v) == nil {
				m.members = v
			}
		}
	})
	return m.members
}

func lookupFold[V any](m map[string]V, name string) (V, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// Lookup implements driver.Metadata.
func (m *meta) Lookup(name string) (any, bool) {
	if v, ok := lookupFold(m.route, name); ok {
		return v, true
	}
	if !strings.EqualFold(name, "code") {
		if v, ok := lookupFold(m.queryValues(), name); ok {
			return strings.Join(v, ","), true
		}
	}
	if v, ok := lookupFold(m.bodyMembers(), name); ok {
		return v, true
	}
	switch {
	case strings.EqualFold(name, "Query"):
		q := make(map[string]string, len(m.queryValues()))
		for k, v := range m.queryValues() {
			if !strings.EqualFold(k, "code") {
				q[k] = strings.Join(v, ",")
			}
		}
		return q, true
	case strings.EqualFold(name, "Headers"):
		h := make(map[string]string, len(m.r.Header))
		for k, v := range m.r.Header {
			if !strings.EqualFold(k, "x-functions-key") {
				h[k] = strings.Join(v, ",")
			}
		}
		return h, true
	}
	return nil, false
}
