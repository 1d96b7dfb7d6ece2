// Command echo is the custom handler the customhandler tests start: it answers each function by
// its name (see the tests) and listens on FUNCTIONS_CUSTOMHANDLER_PORT.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

func main() {
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" || os.Getenv("FUNCTIONS_HTTPWORKER_PORT") != port {
		fmt.Fprintln(os.Stderr, "FUNCTIONS_CUSTOMHANDLER_PORT and FUNCTIONS_HTTPWORKER_PORT must be set alike")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var deaf atomic.Bool
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/" {
			w.WriteHeader(http.StatusNotFound) // any answer means ready
			return
		}
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.URL.Path, "/api/drop") { // a forwarded request the handler drops
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/huge") { // a forwarded request answered with 8 MiB
			io.WriteString(w, strings.Repeat("x", 8<<20))
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") { // a forwarded request (enableForwardingHttpRequest)
			w.Header().Set("X-Fwd", r.Header.Get("X-In"))
			w.WriteHeader(http.StatusTeapot)
			fmt.Fprintf(w, "forwarded %s %s %s", r.Method, r.URL.RequestURI(), body)
			return
		}
		fn := strings.TrimPrefix(r.URL.Path, "/")
		fmt.Println("handling", fn)
		reply := func(v any) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		}
		switch fn {
		case "Echo":
			// The whole request (with headers and env) as one output; quirk probes as others.
			reply(map[string]any{
				"Outputs": map[string]any{
					"req":     map[string]any{"body": json.RawMessage(body), "invocationId": r.Header.Get("X-Azure-Functions-InvocationId"), "userAgent": r.UserAgent(), "workerId": os.Getenv("FUNCTIONS_CUSTOMHANDLER_WORKER_ID"), "appRoot": os.Getenv("FUNCTIONS_APP_ROOT_PATH"), "fromSettings": os.Getenv("FromLocalSettings")},
					"text":    "output1Value",
					"list":    []any{"plain!", map[string]any{"n": 1}},
					"unknown": "ignored",
				},
				"Logs":        []string{"log line one", "log line two"},
				"ReturnValue": "not base64!",
			})
		case "HttpEcho":
			reply(map[string]any{"Outputs": map[string]any{"res": map[string]any{"statusCode": "201", "headers": map[string]string{"X-Test": "1"}, "body": string(body)}}})
		case "Fail":
			w.WriteHeader(http.StatusInternalServerError)
			reply(map[string]any{"Outputs": map[string]any{"text": "x"}, "Logs": []string{"dropped"}})
		case "NotJSON":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, `{"Outputs":{"text":"x"}}`)
		case "Deaf": // stops listening, answers, and exits 500 ms later: requests meanwhile are refused
			deaf.Store(true)
			l.Close()
			w.Header().Set("Connection", "close")
			reply(map[string]any{})
			go func() { time.Sleep(500 * time.Millisecond); os.Exit(4) }()
		case "Crash":
			fmt.Fprintln(os.Stderr, "crashing on purpose")
			os.Exit(3)
		default:
			reply(map[string]any{})
		}
	})
	err = http.Serve(l, nil)
	if deaf.Load() {
		select {} // the exit above ends the process
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
