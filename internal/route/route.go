// Package route parses and matches the route templates Azure Functions accepts (the ASP.NET Core
// template subset): literals matched case-insensitively, `{p}`, optional `{p?}`, defaults
// `{p=x}`, catch-all `{*p}` (and `{**p}`), `{{`/`}}` for literal braces, and the inline
// constraints int, long, bool, guid, alpha, datetime, double, float, decimal, min(n), max(n),
// range(a,b), length(n), length(a,b), minlength(n), maxlength(n), required and regex(re).
//
// Matching is on the request's escaped path split at '/', each segment URL-decoded (so %2F inside a
// segment never splits it). Templates order by ASP.NET Core's inbound precedence, compared segment by
// segment: literal, then constrained parameter, then parameter, then optional parameter, then
// catch-all (Compare). Complex segments ("{name}.{ext}") are not supported and are a parse error.
package route

import (
	"fmt"
	"net/url"
	"strings"
)

// Template is a parsed route template. It is immutable and safe for concurrent use.
type Template struct {
	raw    string
	segs   []segment
	params []string
	prec   []byte // inbound precedence digit per segment (lower is more specific)
}

type segment struct {
	literal string // when param is nil
	param   *param
}

type param struct {
	name        string
	optional    bool
	catchAll    bool
	hasDefault  bool
	def         string
	constraints []constraint
}

// Precedence digits: lower is more specific, as ASP.NET Core's RoutePrecedence.ComputeInbound
// (literal 1, constrained parameter 2, parameter 3, catch-all 4/5), with optional parameters
// placed between parameters and catch-alls.
const (
	precLiteral     = 1
	precConstrained = 2
	precParam       = 3
	precOptional    = 4
	precCatchAllC   = 5
	precCatchAll    = 6
)

// Error is a template parse error.
type Error struct {
	Template string
	Problem  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("route template %q: %s", e.Template, e.Problem)
}

// Parse parses a route template ("products/{category:alpha}/{id:int?}"). Leading and trailing
// slashes are ignored; "" is the root.
func Parse(tmpl string) (*Template, error) {
	t := &Template{raw: tmpl}
	fail := func(format string, a ...any) (*Template, error) {
		return nil, &Error{Template: tmpl, Problem: fmt.Sprintf(format, a...)}
	}
	s := strings.Trim(tmpl, "/")
	if strings.HasPrefix(s, "~") {
		return fail("the template cannot start with '~'")
	}
	if s == "" {
		return t, nil
	}
	seen := map[string]bool{}
	parts := strings.Split(s, "/")
	for i, p := range parts {
		if p == "" {
			return fail("the separator '/' cannot appear twice in a row")
		}
		seg, err := parseSegment(p)
		if err != nil {
			return fail("segment %q: %s", p, err)
		}
		if seg.param != nil {
			n := strings.ToLower(seg.param.name)
			if seen[n] {
				return fail("the parameter name %q appears more than once", seg.param.name)
			}
			seen[n] = true
			if seg.param.catchAll && i != len(parts)-1 {
				return fail("a catch-all parameter ({*%s}) can only be the last segment", seg.param.name)
			}
			t.params = append(t.params, seg.param.name)
		}
		t.segs = append(t.segs, seg)
		t.prec = append(t.prec, seg.precedence())
	}
	return t, nil
}

// MustParse is Parse that panics on error (for templates known at compile time).
func MustParse(tmpl string) *Template {
	t, err := Parse(tmpl)
	if err != nil {
		panic(err)
	}
	return t
}

func (s segment) precedence() byte {
	p := s.param
	switch {
	case p == nil:
		return precLiteral
	case p.catchAll && len(p.constraints) > 0:
		return precCatchAllC
	case p.catchAll:
		return precCatchAll
	case p.optional || p.hasDefault:
		return precOptional
	case len(p.constraints) > 0:
		return precConstrained
	}
	return precParam
}

// parseSegment parses one segment: a literal (with {{ and }} escapes) or one parameter (inside
// which {{ and }} are literal braces too, as in a regex constraint).
func parseSegment(s string) (segment, error) {
	if s[0] != '{' || strings.HasPrefix(s, "{{") {
		lit, err := parseLiteral(s)
		return segment{literal: lit}, err
	}
	var b strings.Builder
	i := 1
	for ; i < len(s); i++ {
		c := s[i]
		if c == '{' || c == '}' {
			if i+1 < len(s) && s[i+1] == c {
				b.WriteByte(c)
				i++
				continue
			}
			if c == '{' {
				return segment{}, fmt.Errorf("unbalanced '{' inside a parameter: write '{{' for a literal brace")
			}
			break
		}
		b.WriteByte(c)
	}
	if i >= len(s) {
		return segment{}, fmt.Errorf("the parameter is not closed with '}'")
	}
	if i != len(s)-1 {
		return segment{}, errComplex
	}
	p, err := parseParam(b.String())
	if err != nil {
		return segment{}, err
	}
	return segment{param: p}, nil
}

var errComplex = fmt.Errorf("a segment with more than one part (such as {name}.{ext}) is not supported: use one parameter or one literal per segment")

