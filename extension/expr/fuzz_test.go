package expr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a", "{a}", "{{", "}}", "{a.b:c}", "x{rand-guid:N}y", "{DateTime:yyyy'q'\\z}", "{", "}", "{}", "{a{b}}", "{$sys.UtcNow}", "é{ü}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error does not wrap ErrSyntax: %v", s, err)
			}
			return
		}
		// Round trip: quoting the literal text gives a literal template with the same text.
		if tp.IsLiteral() {
			q, err := Parse(Quote(tp.Literal()))
			if err != nil || !q.IsLiteral() || q.Literal() != tp.Literal() {
				t.Fatalf("Quote round trip of %q: %v", s, err)
			}
		}
		// Evaluating with data that has every name never panics; results are deterministic
		// for templates without random built-ins.
		data := MapData{}
		for _, n := range tp.Names() {
			data[n] = "v"
		}
		opt := &Options{Now: func() time.Time { return time.Unix(0, 0) }}
		out, err := tp.Eval(data, opt)
		if err != nil && !errors.Is(err, ErrUnresolved) && !errors.Is(err, ErrSyntax) {
			t.Fatalf("Eval(%q): unexpected error kind %v", s, err)
		}
		if err == nil && tp.IsLiteral() && out != tp.Literal() {
			t.Fatalf("literal Eval(%q) = %q; want %q", s, out, tp.Literal())
		}
	})
}

func FuzzResolveSettings(f *testing.F) {
	for _, s := range []string{"", "%a%", "%a", "a%b%c%d%", "%%", "%é%x%", "100%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ResolveSettings(s, func(n string) (string, bool) { return "<" + n + ">", true })
		if err != nil {
			if !errors.Is(err, ErrSyntax) || strings.Count(s, "%")%2 == 0 {
				t.Fatalf("ResolveSettings(%q): %v", s, err)
			}
			return
		}
		if strings.Count(s, "%")%2 != 0 {
			t.Fatalf("ResolveSettings(%q) accepted an odd number of '%%'", s)
		}
		// Resolving every name to itself with its percent signs is the identity.
		id, err := ResolveSettings(s, func(n string) (string, bool) { return "%" + n + "%", true })
		if err != nil || id != s {
			t.Fatalf("identity resolve of %q = %q, %v", s, id, err)
		}
		if !strings.Contains(s, "%") && out != s {
			t.Fatalf("no tokens but changed: %q → %q", s, out)
		}
	})
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{"input/{blobname}.{blobextension}|a.b.txt", "images/{{20140101}}-{name}|{20140101}-x", "ccc|x", "ccc/{a}{b}|xyz", "{c}/x|y", "ccc/x{a}y{b}z|xqyrz", "Samples/{name}|x"} {
		p, n, _ := strings.Cut(s, "|")
		f.Add(p, n)
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ParsePattern(%q) error kind: %v", pattern, err)
			}
			return
		}
		if strings.ContainsAny(p.Container(), "{}/") {
			t.Fatalf("container %q", p.Container())
		}
		m, ok := p.Match(name)
		if !ok {
			return
		}
		if !strings.HasPrefix(name, p.Prefix()) {
			t.Fatalf("%q matched %q without the prefix %q", pattern, name, p.Prefix())
		}
		if !strings.Contains(pattern, "/") || strings.HasSuffix(pattern, "/") && len(p.Captures()) == 0 && strings.Count(pattern, "/") == 1 {
			return // container-only pattern: matches everything
		}
		// Round trip: the pattern used as an output template, fed its own captures, rebuilds the path.
		data := MapData{}
		for k, v := range m {
			data[k] = v
		}
		out, err := p.Template().Eval(data, nil)
		if err != nil {
			t.Fatalf("%q: Template().Eval(%v): %v", pattern, m, err)
		}
		if want := p.Container() + "/" + name; out != want {
			t.Fatalf("%q: round trip of %q gave %q", pattern, want, out)
		}
	})
}
