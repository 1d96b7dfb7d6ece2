package jsonc

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func decodeAny(t *testing.T, src string) (any, error) {
	t.Helper()
	var v any
	err := Unmarshal([]byte(src), &v)
	return v, err
}

func TestLenientInputs(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// UtilityTests.RemoveUTF8ByteOrderMark_RemovesBOM: the host drops a UTF-8 BOM before
		// parsing (File.ReadAllText / Utility.RemoveUtf8ByteOrderMark).
		{"bom", "\uFEFF{\"version\": \"2.0\"}", `{"version":"2.0"}`},
		// UtilityTests.RemoveUTF8ByteOrderMark_WithNoBOM_ReturnsOriginalString.
		{"no bom", `{"version": "2.0"}`, `{"version":"2.0"}`},
		// HostJsonFileConfigurationSourceTests.InvalidVersionThrowsException writes host.json
		// with single quotes: {'version': '4.0','functions': [ 'FunctionA', 'FunctionB' ]}.
		{"single quotes", `{'version': '4.0','functions': [ 'FunctionA', 'FunctionB' ]}`, `{"functions":["FunctionA","FunctionB"],"version":"4.0"}`},
		// HostJsonFileConfigurationSource.GetDefaultHostConfigObject parses
		// {'version': '2.0', 'isDefaultHostConfig': true}.
		{"default host config", `{'version': '2.0', 'isDefaultHostConfig': true}`, `{"isDefaultHostConfig":true,"version":"2.0"}`},
		{"line comment", "{\n  // the schema version\n  \"version\": \"2.0\" // trailing\n}", `{"version":"2.0"}`},
		{"block comment", `{/* a */"version"/* b */: /* c */"2.0"/**/}`, `{"version":"2.0"}`},
		{"comment with quote", "{\"a\": 1 // it's \"fine\"\n}", `{"a":1}`},
		{"comment chars in string", `{"path": "http://x/*y*/", "b": "//"}`, `{"b":"//","path":"http://x/*y*/"}`},
		{"trailing comma object", `{"a": 1, "b": [1, 2,],}`, `{"a":1,"b":[1,2]}`},
		{"trailing comma before comment", "{\"a\": 1, // last\n}", `{"a":1}`},
		{"trailing comma nested", `[{"a": [],},]`, `[{"a":[]}]`},
		{"unquoted keys", `{version: '2.0', $schema: 'x', _a1: 1}`, `{"$schema":"x","_a1":1,"version":"2.0"}`},
		{"escaped single quote", `{'a': 'it\'s', "b": "it\'s"}`, `{"a":"it's","b":"it's"}`},
		{"double quote inside single", `{'a': 'say "hi"'}`, `{"a":"say \"hi\""}`},
		{"raw tab in string", "{\"a\": \"x\ty\"}", `{"a":"x\ty"}`},
		{"unicode escape", `{'a': '\u00e9'}`, `{"a":"é"}`},
		{"crlf", "{\r\n  'a': 1,\r\n}\r\n", `{"a":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := decodeAny(t, tc.src)
			if err != nil {
				t.Fatalf("Unmarshal(%q): %v", tc.src, err)
			}
			got, _ := json.Marshal(v)
			if string(got) != tc.want {
				t.Errorf("Unmarshal(%q) = %s; want %s", tc.src, got, tc.want)
			}
		})
	}
}

// Errors point into the original text, past comments, BOMs and converted strings.
func TestErrorPositions(t *testing.T) {
	tests := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"after bom", "\uFEFF{\"a\": }", 1, 7, "invalid character '}'"},
		{"after comment", "{\n  /* long comment */ \"a\": x\n}", 2, 27, "invalid character 'x'"},
		{"after single-quoted string", `{'k': 'a"b"c', 'd': ?}`, 1, 21, "invalid character '?'"},
		{"after unquoted key", `{abc: 1 2}`, 1, 9, "invalid character '2'"},
		{"unterminated string", "{\n 'a': 'oops\n", 2, 7, "unterminated string"},
		{"unterminated comment", "{ /* never closed", 1, 3, "unterminated /* comment"},
		{"truncated", `{"a": [1, 2`, 1, 12, "unexpected end of file"},
		{"second value", `{"a": 1} {"b": 2}`, 1, 10, "unexpected data after the top-level value"},
		{"lone comma", `[1,,2]`, 1, 4, "invalid character ','"},
		{"double trailing comma", `{"version": "2.0",,}`, 1, 19, "invalid character ','"},
		{"comma after bracket", `[,]`, 1, 2, "invalid character ','"},
		{"comma after brace", `{,}`, 1, 2, "invalid character ','"},
		{"non-ascii column", `{"é": ?}`, 1, 7, "invalid character '?'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAny(t, tc.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Unmarshal(%q) = %v; want a *SyntaxError", tc.src, err)
			}
			if se.Line != tc.line || se.Column != tc.col || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Unmarshal(%q) = %q at %d:%d; want %q at %d:%d", tc.src, se.Msg, se.Line, se.Column, tc.msg, tc.line, tc.col)
			}
			if !strings.HasPrefix(err.Error(), "not valid JSON: ") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	for _, src := range []string{"", "  \n", "\uFEFF", "// nothing\n/* at all */"} {
		if _, err := decodeAny(t, src); !errors.Is(err, ErrEmpty) {
			t.Errorf("Unmarshal(%q) = %v; want ErrEmpty", src, err)
		}
	}
}

// A type error keeps its encoding/json type (callers read Field) with the offset moved into the
// original text.
func TestTypeErrorOffset(t *testing.T) {
	src := "\uFEFF{ /* c */ 'Values': {'A': 1}}"
	var v struct{ Values map[string]string }
	err := Unmarshal([]byte(src), &v)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v; want *json.UnmarshalTypeError", err)
	}
	if got := src[te.Offset-1 : te.Offset]; got != "1" {
		t.Errorf("offset %d points at %q; want the 1", te.Offset, got)
	}
}

func TestUseNumber(t *testing.T) {
	var v any
	if err := Decode([]byte(`{'n': 12345678901234567890}`), &v, Options{UseNumber: true}); err != nil {
		t.Fatal(err)
	}
	if n := v.(map[string]any)["n"]; !reflect.DeepEqual(n, json.Number("12345678901234567890")) {
		t.Errorf("n = %#v", n)
	}
}

func FuzzStandard(f *testing.F) {
	for _, s := range []string{`{'a': 1, /* x */ b: [1,2,],}`, "\uFEFF{\"a\": \"b\"}", `{"a": 'it\'s'}`, "// c\n[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		std, m, err := Standard([]byte(s))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > int64(len(s)) {
				t.Fatalf("Standard(%q): %v", s, err)
			}
			return
		}
		if off := m.Offset(int64(len(std))); off < 0 || off > int64(len(s))+2 {
			t.Fatalf("Standard(%q): end maps to %d", s, off)
		}
		// Standard JSON passes through unchanged in meaning.
		if json.Valid([]byte(s)) {
			var a, b any
			_ = json.Unmarshal([]byte(s), &a)
			if err := json.Unmarshal(std, &b); err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("Standard(%q) = %q changed a valid document: %v", s, std, err)
			}
		}
		var v any
		if err := Unmarshal([]byte(s), &v); err != nil {
			var se *SyntaxError
			var te *json.UnmarshalTypeError
			if !errors.As(err, &se) && !errors.As(err, &te) && !errors.Is(err, ErrEmpty) {
				t.Fatalf("Unmarshal(%q): unexpected error type %T: %v", s, err, err)
			}
		}
	})
}
