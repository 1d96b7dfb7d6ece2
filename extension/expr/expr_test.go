package expr

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fixedNow = time.Date(2018, 2, 16, 17, 59, 55, 123456700, time.UTC)

func fixedOpts() *Options {
	return &Options{Now: func() time.Time { return fixedNow }, FunctionName: "ProcessOrder"}
}

func TestResolveSettings(t *testing.T) { // C17
	settings := map[string]string{"queue": "orders", "Env": "prod", "a:b": "nested", "A__B": "nested2", "": "empty-name"}
	lookup := func(n string) (string, bool) {
		if n == "" {
			return "", false
		}
		v, ok := settings[n]
		return v, ok
	}
	tests := []struct {
		in, want, err string
		kind          error
	}{
		{in: "plain", want: "plain"},
		{in: "%queue%", want: "orders"},
		{in: "%queue%-%Env%-x", want: "orders-prod-x"},
		{in: "pre-%queue%%Env%", want: "pre-ordersprod"},
		{in: "%a:b%/%A__B%", want: "nested/nested2"},
		{in: "%missing%", err: "'%missing%' does not resolve to a value.", kind: ErrUnresolved},
		{in: "ok-%queue%-%missing%", err: "'%missing%' does not resolve to a value.", kind: ErrUnresolved},
		{in: "%%", err: "'%%' does not resolve to a value.", kind: ErrUnresolved},
		{in: "abc%queue", err: "The '%' at position 3 does not have a closing '%'", kind: ErrSyntax},
		{in: "%queue%-%", err: "The '%' at position 8 does not have a closing '%'", kind: ErrSyntax},
		{in: "é%x", err: "The '%' at position 1 does not have a closing '%'", kind: ErrSyntax}, // UTF-16 positions
	}
	for _, tc := range tests {
		got, err := ResolveSettings(tc.in, lookup)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errors.Is(err, tc.kind) {
				t.Errorf("ResolveSettings(%q) = %q, %v; want error %q wrapping %v", tc.in, got, err, tc.err, tc.kind)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveSettings(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Substituted values are not scanned again.
	got, err := ResolveSettings("%p%", func(string) (string, bool) { return "%q%", true })
	if err != nil || got != "%q%" {
		t.Errorf("value re-scanned: %q, %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, err string }{
		// BindingTemplateParserTests (azure-webjobs-sdk), exact texts and 1-based positions.
		{"malformed-{path", "Invalid template 'malformed-{path'. Missing closing bracket at position 11."},                        // ParseTemplate_IfMissingClosingBracket_ThrowsFormat
		{"malformed}-path", "Invalid template 'malformed}-path'. Missing opening bracket at position 10."},                        // ParseTemplate_IfMissingOpeningBracket_ThrowsFormat
		{"{}-path", "Invalid template '{}-path'. The parameter name at position 1 is empty."},                                     // ParseTemplate_IfMissingParam_ThrowsFormat
		{"{malformed-param}-path", "Invalid template '{malformed-param}-path'. The parameter name 'malformed-param' is invalid."}, // ParseTemplate_IfMalformedParam_ThrowsFormat
		{"}{param}{-path", "Invalid template '}{param}{-path'. Missing opening bracket at position 1."},                           // ParseTemplate_IfUnbalancedBraces_ThrowsFormat
		{"{a{nested}param}", "Invalid template '{a{nested}param}'. Missing closing bracket at position 1."},                       // ParseTemplate_IfNestedParam_ThrowsFormat
		// More of the same rules.
		{"{}", "Invalid template '{}'. The parameter name at position 1 is empty."},
		{"ab{}", "Invalid template 'ab{}'. The parameter name at position 3 is empty."},
		{"input/{name", "Invalid template 'input/{name'. Missing closing bracket at position 7."},
		{"input/name}", "Invalid template 'input/name}'. Missing opening bracket at position 11."},
		{"{a{b}", "Invalid template '{a{b}'. Missing closing bracket at position 1."},
		{"{a}}", "Invalid template '{a}}'. Missing opening bracket at position 4."},
		{"}}}", "Invalid template '}}}'. Missing opening bracket at position 3."},
		{"é{", "Invalid template 'é{'. Missing closing bracket at position 2."}, // UTF-16 positions
		{"{a b}", "Invalid template '{a b}'. Invalid template expression 'a b' at position 1: character ' ' is not allowed"},
		{"{my-name}", "Invalid template '{my-name}'. The parameter name 'my-name' is invalid."},
		{"{-x}", "Invalid template expression '-x'"},
		{"{1abc}", "must start with a letter"},
		{"{a..b}", "empty name segment"},
		{"{.a}", "empty name segment"},
		{"{a.}", "empty name segment"},
		{"{:yyyy}", "empty name segment"},
		{"{sys}}", "Missing opening bracket"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error = %v; want one containing %q wrapping ErrSyntax", tc.in, err, tc.err)
		}
	}
}

// BindingTemplateParserTests: token streams of valid templates.
func TestParseTokens(t *testing.T) {
	tests := []struct {
		in    string
		parts []string // literals as written after unescaping; expressions as {name}
	}{
		// ParseTemplate_IfValidInput_ReturnsTokens (escapes are merged into the literal next to them).
		{`{p1}-p2/{{2014}}/{d3}/folder/{name}.{ext}`, []string{"{p1}", "-p2/{2014}/", "{d3}", "/folder/", "{name}", ".", "{ext}"}},
		{"path-with-no-parameters", []string{"path-with-no-parameters"}},           // ParseTemplate_IfPathWithNoParameters_ReturnsLiteralTokensOnly
		{"{path}-with-{parameters}", []string{"{path}", "-with-", "{parameters}"}}, // ParseTemplate_IfPathContainsParameters_ReturnsParameterTokens
		{"", nil}, // ParseTemplate_IfEmptyString_ReturnsEmptySequence
		{"{{{parameter}}}", []string{"{", "{parameter}", "}"}}, // ParseTemplate_IfTripleBrackets_RecognizesParameter
		{"{a.x-header}", []string{"{a.x-header}"}},             // BindingTemplateTests.Bind_DotExpression_With_JObject: dashes after the first part
	}
	for _, tc := range tests {
		tp, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		var got []string
		for _, p := range tp.parts {
			if p.expr != nil {
				got = append(got, "{"+p.expr.String()+"}")
			} else {
				got = append(got, p.lit)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.parts, "|") {
			t.Errorf("Parse(%q) = %q; want %q", tc.in, got, tc.parts)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		literal bool
		lit     string
		names   []string
	}{
		{in: "", literal: true, lit: ""},
		{in: "plain/text", literal: true, lit: "plain/text"},
		{in: "images/{{20140101}}-x", literal: true, lit: "images/{20140101}-x"},
		{in: "images/{{20140101}}-{name}", lit: "images/{20140101}-", names: []string{"name"}},
		{in: "input/{blobname}.{blobextension}", lit: "input/.", names: []string{"blobname", "blobextension"}},
		{in: "{data.url}", names: []string{"data"}},
		{in: "{Id}-{id}-{ID.x}", lit: "--", names: []string{"Id"}},
		{in: "{rand-guid}{DateTime:yyyy}{sys.UtcNow}{$sys.MethodName}{x}", names: []string{"x"}},
		{in: "{a_b.c-d.0:fmt:with:colons}", names: []string{"a_b"}},
		{in: "{ünïcode}", names: []string{"ünïcode"}},
	}
	for _, tc := range tests {
		tp, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if tp.IsLiteral() != tc.literal || tp.Literal() != tc.lit {
			t.Errorf("Parse(%q): literal=%v %q; want %v %q", tc.in, tp.IsLiteral(), tp.Literal(), tc.literal, tc.lit)
		}
		if strings.Join(tp.Names(), ",") != strings.Join(tc.names, ",") {
			t.Errorf("Parse(%q).Names() = %q; want %q", tc.in, tp.Names(), tc.names)
		}
		if tp.String() != tc.in {
			t.Errorf("String() = %q", tp.String())
		}
	}
	e := MustParse("{a.b:x:y}").Exprs()[0]
	if e.Format != "x:y" || !e.HasFormat || strings.Join(e.Path, ".") != "a.b" || e.String() != "a.b:x:y" {
		t.Errorf("expr = %+v", e)
	}
}

type order struct {
	ID       int            `json:"id"`
	Customer map[string]any `json:"customer"`
	Tags     []string       `json:"tags"`
}

func TestEval(t *testing.T) {
	data := MapData{
		"blobname":      "photo",
		"BlobExtension": "png",
		"data":          json.RawMessage(`{"url":"https://x/y.png","Size":1024,"big":12345678901234567890,"ratio":1.5,"ok":true,"items":[{"n":"first"}],"obj":{},"nul":null,"exp":1e3}`),
		"count":         42,
		"f":             3.0,
		"half":          0.5,
		"flag":          false,
		"when":          time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC),
		"order":         order{ID: 7, Customer: map[string]any{"Name": "Ann"}, Tags: []string{"a", "b"}},
		"ptr":           &order{ID: 9},
		"nested":        map[string]any{"Inner": map[string]any{"Value": "deep"}, "list": []any{"x", "y"}},
		"raw":           []byte(`{"a":"b"}`),
		"text":          []byte("not json"),
		"quote":         "O'Brien",
		"DateTime":      "trigger-wins",
		"strmap":        map[string]string{"Key": "v"},
	}
	tests := []struct{ in, want, err string }{
		{"input/{blobname}.{blobextension}", "input/photo.png", ""},
		{"{DATA.URL}", "https://x/y.png", ""}, // C19 case-insensitive
		{"{data.size}", "1024", ""},
		{"{data.big}", "12345678901234567890", ""},
		{"{data.ratio}", "1.5", ""},
		{"{data.exp}", "1000", ""},
		{"{data.ok}", "true", ""},
		{"{data.items.0.n}", "first", ""},
		{"{count}", "42", ""},
		{"{count:D5}", "00042", ""},
		{"{count:x}", "2a", ""},
		{"{f}", "3", ""},
		{"{half}", "0.5", ""},
		{"{flag}", "false", ""},
		{"{when}", "2020-01-02T03-04-05Z", ""}, // BindingDataPathHelper: DateTime default yyyy-MM-ddTHH-mm-ssK
		{"{when:yyyyMMdd}", "20200102", ""},
		{"{order.id}", "7", ""},
		{"{order.customer.name}", "Ann", ""},
		{"{order.tags.1}", "b", ""},
		{"{ptr.ID}", "9", ""},
		{"{nested.inner.value}", "deep", ""},
		{"{nested.list.1}", "y", ""},
		{"{raw.A}", "b", ""},
		{"{text}", "not json", ""},
		{"{strmap.key}", "v", ""},
		{"{DateTime}", "trigger-wins", ""}, // trigger data wins over the built-in
		{"{sys.UtcNow}", "2018-02-16T17-59-55Z", ""},
		{"{sys.UtcNow:yyyy}", "2018", ""},
		{"{sys.MethodName}", "ProcessOrder", ""},
		{"{$sys.methodname}", "ProcessOrder", ""},
		{"images/{{20140101}}-{blobname}", "images/{20140101}-photo", ""},
		{"{missing}", "", "No value for named parameter 'missing'."},
		{"{data.nope}", "", "Error while accessing 'nope': property doesn't exist."},
		{"{data.url.more}", "", "Error while accessing 'more': property doesn't exist."},
		{"{data.items.5}", "", "Error while accessing '5': property doesn't exist."},
		{"{data.obj}", "", "refers to an object"},
		{"{data.items}", "", "refers to an array"},
		{"{data.nul}", "", ""}, // null is substituted as "" (Bind_DotExpression_With_JObject "a{a.null}b")
		{"{nested}", "", "refers to an object"},
		{"{text.x}", "", "is not JSON"},
		{"{sys.Other}", "", "Error while accessing 'Other'"},
	}
	for _, tc := range tests {
		tp, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		got, err := tp.Eval(data, fixedOpts())
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrUnresolved) {
				t.Errorf("Eval(%q) = %q, %v; want error containing %q wrapping ErrUnresolved", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Eval(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestBuiltins(t *testing.T) { // C18
	guidD := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct{ in, re string }{
		{"{DateTime}", `^2018-02-16T17-59-55Z$`},
		{"{datetime:yyyy}", `^2018$`},
		{"{DateTime:yyyy-MM-dd HH:mm:ss.fff}", `^2018-02-16 17:59:55\.123$`},
		{"{rand-guid}", guidD.String()},
		{"{RAND-GUID:D}", guidD.String()},
		{"{rand-guid:N}", `^[0-9a-f]{32}$`},
		{"{rand-guid:B}", `^\{[0-9a-f-]{36}\}$`},
		{"{rand-guid:P}", `^\([0-9a-f-]{36}\)$`},
		{"{rand-guid:X}", `^\{0x[0-9a-f]{8},0x[0-9a-f]{4},0x[0-9a-f]{4},\{(0x[0-9a-f]{2},){7}0x[0-9a-f]{2}\}\}$`},
		{"{sys.RandGuid}", guidD.String()},
	}
	for _, tc := range tests {
		got, err := MustParse(tc.in).Eval(nil, fixedOpts())
		if err != nil || !regexp.MustCompile(tc.re).MatchString(got) {
			t.Errorf("Eval(%q) = %q, %v; want match %s", tc.in, got, err, tc.re)
		}
	}
	a, _ := MustParse("{rand-guid}").Eval(nil, nil)
	b, _ := MustParse("{rand-guid}").Eval(nil, nil)
	if a == b {
		t.Errorf("rand-guid repeated %q", a)
	}
	if _, err := MustParse("{rand-guid:Q}").Eval(nil, nil); !errors.Is(err, ErrSyntax) {
		t.Errorf("bad guid format: %v", err)
	}
	// nil options use the real clock, in UTC.
	got, err := MustParse("{DateTime:yyyy}").Eval(nil, nil)
	if err != nil || got != time.Now().UTC().Format("2006") {
		t.Errorf("DateTime with nil options = %q, %v", got, err)
	}
}

func TestFormatTime(t *testing.T) {
	pm := time.Date(2009, 6, 15, 13, 45, 30, 617_000_000, time.UTC)
	am := time.Date(2009, 6, 1, 0, 5, 3, 0, time.FixedZone("x", -(7*3600+30*60)))
	tests := []struct {
		t      time.Time
		f, out string
	}{
		{pm, "yyyy-MM-ddTHH-mm-ssK", "2009-06-15T13-45-30Z"},
		{pm, "yy M d H h m s", "09 6 15 13 1 45 30"},
		{pm, "hh tt t", "01 PM P"},
		{am, "hh:mm tt", "12:05 AM"},
		{pm, "fff ff f FFF", "617 61 6 617"},
		{am, "ss.FFF", "03"},
		{pm, "MMM MMMM ddd dddd", "Jun June Mon Monday"},
		{am, "K zzz zz z", "-07:30 -07:30 -07 -7"},
		{pm, "zzz", "+00:00"},
		{pm, "'Q'yyyy\"x\" \\y\\e\\a\\r", "Q2009x year"},
		{pm, "yyyy/MM/dd", "2009/06/15"},
		{pm, "o", "2009-06-15T13:45:30.6170000Z"},
		{pm, "s", "2009-06-15T13:45:30"},
		{pm, "u", "2009-06-15 13:45:30Z"},
		{pm, "R", "Mon, 15 Jun 2009 13:45:30 GMT"},
		{pm, "d", "06/15/2009"},
		{pm, "%d", "15"},
		{pm, "yyyyy", "02009"},
	}
	for _, tc := range tests {
		got, err := FormatTime(tc.t, tc.f)
		if err != nil || got != tc.out {
			t.Errorf("FormatTime(%q) = %q, %v; want %q", tc.f, got, err, tc.out)
		}
	}
	for _, bad := range []string{"'open", `ab\`, "ffffffff"} {
		if _, err := FormatTime(pm, bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("FormatTime(%q) err = %v", bad, err)
		}
	}
}

func TestEscape(t *testing.T) {
	tp := MustParse("PartitionKey eq '{name}' and x eq 'it''s'")
	got, err := tp.Eval(MapData{"name": "O'Brien"}, &Options{Escape: EscapeODataString})
	if err != nil || got != "PartitionKey eq 'O''Brien' and x eq 'it''s'" {
		t.Errorf("escape: %q, %v", got, err)
	}
	if EscapeODataString("a''b'") != "a''''b''" {
		t.Error("EscapeODataString")
	}
	if q := Quote("{x}y}"); MustParse(q).Literal() != "{x}y}" || !MustParse(q).IsLiteral() {
		t.Errorf("Quote = %q", q)
	}
}

func TestPattern(t *testing.T) { // C28
	tests := []struct {
		pattern, container, prefix string
		captures                   []string
		name                       string
		match                      map[string]string
	}{
		{"input/{blobname}.{blobextension}", "input", "", []string{"blobname", "blobextension"}, "a.b.c.txt", map[string]string{"blobname": "a.b.c", "blobextension": "txt"}},
		{"input/{blobname}.{blobextension}", "input", "", []string{"blobname", "blobextension"}, "noext", nil},
		{"images/{{20140101}}-{name}", "images", "{20140101}-", []string{"name"}, "{20140101}-cat.png", map[string]string{"name": "cat.png"}},
		{"images/{{20140101}}-{name}", "images", "{20140101}-", []string{"name"}, "20140101-cat.png", nil},
		{"samples/in/{name}", "samples", "in/", []string{"name"}, "in/sub/dir/x.json", map[string]string{"name": "sub/dir/x.json"}},
		{"samples/in/{name}", "samples", "in/", []string{"name"}, "out/x", nil},
		{"ccc/a+b(1)/{n}[x]", "ccc", "a+b(1)/", []string{"n"}, "a+b(1)/q[x]", map[string]string{"n": "q"}},
		{"ccc/exact.txt", "ccc", "exact.txt", nil, "exact.txt", map[string]string{}},
		{"ccc/exact.txt", "ccc", "exact.txt", nil, "exactXtxt", nil},
		{"ccc", "ccc", "", nil, "anything/at all", map[string]string{}},
		{"ccc/{a}{b}", "ccc", "", []string{"a", "b"}, "xyz", map[string]string{"a": "xyz", "b": ""}},
		{"ccc/{name}", "ccc", "", []string{"name"}, "line1\nline2", map[string]string{"name": "line1\nline2"}},
	}
	for _, tc := range tests {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tc.pattern, err)
		}
		if p.Container() != tc.container || p.Prefix() != tc.prefix || strings.Join(p.Captures(), ",") != strings.Join(tc.captures, ",") {
			t.Errorf("%q: container %q prefix %q captures %q", tc.pattern, p.Container(), p.Prefix(), p.Captures())
		}
		m, ok := p.Match(tc.name)
		if ok != (tc.match != nil) || len(m) != len(tc.match) {
			t.Errorf("%q.Match(%q) = %v, %v; want %v", tc.pattern, tc.name, m, ok, tc.match)
			continue
		}
		for k, v := range tc.match {
			if m[k] != v {
				t.Errorf("%q.Match(%q)[%s] = %q; want %q", tc.pattern, tc.name, k, m[k], v)
			}
		}
	}
	bad := []struct {
		in, err string
		kind    error
	}{
		// BlobPathSourceTests (azure-webjobs-sdk).
		{`container\blob`, "Invalid blob trigger path 'container\\blob'. Paths must be in the format 'container/blob'.", ErrSyntax}, // BlobPathSource_Throws_OnBackslash
		{"/", "Paths must be in the format 'container/blob'", ErrSyntax},                                                            // BlobPathSource_Throws_OnEmpty
		{"container{resolve}/blob", "Container paths cannot contain {resolve} tokens.", ErrSyntax},                                  // BlobPathSource_Throws_OnContainerResolves
		// The same rules (BlobPathSource.Create): a '/' needs a container before and a blob after.
		{"container/", "Invalid blob trigger path 'container/'. Paths must be in the format 'container/blob'.", ErrSyntax},
		{"/x", "Paths must be in the format 'container/blob'", ErrSyntax},
		{"", "Paths must be in the format 'container/blob'", ErrSyntax},
		{"{c}/x", "Container paths cannot contain {resolve} tokens.", ErrSyntax},
		// Container names the service refuses, caught at load (BlobClient.ValidateContainerName's text).
		{"Samples/{name}", "Invalid container name: Samples (upper-case letters are not allowed: use \"samples\"", ErrInvalidName},
		{"c/{name}", "Invalid container name: c (it has 1 characters", ErrInvalidName},
		{"my--files/{name}", "consecutive dashes", ErrInvalidName},
		{"-files/{name}", "starts or ends with '-'", ErrInvalidName},
		{"my_files/{name}", "character '_' is not allowed", ErrInvalidName},
		// Fixed blob names are checked as BlobClient.ValidateBlobName does.
		{"ccc/a.", "has an invalid suffix", ErrInvalidName},
		{"ccc/a\\b", "The given blob name 'a\\b' contain illegal characters.", ErrInvalidName}, // the host's text, typo included
		{"ccc/{a.b}", "captures cannot contain '.'", ErrSyntax},                                // BindingTemplateTests.BuildCapturePattern_Doesnt_Allow_Expressions
		{"ccc/{a:x}", "captures cannot contain '.' or ':'", ErrSyntax},
		{"ccc/{a}-{A}", "used twice", ErrSyntax},
		{"ccc/{a", "Missing closing bracket", ErrSyntax},
		{"ccc/a}", "Missing opening bracket", ErrSyntax},
		{"ccc/{}", "is empty", ErrSyntax},
	}
	for _, tc := range bad {
		if _, err := ParsePattern(tc.in); err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, tc.kind) {
			t.Errorf("ParsePattern(%q) = %v; want error containing %q wrapping %v", tc.in, err, tc.err, tc.kind)
		}
	}
	for _, ok := range []string{"$root/x", "$web/{name}", "a1-b2/{name}", strings.Repeat("a", 63) + "/x"} {
		if _, err := ParsePattern(ok); err != nil {
			t.Errorf("ParsePattern(%q): %v", ok, err)
		}
	}
	// A trigger pattern is usable as an output template.
	p, _ := ParsePattern("input/{blobname}.{blobextension}")
	m, _ := p.Match("report.pdf")
	data := MapData{}
	for k, v := range m {
		data[k] = v
	}
	if got, err := p.Template().Eval(data, nil); err != nil || got != "input/report.pdf" {
		t.Errorf("Template().Eval = %q, %v", got, err)
	}
}
