package azhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

type benchIn struct{ Name string }
type benchOut struct {
	Hello string `json:"hello"`
}

var benchBody = []byte(`{"name": "bench"}`)

func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/api/hello/42", bytes.NewReader(benchBody))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// BenchmarkTrigger: one request through the host's router, the HTTP trigger, the runtime and
// the http output (no network), for allocations per request; BenchmarkPlain is net/http doing
// the same work.
func BenchmarkTrigger(b *testing.B) {
	h, err := extension.NewHost(extension.HostOptions{Settings: connection.NewSettings(), Logger: slog.New(slog.DiscardHandler), HostID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	err = h.Func("hello", extension.Func(func(_ context.Context, v benchIn) (azhttp.Response, error) {
		return azhttp.JSON(http.StatusOK, benchOut{Hello: v.Name}), nil
	}), azhttp.Trigger("req", &azhttp.TriggerOptions{Route: "hello/{id:int}", Methods: []string{"POST"}, AuthLevel: driver.AuthAnonymous}), azhttp.Output("$return"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	handler := h.Handler()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, benchRequest())
		if rec.Code == http.StatusOK {
			if rec.Body.String() != `{"hello":"bench"}` {
				b.Fatalf("reply %q", rec.Body.String())
			}
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("never served: %d", rec.Code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := benchRequest()
		w := discardWriter{h: http.Header{}}
		handler.ServeHTTP(&w, r)
	}
}

func BenchmarkPlain(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var v benchIn
		json.Unmarshal(body, &v)
		out, _ := json.Marshal(benchOut{Hello: v.Name})
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(out)
	})
	b.ReportAllocs()
	for b.Loop() {
		r := benchRequest()
		w := discardWriter{h: http.Header{}}
		handler.ServeHTTP(&w, r)
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(c int)           { w.code = c }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// The server's connection deadlines (what http.ResponseController sets for the host's body-rate
// guard), so that the benchmark does not measure errNotSupported.
func (w *discardWriter) SetReadDeadline(time.Time) error  { return nil }
func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }
