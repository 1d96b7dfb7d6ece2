package route

import (
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func match(t *testing.T, tmpl, path string) (map[string]string, bool) {
	t.Helper()
	tp, err := Parse(tmpl)
	if err != nil {
		t.Fatalf("Parse(%q): %v", tmpl, err)
	}
	return tp.Match(Split(path, nil))
}

// Cases after ASP.NET Core's TemplateMatcherTests / RouteConstraint tests and the Functions docs
// (functions-bindings-http-webhook-trigger "Customize the HTTP endpoint").
func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		want       map[string]string // nil with ok=false means no match
		ok         bool
	}{
		{"api/products", "/api/products", nil, true},
		{"api/products", "/API/Products/", nil, true}, // literals case-insensitive, trailing slash
		{"api/products", "/api/products/x", nil, false},
		{"api/products", "/api", nil, false},
		{"", "/", nil, true},
		{"", "/x", nil, false},
		{"products/{category:alpha}/{id:int?}", "/products/electronics/357", map[string]string{"category": "electronics", "id": "357"}, true},
		{"products/{category:alpha}/{id:int?}", "/products/electronics", map[string]string{"category": "electronics"}, true},
		{"products/{category:alpha}/{id:int?}", "/products/e1/357", nil, false},
		{"products/{category:alpha}/{id:int?}", "/products/electronics/x", nil, false},
		{"{a}/{b}", "/x%2Fy/z", map[string]string{"a": "x/y", "b": "z"}, true}, // decoded, %2F does not split
		{"{a}", "/caf%C3%A9", map[string]string{"a": "café"}, true},
		{"{a}", "/bad%zz", nil, false},
		{"files/{*path}", "/files/a/b%20c/d", map[string]string{"path": "a/b c/d"}, true},
		{"files/{*path}", "/files", nil, true},
		{"files/{**path}", "/files/a/b", map[string]string{"path": "a/b"}, true},
		{"{id=7}", "/", map[string]string{"id": "7"}, true},
		{"{id:int=7}", "/8", map[string]string{"id": "8"}, true},
		{"{x?}/{y?}", "/", nil, true},
		{"{x?}/b", "/b", map[string]string{"x": "b"}, false},
		{"n/{v:int}", "/n/2147483647", map[string]string{"v": "2147483647"}, true},
		{"n/{v:int}", "/n/2147483648", nil, false},
		{"n/{v:int}", "/n/-5", map[string]string{"v": "-5"}, true},
		{"n/{v:long}", "/n/2147483648", map[string]string{"v": "2147483648"}, true},
		{"n/{v:bool}", "/n/TRUE", map[string]string{"v": "TRUE"}, true},
		{"n/{v:bool}", "/n/yes", nil, false},
		{"n/{v:guid}", "/n/0f8fad5b-d9cb-469f-a165-70867728950e", map[string]string{"v": "0f8fad5b-d9cb-469f-a165-70867728950e"}, true},
		{"n/{v:guid}", "/n/0f8fad5bd9cb469fa16570867728950e", map[string]string{"v": "0f8fad5bd9cb469fa16570867728950e"}, true},
		{"n/{v:guid}", "/n/%7B0f8fad5b-d9cb-469f-a165-70867728950e%7D", map[string]string{"v": "{0f8fad5b-d9cb-469f-a165-70867728950e}"}, true},
		{"n/{v:guid}", "/n/0f8fad5b-d9cb-469f-a165-70867728950", nil, false},
		{"n/{v:datetime}", "/n/2024-10-24", map[string]string{"v": "2024-10-24"}, true},
		{"n/{v:datetime}", "/n/2024-10-24T10:00:00Z", map[string]string{"v": "2024-10-24T10:00:00Z"}, true},
		{"n/{v:datetime}", "/n/yesterday", nil, false},
		{"n/{v:double}", "/n/1.5e3", map[string]string{"v": "1.5e3"}, true},
		{"n/{v:decimal}", "/n/1.5", map[string]string{"v": "1.5"}, true},
		{"n/{v:decimal}", "/n/1.5e3", nil, false},
		{"n/{v:float}", "/n/abc", nil, false},
		{"n/{v:min(10)}", "/n/10", map[string]string{"v": "10"}, true},
		{"n/{v:min(10)}", "/n/9", nil, false},
		{"n/{v:max(10)}", "/n/11", nil, false},
		{"n/{v:range(1,3)}", "/n/3", map[string]string{"v": "3"}, true},
		{"n/{v:range(1,3)}", "/n/4", nil, false},
		{"n/{v:length(3)}", "/n/abc", map[string]string{"v": "abc"}, true},
		{"n/{v:length(3)}", "/n/abcd", nil, false},
		{"n/{v:length(2,3)}", "/n/a", nil, false},
		{"n/{v:minlength(2)}", "/n/a", nil, false},
		{"n/{v:maxlength(2)}", "/n/abc", nil, false},
		{"n/{v:int:min(5)}", "/n/6", map[string]string{"v": "6"}, true},
		{"n/{v:int:min(5)}", "/n/4", nil, false},
		{"n/{v:regex(^[a-z]{{2}}\\d$)}", "/n/Ab1", map[string]string{"v": "Ab1"}, true}, // case-insensitive as ASP.NET
		{"n/{v:regex(^[a-z]{{2}}\\d$)}", "/n/abc", nil, false},
		{"n/{v:regex(b)}", "/n/abc", map[string]string{"v": "abc"}, true}, // unanchored as ASP.NET
		{"{{x}}/{a}", "/%7Bx%7D/1", map[string]string{"a": "1"}, true},
	} {
		got, ok := match(t, tc.tmpl, tc.path)
		if ok != tc.ok || ok && !maps.Equal(got, tc.want) {
			t.Errorf("%q on %q = %v, %v; want %v, %v", tc.tmpl, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"a//b", "'/' cannot appear twice"},
		{"{a}/{A}", `the parameter name "A" appears more than once`},
		{"{*rest}/x", "a catch-all parameter ({*rest}) can only be the last segment"},
		{"{*rest?}", "a catch-all parameter cannot be marked optional"},
		{"{a=1?}", "an optional parameter cannot have a default value"},
		{"{}", "a parameter needs a name"},
		{"{a", "not closed"},
		{"a}", "unbalanced '}'"},
		{"{a}.{b}", "more than one part"},
		{"x{a}", "more than one part"},
		{"{a:nosuch}", `unknown constraint "nosuch": use one of int, long`},
		{"{a:int(3)}", "takes no arguments"},
		{"{a:min(x)}", `argument "x" is not an integer`},
		{"{a:range(1)}", "takes 2 argument(s), got 1"},
		{"{a:range(5,1)}", "greater than the maximum"},
		{"{a:length(3,1)}", "greater than the maximum"},
		{"{a:regex((?=x))}", "RE2 syntax"},
		{"{a:regex(x}", "no closing ')'"},
		{"{a:int=x}", `the default value "x" does not satisfy the constraint int`},
		{"a?b", "cannot contain '?'"},
		{"~/a", "cannot start with '~'"},
		{"{a/b}", "not closed"},
		{"{a:int}}", "not closed"},
	} {
		_, err := Parse(tc.tmpl)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want %q", tc.tmpl, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "route template ") {
			t.Errorf("Parse(%q) error %q does not name the template", tc.tmpl, err)
		}
	}
}

