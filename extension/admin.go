package extension

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// The host's own endpoints, mounted on its router when Run starts. Only ping is anonymous; the
// others need the master key (x-functions-key header or code query parameter), as in Functions:
//
//	GET  /admin/host/ping        200 while running, 503 once the host drains (readiness)
//	GET  /admin/host/status      {"id", "state", "functions"}: state is "running" or "draining"
//	GET  /admin/scale            the backlog of every trigger that implements driver.Scaler
//	POST /admin/functions/<Name> {"input": "…"}: run the function once, whatever its trigger (202)
//
// No answer carries a service's own error: a figure that could not be read says so, and the
// detail (redacted) is in the host log.
//
// /admin/scale answers
//
//	{"backlog": 40, "targetInstances": 3,
//	 "functions": [{"name": "work", "trigger": "queueTrigger", "backlog": 40,
//	                "targetPerInstance": 16, "targetInstances": 3}]}
//
// with targetInstances = ceil(backlog / targetPerInstance) per function and their sum for the
// host (Functions' target-based scaling, reference §5.6; a function whose figure could not be
// read carries "error" and counts as 0). KEDA's metrics-api scaler reads it with
// valueLocation "targetInstances" and targetValue "1", or per function with
// valueLocation `functions.#(name=="work").backlog` and targetValue the per-instance target.
// The figures are read when asked, at most once a second (concurrent scrapes share one read).

// ScaleReport is the /admin/scale document.
type ScaleReport struct {
	Backlog         int64           `json:"backlog"`
	TargetInstances int64           `json:"targetInstances"`
	Functions       []FunctionScale `json:"functions"`
}

// FunctionScale is one function's scale figures.
type FunctionScale struct {
	Name              string `json:"name"`
	Trigger           string `json:"trigger"`
	Backlog           int64  `json:"backlog"`
	TargetPerInstance int64  `json:"targetPerInstance"`
	TargetInstances   int64  `json:"targetInstances"`
	Error             string `json:"error,omitempty"`
}

type scaleCache struct {
	mu     sync.Mutex
	at     time.Time
	report *ScaleReport
}

// Scale reads the scale figures of every running function whose trigger implements
// driver.Scaler (see the /admin/scale endpoint).
func (h *Host) Scale(ctx context.Context) *ScaleReport {
	h.mu.Lock()
	funcs := h.funcs
	h.mu.Unlock()
	rep := &ScaleReport{Functions: []FunctionScale{}}
	var wg sync.WaitGroup
	results := make([]*FunctionScale, len(funcs))
	for i, f := range funcs {
		sc, ok := f.trigger.(driver.Scaler)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs := &FunctionScale{Name: f.name, Trigger: f.trigType}
			m, err := sc.Scale(ctx)
			if err != nil {
				h.logger.Warn("scale: the trigger's figures could not be read", slog.String("function", f.name), slog.String("trigger", f.trigType), slog.String("error", connection.ScrubText(err.Error())))
				fs.Error = adminScrubbed
			} else {
				fs.Backlog, fs.TargetPerInstance = m.Backlog, max(m.TargetPerInstance, 1)
				fs.TargetInstances = (m.Backlog + fs.TargetPerInstance - 1) / fs.TargetPerInstance
			}
			results[i] = fs
		}()
	}
	wg.Wait()
	for _, fs := range results {
		if fs == nil {
			continue
		}
		rep.Functions = append(rep.Functions, *fs)
		rep.Backlog += fs.Backlog
		rep.TargetInstances += fs.TargetInstances
	}
	return rep
}

// adminScrubbed is what /admin/scale says of a function whose figures could not be read; the
// service's own error (endpoints, names, SAS details) goes to the host log only.
const adminScrubbed = "the trigger's service could not be read; see the host log"

// mountAdmin mounts the host's own endpoints on its router: /admin/host/ping anonymous, every
// other /admin path for the master key only (as Functions).
func (h *Host) mountAdmin() error {
	state := func() (string, int) {
		select {
		case <-h.draining:
			return "draining", http.StatusServiceUnavailable
		default:
			return "running", http.StatusOK
		}
	}
	var cache scaleCache
	routes := []driver.Route{
		{Template: "admin/host/ping", Level: driver.AuthAnonymous, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, code := state()
			w.WriteHeader(code)
		})},
		{Template: "admin/host/status", Level: driver.AuthAdmin, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, code := state()
			h.mu.Lock()
			names := make([]string, 0, len(h.funcs))
			for _, f := range h.funcs {
				names = append(names, f.name)
			}
			h.mu.Unlock()
			writeJSON(w, code, map[string]any{"id": h.services.HostID, "state": s, "functions": names})
		})},
		{Template: "admin/scale", Level: driver.AuthAdmin, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cache.mu.Lock()
			defer cache.mu.Unlock()
			if cache.report == nil || time.Since(cache.at) >= time.Second {
				ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
				cache.report, cache.at = h.Scale(ctx), time.Now()
				cancel()
			}
			writeJSON(w, http.StatusOK, cache.report)
		})},
		{Template: "admin/functions/{name}", Methods: []string{http.MethodPost}, Level: driver.AuthAdmin, Handler: http.HandlerFunc(h.serveInvoke)},
		// Every other admin path needs the master key too (and then is not found).
		{Template: "admin/{*rest}", Level: driver.AuthAdmin, Handler: http.NotFoundHandler()},
	}
	for _, rt := range routes {
		if _, err := h.services.Router.Mount(rt); err != nil {
			return fmt.Errorf("admin endpoints: %w", err)
		}
	}
	return nil
}

// serveInvoke is POST /admin/functions/<name> {"input": "…"}: run the function once with input as
// its trigger value, whatever its trigger, and answer 202 at once (Functions' FunctionsController
// Invoke: 400 without a body, 404 for an unknown function, the invocation runs in the background
// and its outcome is logged). Input arrives as Event.Data, a string.
func (h *Host) serveInvoke(w http.ResponseWriter, r *http.Request) {
	name := driver.RouteValues(r)["name"]
	var body struct {
		Input *string `json:"input"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("request body is over the limit of %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, `the body must be a JSON object {"input": "…"}`, http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	var f *function
	for _, x := range h.funcs {
		if strings.EqualFold(x.name, name) {
			f = x
		}
	}
	h.mu.Unlock()
	if f == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	input := ""
	if body.Input != nil {
		input = *body.Input
	}
	if !h.manualStart() {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "the host is shutting down", http.StatusServiceUnavailable)
		return
	}
	go func() {
		defer h.manualWG.Done()
		res := f.Execute(context.Background(), &driver.Event{Data: input, Payload: []byte(input), ID: "manual", Reason: "Manual invocation (admin/functions)"})
		if res.Status != driver.Succeeded {
			h.logger.Warn("manual invocation did not succeed", slog.String("function", f.name), slog.String("status", res.Status.String()))
		}
	}()
	w.WriteHeader(http.StatusAccepted)
}

// manualStart registers a manual invocation; false once the host drains.
func (h *Host) manualStart() bool {
	h.manualMu.Lock()
	defer h.manualMu.Unlock()
	if h.manualClosed {
		return false
	}
	h.manualWG.Add(1)
	return true
}

// manualStop refuses new manual invocations and returns a channel closed when the running ones
// have finished.
func (h *Host) manualStop() <-chan struct{} {
	h.manualMu.Lock()
	h.manualClosed = true
	h.manualMu.Unlock()
	done := make(chan struct{})
	go func() { h.manualWG.Wait(); close(done) }()
	return done
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("admin endpoint: write", slog.String("error", err.Error()))
	}
}