func parseLiteral(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '{', '}':
			if i+1 < len(s) && s[i+1] == c {
				b.WriteByte(c)
				i++
				continue
			}
			if c == '{' {
				return "", errComplex
			}
			return "", fmt.Errorf("unbalanced '}' in a literal: write '}}' for a literal brace")
		case '?':
			return "", fmt.Errorf("the literal part of a template cannot contain '?'")
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// parseParam parses the inside of {…}: [*|**]name[:constraint[(args)]]…[?|=default].
func parseParam(s string) (*param, error) {
	p := &param{}
	if strings.HasPrefix(s, "**") {
		p.catchAll, s = true, s[2:]
	} else if strings.HasPrefix(s, "*") {
		p.catchAll, s = true, s[1:]
	}
	// The name ends at the first ':', '=' or a final '?'.
	end := strings.IndexAny(s, ":=")
	if end < 0 {
		end = len(s)
	}
	name := s[:end]
	rest := s[end:]
	if rest == "" && strings.HasSuffix(name, "?") {
		name, p.optional = name[:len(name)-1], true
	}
	if name == "" {
		return nil, fmt.Errorf("a parameter needs a name: write {name}")
	}
	if strings.ContainsAny(name, "{}/?*=:\\") || strings.TrimSpace(name) != name {
		return nil, fmt.Errorf("the parameter name %q is invalid: use letters, digits and '_'", name)
	}
	p.name = name
	for strings.HasPrefix(rest, ":") {
		c, n, err := parseConstraint(rest[1:])
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		p.constraints = append(p.constraints, c)
		rest = rest[1+n:]
	}
	switch {
	case rest == "":
	case rest == "?":
		p.optional = true
	case strings.HasPrefix(rest, "="):
		p.hasDefault, p.def = true, rest[1:]
		if strings.HasSuffix(p.def, "?") {
			return nil, fmt.Errorf("parameter %q: an optional parameter cannot have a default value", name)
		}
	default:
		return nil, fmt.Errorf("parameter %q: unexpected %q after the constraints", name, rest)
	}
	if p.catchAll && p.optional {
		return nil, fmt.Errorf("parameter %q: a catch-all parameter cannot be marked optional", name)
	}
	if p.hasDefault {
		for _, c := range p.constraints {
			if !c.ok(p.def) {
				return nil, fmt.Errorf("parameter %q: the default value %q does not satisfy the constraint %s", name, p.def, c.text)
			}
		}
	}
	return p, nil
}

// Params returns the template's parameter names, in order.
func (t *Template) Params() []string { return t.params }

// String returns the template as given.
func (t *Template) String() string { return t.raw }

// Key returns a canonical form of the template: two templates with equal keys match exactly the
// same paths (literals lower-cased, parameter names dropped).
func (t *Template) Key() string {
	var b strings.Builder
	for i, s := range t.segs {
		if i > 0 {
			b.WriteByte('/')
		}
		if s.param == nil {
			b.WriteString(strings.ToLower(s.literal))
			continue
		}
		b.WriteByte('{')
		if s.param.catchAll {
			b.WriteByte('*')
		}
		for _, c := range s.param.constraints {
			b.WriteString(":" + strings.ToLower(c.text))
		}
		if s.param.optional {
			b.WriteByte('?')
		}
		if s.param.hasDefault {
			b.WriteString("=" + s.param.def)
		}
		b.WriteByte('}')
	}
	return b.String()
}

// Compare orders templates by precedence: a negative result means a is tried before b. As
// ASP.NET Core computes it, segment by segment (a literal beats a constrained parameter, which
// beats a parameter, an optional parameter, then a catch-all); a template that ends first sorts
// before one that continues with the same segments.
func Compare(a, b *Template) int {
	n := max(len(a.prec), len(b.prec))
	for i := 0; i < n; i++ {
		var x, y byte
		if i < len(a.prec) {
			x = a.prec[i]
		}
		if i < len(b.prec) {
			y = b.prec[i]
		}
		if x != y {
			return int(x) - int(y)
		}
	}
	return 0
}

// Split splits an escaped URL path into its segments (leading and trailing slashes ignored),
// appending to buf.
func Split(escapedPath string, buf []string) []string {
	p := strings.Trim(escapedPath, "/")
	if p == "" {
		return buf
	}
	for {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return append(buf, p)
		}
		buf = append(buf, p[:i])
		p = p[i+1:]
	}
}

func decode(seg string) (string, bool) {
	if strings.IndexByte(seg, '%') < 0 {
		return seg, true
	}
	v, err := url.PathUnescape(seg)
	return v, err == nil
}

// Match reports whether the path segments (escaped, from Split) match the template, and the
// parameter values (URL-decoded) when it does. vals is nil for a template without parameters;
// an optional parameter without a value is absent, a defaulted one has its default.
func (t *Template) Match(segs []string) (vals map[string]string, ok bool) {
	set := func(k, v string) {
		if vals == nil {
			vals = make(map[string]string, len(t.params))
		}
		vals[k] = v
	}
	for i, s := range t.segs {
		if i >= len(segs) {
			// The path ended: every remaining segment must be optional, defaulted or a catch-all.
			p := s.param
			if p == nil || !(p.optional || p.hasDefault || p.catchAll) {
				return nil, false
			}
			if p.hasDefault {
				set(p.name, p.def)
			}
			continue
		}
		if s.param == nil {
			v, ok := decode(segs[i])
			if !ok || !strings.EqualFold(v, s.literal) {
				return nil, false
			}
			continue
		}
		p := s.param
		var v string
		if p.catchAll {
			parts := make([]string, 0, len(segs)-i)
			for _, raw := range segs[i:] {
				d, ok := decode(raw)
				if !ok {
					return nil, false
				}
				parts = append(parts, d)
			}
			v = strings.Join(parts, "/")
		} else {
			d, ok := decode(segs[i])
			if !ok || d == "" {
				return nil, false
			}
			v = d
		}
		for _, c := range p.constraints {
			if !c.ok(v) {
				return nil, false
			}
		}
		set(p.name, v)
		if p.catchAll {
			return vals, true
		}
	}
	if len(segs) > len(t.segs) {
		return nil, false
	}
	return vals, true
}