func TestParams(t *testing.T) {
	tp := MustParse("/api/{category:alpha}/{id:int?}/{*rest}/")
	if got := tp.Params(); !slices.Equal(got, []string{"category", "id", "rest"}) {
		t.Errorf("Params = %v", got)
	}
	if MustParse("A/{x:INT}").Key() != MustParse("a/{y:int}").Key() {
		t.Error("templates that match the same paths have different keys")
	}
	if MustParse("a/{x:int}").Key() == MustParse("a/{x}").Key() {
		t.Error("constrained and unconstrained parameters have the same key")
	}
}

// Precedence as ASP.NET Core's RoutePrecedenceTests (inbound): literal < constrained <
// parameter < optional < catch-all, segment by segment.
func TestCompare(t *testing.T) {
	order := []string{"a/b", "a/{x:int}", "a/{x}", "a/{x?}", "a/{*x:int}", "a/{*x}", "{x:int}/b", "{x}/b", "{*x}"}
	for i := range order {
		for j := range order {
			c := Compare(MustParse(order[i]), MustParse(order[j]))
			if i < j && c >= 0 || i > j && c <= 0 || i == j && c != 0 {
				t.Errorf("Compare(%q, %q) = %d", order[i], order[j], c)
			}
		}
	}
	if Compare(MustParse("a"), MustParse("a/{*rest}")) >= 0 {
		t.Error(`"a" must be tried before "a/{*rest}"`)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"api/{a}", "{a:int?}", "{*r}", "{a:regex(^x{{2}}$)}", "{a=1}", "{{x}}", "a/{b:range(1,2):min(1)}", "{a:length(1,2)}"} {
		f.Add(s, "/api/x")
	}
	f.Fuzz(func(t *testing.T, tmpl, path string) {
		tp, err := Parse(tmpl)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "route template ") {
				t.Fatalf("error without the template: %v", err)
			}
			return
		}
		_ = tp.Key()
		// Params are unique and in the template.
		seen := map[string]bool{}
		for _, p := range tp.Params() {
			if seen[strings.ToLower(p)] {
				t.Fatalf("duplicate param %q in %q", p, tmpl)
			}
			seen[strings.ToLower(p)] = true
		}
		vals, ok := tp.Match(Split(path, nil))
		if !ok && vals != nil {
			t.Fatal("values without a match")
		}
		for k := range vals {
			if !seen[strings.ToLower(k)] {
				t.Fatalf("value %q is not a parameter of %q", k, tmpl)
			}
		}
		if Compare(tp, tp) != 0 {
			t.Fatal("Compare(t, t) != 0")
		}
	})
}

// FuzzMatch: a path built from a template's own literals and parameter values matches it, with
// those values back.
func FuzzMatch(f *testing.F) {
	f.Add("x", "y z", "a/b")
	f.Add("%", "é", "")
	f.Fuzz(func(t *testing.T, a, b, rest string) {
		if a == "" || b == "" {
			return
		}
		tp := MustParse("lit/{a}/{b?}/{*rest}")
		path := "/LIT/" + url.PathEscape(a) + "/" + url.PathEscape(b)
		var restSegs []string
		for _, s := range strings.Split(rest, "/") {
			if s != "" {
				restSegs = append(restSegs, url.PathEscape(s))
			}
		}
		if len(restSegs) > 0 {
			path += "/" + strings.Join(restSegs, "/")
		}
		vals, ok := tp.Match(Split(path, nil))
		if !ok {
			t.Fatalf("%q does not match", path)
		}
		if vals["a"] != a || vals["b"] != b {
			t.Fatalf("values %v; want a=%q b=%q", vals, a, b)
		}
	})
}
