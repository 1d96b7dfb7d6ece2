package extension

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// The host's own endpoints, mounted on its Mux when Run starts:
//
//	GET /admin/host/ping   200 while running, 503 once the host drains (readiness)
//	GET /admin/host/status {"id", "state", "functions"}: state is "running" or "draining"
//	GET /admin/scale       the backlog of every trigger that implements driver.Scaler
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
				fs.Error = err.Error()
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

func (h *Host) mountAdmin() {
	mux := h.services.Mux
	state := func() (string, int) {
		select {
		case <-h.draining:
			return "draining", http.StatusServiceUnavailable
		default:
			return "running", http.StatusOK
		}
	}
	mux.Handle("/admin/host/ping", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, code := state()
		w.WriteHeader(code)
	}))
	mux.Handle("/admin/host/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, code := state()
		h.mu.Lock()
		names := make([]string, 0, len(h.funcs))
		for _, f := range h.funcs {
			names = append(names, f.name)
		}
		h.mu.Unlock()
		writeJSON(w, code, map[string]any{"id": h.services.HostID, "state": s, "functions": names})
	}))
	var cache scaleCache
	mux.Handle("/admin/scale", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		if cache.report == nil || time.Since(cache.at) >= time.Second {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			cache.report, cache.at = h.Scale(ctx), time.Now()
			cancel()
		}
		writeJSON(w, http.StatusOK, cache.report)
	}))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("admin endpoint: write", slog.String("error", err.Error()))
	}
}
