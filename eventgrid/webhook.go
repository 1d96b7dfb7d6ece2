package eventgrid

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// WebhookPrefix is the path under which the host serves extension webhooks:
// /runtime/webhooks/<extension>?functionName=<name>&code=<key>.
const WebhookPrefix = "/runtime/webhooks/"

// Schema is the event schema a function binds to. It decides the handshakes' 409 answers: a
// function that binds the Event Grid schema refuses the CloudEvents OPTIONS handshake, one that
// binds CloudEvents refuses the SubscriptionValidation handshake.
type Schema int

const (
	// SchemaAny: the function takes raw JSON (string, []byte, a struct, a map) and accepts both.
	SchemaAny Schema = iota
	// SchemaEventGrid: the function binds azeventgrid.Event.
	SchemaEventGrid
	// SchemaCloudEvents: the function binds messaging.CloudEvent.
	SchemaCloudEvents
)

func (s Schema) String() string {
	switch s {
	case SchemaEventGrid:
		return "EventGridEvent"
	case SchemaCloudEvents:
		return "CloudEvent"
	}
	return "any"
}

// ErrRetryLater, wrapped by an Endpoint's Deliver error, makes the webhook answer 503 instead of
// 500 (the events were not handled because the host is stopping; Event Grid delivers them again).
var ErrRetryLater = errors.New("not handled now: deliver again later")

// Endpoint is one function's endpoint on an extension webhook.
type Endpoint struct {
	// Extension is the webhook's path segment, matched case-insensitively ("eventgrid",
	// "blobs"); callers present the system key "<extension>_extension".
	Extension string
	// Function is the functionName query value that selects this endpoint, matched exactly (as
	// the Event Grid extension's listener table does).
	Function string
	// Schema decides the handshakes' 409 answers.
	Schema Schema
	// Deliver handles the events of one Notification request (each a JSON object as sent). nil ⇒
	// 202; an error ⇒ 500 with its message (Event Grid delivers the whole request again), or 503
	// when it wraps ErrRetryLater.
	Deliver func(ctx context.Context, events []json.RawMessage) error
}

// Listen serves ep on the host's webhook route (mounted on Services.Mux the first time any
// endpoint of the host listens) until ctx is cancelled, then answers 503 to new requests for it
// and returns once the requests in flight have been answered. Callers must present the system
// key "<extension>_extension" (SystemKey) as the code query parameter or the x-functions-key
// header. Listen is how pushed triggers (eventGridTrigger; the blob trigger with source
// EventGrid) implement driver.Trigger.Run.
func Listen(ctx context.Context, s *driver.Services, ep Endpoint) error {
	if ep.Deliver == nil || ep.Extension == "" || strings.Contains(ep.Extension, "/") {
		return fmt.Errorf("eventgrid: Listen: endpoint needs an extension name without '/' and a Deliver function")
	}
	key, err := SystemKey(ctx, s, strings.ToLower(ep.Extension)+"_extension")
	if err != nil {
		return err
	}
	r, err := driver.Shared(ctx, s, routerID{}, func(context.Context) (*router, error) {
		if s.Mux == nil {
			return nil, fmt.Errorf("eventgrid: the host has no HTTP mux to serve webhooks on")
		}
		return mountRouter(s.Mux, s.Logger), nil
	})
	if err != nil {
		return err
	}
	st, err := r.add(ep, key)
	if err != nil {
		return err
	}
	<-ctx.Done()
	st.stop()
	return nil
}

type routerID struct{}

// mountRouter returns the router mounted on mux, mounting one if there is none yet: a Mux never
// forgets a pattern and panics when one is mounted twice, while the host's Shared values may be
// closed and opened again.
func mountRouter(mux driver.Mux, log *slog.Logger) *router {
	if m, ok := mux.(interface {
		Handler(*http.Request) (http.Handler, string)
	}); ok {
		probe, _ := http.NewRequest(http.MethodPost, WebhookPrefix+"eventgrid", nil)
		if h, pattern := m.Handler(probe); pattern == WebhookPrefix {
			if r, ok := h.(*router); ok {
				return r
			}
		}
	}
	r := &router{exts: map[string]*webhookExt{}, log: log}
	mux.Handle(WebhookPrefix, r)
	return r
}

// router is the host's /runtime/webhooks/ handler (one per host, a driver.Shared value).
type router struct {
	log  *slog.Logger
	mu   sync.RWMutex
	exts map[string]*webhookExt // lower-case extension name
}

type webhookExt struct {
	key   []byte
	funcs map[string]*endpointState
}

// endpointState is one registered endpoint: draining once its Listen context ended.
type endpointState struct {
	ep       Endpoint
	mu       sync.Mutex
	draining bool
	inflight sync.WaitGroup
}

// enter registers a request; false once the endpoint drains.
func (e *endpointState) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining {
		return false
	}
	e.inflight.Add(1)
	return true
}

// stop makes new requests get 503 and waits for the requests in flight.
func (e *endpointState) stop() {
	e.mu.Lock()
	e.draining = true
	e.mu.Unlock()
	e.inflight.Wait()
}

