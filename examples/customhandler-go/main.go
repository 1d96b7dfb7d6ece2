// Command customhandler-go is an Azure Functions custom handler written in Go with the standard
// library only: the same program runs under the Functions host (`func start`, Azure) and under
// `azbind start`, unchanged. Build it into the app folder and start the app:
//
//	go build -o handler . && azbind start .
//
// It serves three functions (see their function.json): HttpEnqueue (HTTP → queue message),
// ProcessOrder (queue message → blob) and Tick (timer). Each invocation arrives as
// POST /<FunctionName> with {"Data": {…}, "Metadata": {…}} and is answered with
// {"Outputs": {…}, "Logs": […], "ReturnValue": …}.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

// invocation is the request body of every function.
type invocation struct {
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
}

// result is the answer.
type result struct {
	Outputs     map[string]any `json:"Outputs,omitempty"`
	Logs        []string       `json:"Logs,omitempty"`
	ReturnValue any            `json:"ReturnValue,omitempty"`
}

// text decodes a Data or Metadata value that is a string. The Functions host JSON-encodes
// strings (and numbers) once more inside Data and Metadata — "hello" arrives as "\"hello\"" and
// 3 as "3" — so a string whose content is itself a JSON string is decoded twice.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	var inner string
	if len(s) > 0 && s[0] == '"' && json.Unmarshal([]byte(s), &inner) == nil {
		return inner
	}
	return s
}

type order struct {
	ID   string `json:"id"`
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

func main() {
	port := os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		port = "8080"
	}
	// ORDER_DELAY_MS (an app setting) slows ProcessOrder down, for demonstrations under load.
	delay, _ := strconv.Atoi(os.Getenv("ORDER_DELAY_MS"))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /HttpEnqueue", func(w http.ResponseWriter, r *http.Request) {
		var inv invocation
		if err := json.NewDecoder(r.Body).Decode(&inv); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// The HTTP trigger arrives as {Url, Method, Query, Headers, Params, Identities, Body}.
		var req struct {
			Body  string
			Query map[string]string
		}
		_ = json.Unmarshal(inv.Data["req"], &req)
		var o order
		if err := json.Unmarshal([]byte(req.Body), &o); err != nil || o.ID == "" {
			reply(w, result{Outputs: map[string]any{"res": map[string]any{"statusCode": 400, "body": `send {"id": "...", "item": "...", "qty": 1}`}}})
			return
		}
		reply(w, result{
			Outputs: map[string]any{
				"msg": req.Body, // the queue message: the order as sent
				"res": map[string]any{"statusCode": 202, "headers": map[string]string{"Content-Type": "application/json"}, "body": `{"queued":"` + o.ID + `"}`},
			},
			Logs: []string{"queued order " + o.ID},
		})
	})
	mux.HandleFunc("POST /ProcessOrder", func(w http.ResponseWriter, r *http.Request) {
		var inv invocation
		if err := json.NewDecoder(r.Body).Decode(&inv); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var o order
		if err := json.Unmarshal([]byte(text(inv.Data["order"])), &o); err != nil {
			// Answering non-2xx fails the invocation: the message is retried, then poisoned.
			http.Error(w, "not an order: "+err.Error(), http.StatusUnprocessableEntity)
			return
		}
		if delay > 0 {
			log.Printf("processing order %s (%d ms)", o.ID, delay)
			time.Sleep(time.Duration(delay) * time.Millisecond)
		}
		reply(w, result{
			Outputs: map[string]any{"receipt": map[string]any{
				"id": o.ID, "item": o.Item, "qty": o.Qty,
				"dequeueCount": text(inv.Metadata["DequeueCount"]),
				"processedAt":  time.Now().UTC().Format(time.RFC3339Nano),
			}},
			Logs: []string{"processed order " + o.ID},
		})
	})
	mux.HandleFunc("POST /Tick", func(w http.ResponseWriter, r *http.Request) {
		var inv invocation
		if err := json.NewDecoder(r.Body).Decode(&inv); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var timer struct{ IsPastDue bool }
		_ = json.Unmarshal(inv.Data["timer"], &timer)
		reply(w, result{Logs: []string{"tick (past due: " + strconv.FormatBool(timer.IsPastDue) + ")"}})
	})
	log.SetOutput(os.Stdout) // stderr lines are errors in the host log
	log.Printf("customhandler-go listening on 127.0.0.1:%s", port)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, mux))
}

func reply(w http.ResponseWriter, res result) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}
