package azhttp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// The Functions response shape (HttpOutputBindingResponse / HttpBinding.ParseResponseObject):
// statusCode wins over status, a number or numeric string; a string body as is, an object
// JSON-encoded; headers.
func TestReplyShapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		item   any
		status int
		body   string
		ct     string
		err    string
	}{
		{"statusCode wins", json.RawMessage(`{"statusCode": 201, "status": 500, "body": "made"}`), 201, "made", "", ""},
		{"status string", []byte(`{"status": "404", "body": {"error": "none"}}`), 404, `{"error":"none"}`, ctJSON, ""},
		{"headers", map[string]any{"body": "x", "headers": map[string]any{"Content-Type": "text/csv", "X-Multi": []any{"a", "b"}}}, 0, "x", "text/csv", ""},
		{"bad status", json.RawMessage(`{"statusCode": "abc", "body": ""}`), 0, "", "", `statusCode abc is not an HTTP status code`},
		{"status out of range", map[string]any{"statusCode": float64(42)}, 0, "", "", "not an HTTP status code"},
		{"raw JSON that is not the shape", json.RawMessage(`[1, 2]`), 0, "[1, 2]", ctJSON, ""},
		{"bytes that are not JSON", []byte("plain bytes"), 0, "plain bytes", "", ""},
		{"map that is not the shape", map[string]any{"a": 1.0}, 0, `{"a":1}`, ctJSON, ""},
		{"string", "hello", 0, "hello", ctText, ""},
		{"struct", struct{ A int }{1}, 0, `{"A":1}`, ctJSON, ""},
		{"Response", Response{Status: 418, Body: []byte{1}}, 418, "\x01", "", ""},
		{"*Response with header", &Response{Header: http.Header{"Content-Type": {"image/png"}}, Body: "x"}, 0, "x", "image/png", ""},
		{"Response bad status", Response{Status: 1000}, 0, "", "", "status 1000 is not an HTTP status code"},
		{"HTTPReply", driver.HTTPReply{Status: 204}, 204, "", "", ""},
	} {
		got, err := reply(tc.item)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v; want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got.Status != tc.status || string(got.Body) != tc.body || got.Header.Get("Content-Type") != tc.ct {
			t.Errorf("%s: reply = %+v, %v; want status %d body %q content type %q", tc.name, got, err, tc.status, tc.body, tc.ct)
		}
		if tc.name == "headers" && strings.Join(got.Header.Values("X-Multi"), ",") != "a,b" {
			t.Errorf("headers: X-Multi = %v", got.Header.Values("X-Multi"))
		}
	}
}

// Binding data precedence and what is left out (the key).
func TestMetadata(t *testing.T) {
	r := httptest.NewRequest("POST", "/api/x/7?id=q&region=eu&region=us&code=SECRET", nil)
	r.Header.Set("X-Functions-Key", "SECRET")
	r.Header.Set("X-Trace", "t1")
	m := &meta{r: r, route: map[string]string{"id": "7"}, body: []byte(`{"id": "body", "region": "body", "sku": "a1", "nested": {"k": 1}}`)}
	for _, tc := range []struct {
		name string
		want any
		ok   bool
	}{
		{"ID", "7", true},         // route beats query and body
		{"region", "eu,us", true}, // query beats body, values joined as StringValues
		{"sku", "a1", true},       // body member
		{"code", nil, false},      // never binding data
		{"nested", map[string]any{"k": 1.0}, true},
		{"nosuch", nil, false},
	} {
		v, ok := m.Lookup(tc.name)
		if ok != tc.ok || ok && !equalJSON(v, tc.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tc.name, v, ok, tc.want, tc.ok)
		}
	}
	q, _ := m.Lookup("query")
	if qm := q.(map[string]string); qm["region"] != "eu,us" || qm["id"] != "q" || len(qm) != 2 {
		t.Errorf("Query = %v", qm)
	}
	h, _ := m.Lookup("Headers")
	if hm := h.(map[string]string); hm["X-Trace"] != "t1" || strings.Contains(strings.Join(mapValues(hm), ","), "SECRET") {
		t.Errorf("Headers = %v", hm)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// Any bytes an output may carry give a reply with a writable status or an error, never a panic.
func FuzzReply(f *testing.F) {
	for _, s := range []string{`{"statusCode": 200}`, `{"status": "99"}`, `{"body": [1], "headers": {"a": [1, null]}}`, `{"headers": 1}`, `not json`, `{"statusCode": 1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, item := range []any{b, json.RawMessage(b), string(b)} {
			r, err := reply(item)
			if err == nil && checkStatus(r.Status) != nil {
				t.Fatalf("reply(%q) status %d", b, r.Status)
			}
		}
	})
}
