package eventgrid

import (
	"context"
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

// SystemKeyName is the host system key that callers of the Event Grid webhook present (kept by
// the runtime with the host's other keys, in host.json systemKeys; see `azbind keys`).
const SystemKeyName = "eventgrid_extension"

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
	// "blobs"); callers present the system key "<extension>_extension" (or the master key).
	Extension string
	// Function is the functionName query value that selects this endpoint, matched exactly (as
	// the Event Grid extension's listener table does).
	Function string
	// Schema decides the handshakes' 409 answers.
	Schema Schema
	// Deliver handles the events of one Notification request (each a JSON object as sent). nil ⇒
	// 202; an error ⇒ 500 "Exception while executing function: <Function>" as the extension
	// answers, the error itself logged (Event Grid delivers the whole request again), or 503 when
	// it wraps ErrRetryLater.
	Deliver func(ctx context.Context, events []json.RawMessage) error
}

// Listen serves ep on the host's webhook route /runtime/webhooks/<extension> (mounted on
// Services.Router, at AuthSystem with the system key "<extension>_extension", the first time
// any endpoint of the extension listens on the host, and unmounted when the host closes its
// shared values) until ctx is cancelled, then answers 503 to new requests for it and returns
// once the requests in flight have been answered. The router checks the key — the system key or
// the master key as the code query parameter or the x-functions-key header — before a request
// reaches the endpoint. Listen is how pushed triggers (eventGridTrigger; the blob trigger with
// source EventGrid) implement driver.Trigger.Run.
func Listen(ctx context.Context, s *driver.Services, ep Endpoint) error {
	if ep.Deliver == nil || ep.Extension == "" || strings.Contains(ep.Extension, "/") {
		return fmt.Errorf("eventgrid: Listen: endpoint needs an extension name without '/' and a Deliver function")
	}
	ext := strings.ToLower(ep.Extension)
	wh, err := driver.Shared(ctx, s, webhookID{ext}, func(context.Context) (*webhook, error) {
		wh := &webhook{ext: ext, log: s.Logger, funcs: map[string]*endpointState{}}
		unmount, err := s.Router.Mount(driver.Route{Template: strings.TrimPrefix(WebhookPrefix, "/") + ext, Level: driver.AuthSystem, SystemKey: ext + "_extension", Handler: wh})
		if err != nil {
			return nil, fmt.Errorf("eventgrid: mount %s%s: %w", WebhookPrefix, ext, err)
		}
		wh.unmount = unmount
		return wh, nil
	})
	if err != nil {
		return err
	}
	st, err := wh.add(ep)
	if err != nil {
		return err
	}
	<-ctx.Done()
	st.stop()
	return nil
}

type webhookID struct{ ext string }

// webhook is one extension's endpoint table on the host's router (a driver.Shared value): the
// functionName query parameter selects the endpoint, as the Functions extensions' listener
// tables do.
type webhook struct {
	ext     string
	log     *slog.Logger
	unmount func()
	mu      sync.RWMutex
	funcs   map[string]*endpointState
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

func (wh *webhook) add(ep Endpoint) (*endpointState, error) {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if prev, dup := wh.funcs[ep.Function]; dup {
		prev.mu.Lock()
		stopped := prev.draining
		prev.mu.Unlock()
		if !stopped {
			return nil, fmt.Errorf("eventgrid: function %q already listens on %s%s: %w", ep.Function, WebhookPrefix, wh.ext, driver.ErrInvalidConfig)
		}
	}
	st := &endpointState{ep: ep}
	wh.funcs[ep.Function] = st
	return st, nil
}

// Close unmounts the route and makes every endpoint answer 503 (the runtime closes shared
// values after the drain).
func (wh *webhook) Close() error {
	wh.unmount()
	wh.mu.RLock()
	defer wh.mu.RUnlock()
	for _, st := range wh.funcs {
		st.mu.Lock()
		st.draining = true
		st.mu.Unlock()
	}
	return nil
}

func (wh *webhook) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	fn := req.URL.Query().Get("functionName")
	wh.mu.RLock()
	st := wh.funcs[fn]
	names := make([]string, 0, len(wh.funcs))
	for n := range wh.funcs {
		names = append(names, n)
	}
	wh.mu.RUnlock()
	if fn == "" || st == nil {
		wh.log.Info("cannot find function", slog.String("webhook", wh.ext), slog.String("function", fn), slog.Any("available", names))
		writeText(w, http.StatusNotFound, fmt.Sprintf("cannot find function: '%s'", fn))
		return
	}
	if !st.enter() {
		w.Header().Set("Retry-After", "10")
		writeText(w, http.StatusServiceUnavailable, "the host is shutting down")
		return
	}
	defer st.inflight.Done()
	serveEndpoint(w, req, &st.ep, wh.log)
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
			if errors.Is(err, ErrRetryLater) {
				w.Header().Set("Retry-After", "10")
				writeText(w, http.StatusServiceUnavailable, "the host is shutting down")
				return
			}
			// The caller learns only that the function failed, in the extension's words; the
			// error itself is for the host log.
			log.Error("Event Grid delivery failed", slog.String("webhook", ep.Extension), slog.String("function", ep.Function), slog.Int("events", len(events)), slog.String("error", connection.ScrubText(err.Error())))
			writeText(w, http.StatusInternalServerError, "Exception while executing function: "+ep.Function)
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
