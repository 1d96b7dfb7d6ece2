package azhttp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/azbind/azbind/azhttp"
	"github.com/azbind/azbind/extension"
)

// get polls url while it answers 404 (until the host's trigger has mounted its route, which it
// does when Run starts it), up to wait.
// get polls url while the route is not mounted yet (404) or not yet running (503, Retry-After).
func get(url string, wait time.Duration) (int, string) {
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp.StatusCode, string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An HTTP function: a route with a constrained parameter, a JSON reply.
func Example() {
	host, err := extension.NewHost(extension.HostOptions{HostID: "example", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = host.Func("Hello", extension.Func(func(ctx context.Context, r *http.Request) (azhttp.Response, error) {
		return azhttp.JSON(http.StatusOK, map[string]string{"hello": azhttp.RouteValues(r)["name"]}), nil
	}), azhttp.Trigger("req", &azhttp.TriggerOptions{Route: "hello/{name:alpha}", Methods: []string{"GET"}, AuthLevel: azhttp.Anonymous}),
		azhttp.Output("$return"))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(host.Handler()) // or HostOptions.HTTPAddr
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	defer func() { cancel(); <-done }()

	fmt.Println(get(srv.URL+"/api/hello/gopher", 10*time.Second))
	fmt.Println(get(srv.URL+"/api/hello/42", 0)) // the constraint does not match: 404, as Functions
	// Output:
	// 200 {"hello":"gopher"}
	// 404 404 page not found
}

// Handle serves a function with an http.Handler: it writes the response itself, streaming.
func ExampleHandle() {
	host, err := extension.NewHost(extension.HostOptions{HostID: "example", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	events := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			http.NewResponseController(w).Flush()
		}
	})
	err = host.Func("Events", extension.Action(azhttp.Handle(events)),
		azhttp.Trigger("req", &azhttp.TriggerOptions{AuthLevel: azhttp.Anonymous}))
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(host.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	defer func() { cancel(); <-done }()

	code, body := get(srv.URL+"/api/Events", 10*time.Second)
	fmt.Printf("%d %q\n", code, body)
	// Output: 200 "data: 0\n\ndata: 1\n\ndata: 2\n\n"
}
