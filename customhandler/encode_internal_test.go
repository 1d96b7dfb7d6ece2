package customhandler

import (
	"encoding/json"
	"testing"
	"time"
)

// Values as GetHttpScriptInvocationContextValue encodes them (ScriptInvocationContextExtensions:
// byte[] ⇒ base64; JObject.FromObject succeeds only for objects; anything else ⇒
// JsonConvert.SerializeObject, a JSON text inside a string), and as azbindStrictTypes does.
func TestEncodeValue(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 4, 5, 120000000, time.UTC)
	for _, tc := range []struct {
		v             any
		quirk, strict string
	}{
		{"hello", `"\"hello\""`, `"hello"`},
		{int64(4), `"4"`, `4`},
		{true, `"true"`, `true`},
		{nil, `"null"`, `null`},
		{[]byte("hi"), `"aGk="`, `"aGk="`},
		{at, `"\"2026-12-07T15:04:05.12+00:00\""`, `"2026-12-07T15:04:05.12+00:00"`},
		{map[string]any{"a": 1}, `{"a":1}`, `{"a":1}`},
		{[]string{"a"}, `"[\"a\"]"`, `["a"]`},
		{json.RawMessage(`{"x":[1]}`), `{"x":[1]}`, `{"x":[1]}`},
	} {
		for _, strict := range []bool{false, true} {
			w := &Worker{cfg: &Config{StrictTypes: strict}}
			got, err := w.encodeValue(tc.v, "")
			want := tc.quirk
			if strict {
				want = tc.strict
			}
			if err != nil || string(got) != want {
				t.Errorf("encodeValue(%#v) strict=%v = %s, %v; want %s", tc.v, strict, got, err, want)
			}
		}
	}
}

// A batch is an array, which Functions sends as JSON text inside a string.
func TestEncodeBatch(t *testing.T) {
	w := &Worker{cfg: &Config{}}
	got, err := w.encodeBatch([]any{[]byte("a"), "b", json.RawMessage(`{"c":1}`)}, "")
	if err != nil || string(got) != `"[\"a\",\"b\",{\"c\":1}]"` {
		t.Errorf("batch = %s, %v", got, err)
	}
	got, _ = w.encodeBatch([]any{[]byte("a")}, "binary")
	if string(got) != `"[\"YQ==\"]"` {
		t.Errorf("binary batch = %s", got)
	}
}

// Output strings: in quirk mode any string that decodes as base64 (white space ignored, as
// Convert.FromBase64String) becomes bytes unless the binding is binary; in strict mode only a
// binary binding's string is decoded.
func TestOutputValue(t *testing.T) {
	q := &Worker{cfg: &Config{}}
	s := &Worker{cfg: &Config{StrictTypes: true}}
	if v, ok := q.outputValue(json.RawMessage(`"aGVs bG8="`), "").([]byte); !ok || string(v) != "hello" {
		t.Errorf("quirk: %#v", q.outputValue(json.RawMessage(`"aGVs bG8="`), ""))
	}
	if v := q.outputValue(json.RawMessage(`"aGVsbG8="`), "binary"); v != "aGVsbG8=" {
		t.Errorf("quirk binary: %#v", v)
	}
	if v := s.outputValue(json.RawMessage(`"aGVsbG8="`), ""); v != "aGVsbG8=" {
		t.Errorf("strict: %#v", v)
	}
	if v, ok := s.outputValue(json.RawMessage(`"aGVsbG8="`), "binary").([]byte); !ok || string(v) != "hello" {
		t.Errorf("strict binary: %#v", v)
	}
	if v, ok := q.outputValue(json.RawMessage(`{"a":1}`), "").(json.RawMessage); !ok || string(v) != `{"a":1}` {
		t.Errorf("object: %#v", v)
	}
}
