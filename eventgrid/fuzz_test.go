package eventgrid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func seeds(f *testing.F) {
	for _, name := range []string{"validation.json", "blobcreated-eventgrid.json", "blobcreated-cloudevents.json", "custom-topic-batch.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{``, `[]`, `{}`, `[{}]`, `null`, `"x"`, `[1]`, `[{"data":"{\"validationCode\":\"c\"}"}]`,
		`{"data":"{\"validationCode\":7}"}`, `{"data":{"validationCode":null}}`, `[{"id":"a"},"b"]`, ` [ {"id" : "a"} ] `, `{"a":1}{"b":2}`, `[{"a":1}]x`} {
		f.Add([]byte(s))
	}
}

// The Notification parser never panics, and what it accepts is a list of valid JSON objects.
func FuzzParseNotification(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := parseNotification(body)
		if err != nil {
			if evs != nil {
				t.Fatal("events returned with an error")
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for i, e := range evs {
			if !json.Valid(e) || kind(e) != '{' {
				t.Fatalf("event %d %q is not a JSON object", i, e)
			}
			head(e) // must not panic
		}
		if kind(bytes.TrimSpace(body)) == '{' && len(evs) != 1 {
			t.Fatalf("an object body gave %d events", len(evs))
		}
	})
}

// The validation parser never panics and finds a code only where one is.
func FuzzValidationCode(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, err := validationCode(body)
		if err == nil && !bytes.Contains(body, []byte("validationCode")) {
			t.Fatalf("code %q from a body without validationCode", code)
		}
	})
}

// The whole endpoint answers only the statuses of §3.7 (and 400 for bodies it cannot parse),
// whatever the body and event type.
func FuzzServeEndpoint(f *testing.F) {
	seeds(f)
	types := []string{"Notification", "SubscriptionValidation", "Unsubscribe", "", "notification", "x"}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte) {
		for i, typ := range types {
			for _, schema := range []Schema{SchemaAny, SchemaEventGrid, SchemaCloudEvents} {
				var delivered int
				ep := &Endpoint{Extension: "eventgrid", Function: "F", Schema: schema, Deliver: func(_ context.Context, evs []json.RawMessage) error {
					delivered += len(evs)
					return nil
				}}
				method := http.MethodPost
				if i == 5 {
					method = http.MethodOptions
				}
				req := httptest.NewRequest(method, "/runtime/webhooks/eventgrid?functionName=F", bytes.NewReader(body))
				if typ != "" {
					req.Header.Set("aeg-event-type", typ)
				}
				w := httptest.NewRecorder()
				serveEndpoint(w, req, ep, log)
				switch w.Code {
				case 200, 202, 400, 409:
				default:
					t.Fatalf("%s %q: status %d", method, typ, w.Code)
				}
				if delivered > 0 && (w.Code != 202 || !strings.EqualFold(typ, "Notification")) {
					t.Fatalf("%d events delivered for %q answered %d", delivered, typ, w.Code)
				}
			}
		}
	})
}