func (r *router) add(ep Endpoint, key string) (*endpointState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := strings.ToLower(ep.Extension)
	x := r.exts[name]
	if x == nil {
		x = &webhookExt{funcs: map[string]*endpointState{}}
		r.exts[name] = x
	}
	x.key = []byte(key)
	if prev, dup := x.funcs[ep.Function]; dup {
		prev.mu.Lock()
		stopped := prev.draining
		prev.mu.Unlock()
		if !stopped {
			return nil, fmt.Errorf("eventgrid: function %q already listens on %s%s: %w", ep.Function, WebhookPrefix, name, driver.ErrInvalidConfig)
		}
	}
	st := &endpointState{ep: ep}
	x.funcs[ep.Function] = st
	return st, nil
}

// Close makes every endpoint answer 503 (the runtime closes shared values after the drain).
func (r *router) Close() error {
	r.mu.RLock()
	var all []*endpointState
	for _, x := range r.exts {
		for _, st := range x.funcs {
			all = append(all, st)
		}
	}
	r.mu.RUnlock()
	for _, st := range all {
		st.mu.Lock()
		st.draining = true
		st.mu.Unlock()
	}
	return nil
}

// presentedKey returns the key a caller presented: the x-functions-key header, else the code
// query parameter (the Functions host's order).
func presentedKey(req *http.Request) string {
	if k := req.Header.Get("x-functions-key"); k != "" {
		return k
	}
	return req.URL.Query().Get("code")
}

func (r *router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	seg := strings.TrimPrefix(req.URL.Path, WebhookPrefix)
	if seg == req.URL.Path || seg == "" || strings.Contains(seg, "/") {
		http.NotFound(w, req)
		return
	}
	r.mu.RLock()
	x := r.exts[strings.ToLower(seg)]
	var key []byte
	if x != nil {
		key = x.key
	}
	r.mu.RUnlock()
	if x == nil {
		http.NotFound(w, req)
		return
	}
	if k := presentedKey(req); k == "" || subtle.ConstantTimeCompare([]byte(k), key) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	fn := req.URL.Query().Get("functionName")
	r.mu.RLock()
	st := x.funcs[fn]
	names := make([]string, 0, len(x.funcs))
	for n := range x.funcs {
		names = append(names, n)
	}
	r.mu.RUnlock()
	if fn == "" || st == nil {
		r.log.Info("cannot find function", slog.String("webhook", seg), slog.String("function", fn), slog.Any("available", names))
		writeText(w, http.StatusNotFound, fmt.Sprintf("cannot find function: '%s'", fn))
		return
	}
	if !st.enter() {
		w.Header().Set("Retry-After", "10")
		writeText(w, http.StatusServiceUnavailable, "the host is shutting down")
		return
	}
	defer st.inflight.Done()
	serveEndpoint(w, req, &st.ep, r.log)
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// The CloudEvents abuse-protection origins Event Grid uses (the extension answers with the
// request's origin when it is one of these, else with the public cloud's).
var allowedOrigins = map[string]bool{
	"eventgrid.azure.net":              true,
	"eventgrid.azure.us":               true,
	"eventgrid.azure.eaglex.ic.gov":    true,
	"eventgrid.azure.microsoft.scloud": true,
	"eventgrid.azure.cn":               true,
}

const publicCloudOrigin = "eventgrid.azure.net"

// serveEndpoint runs the Event Grid extension's request handling (reference §3.7).
func serveEndpoint(w http.ResponseWriter, req *http.Request, ep *Endpoint, log *slog.Logger) {
	if req.Method == http.MethodOptions {
		if ep.Schema == SchemaEventGrid {
			writeText(w, http.StatusConflict, "CloudEvent schema cannot be used for a function that binds to EventGridEvent.")
			return
		}
		origin := publicCloudOrigin
		if vs := req.Header.Values("WebHook-Request-Origin"); len(vs) > 0 && allowedOrigins[vs[0]] {
			origin = vs[0]
		}
		w.Header().Set("WebHook-Allowed-Origin", origin)
		w.WriteHeader(http.StatusOK)
		return
	}
	typ := req.Header.Get("aeg-event-type")
	switch {
	case strings.EqualFold(typ, "SubscriptionValidation"):
		if ep.Schema == SchemaCloudEvents {
			writeText(w, http.StatusConflict, "EventGridEvent schema cannot be used for a function that binds to CloudEvent.")
			return
		}
		body, ok := readBody(w, req)
		if !ok {
			return
		}
		code, err := validationCode(body)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		log.Info("perform handshake with eventGrid for function", slog.String("function", ep.Function))
		resp, _ := json.Marshal(struct {
			ValidationResponse string `json:"validationResponse"`
		}{code})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(resp)
	case strings.EqualFold(typ, "Notification"):
		body, ok := readBody(w, req)
		if !ok {
			return
		}
		events, err := parseNotification(body)
		if err != nil {
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := ep.Deliver(req.Context(), events); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrRetryLater) {
				code = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", "10")
			}
			writeText(w, code, connection.ScrubText(err.Error()))
			return
		}
		w.WriteHeader(http.StatusAccepted)
	case strings.EqualFold(typ, "Unsubscribe"):
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// readBody reads the request body; a body over the host's limit gets 413.
func readBody(w http.ResponseWriter, req *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit))
			return nil, false
		}
		writeText(w, http.StatusBadRequest, "cannot read the request body")
		return nil, false
	}
	return body, true
}
