// Package expr implements Azure Functions binding expressions (checklist C17–C19, C28):
// `%setting%` substitution, `{name}` templates with `{{`/`}}` escapes, dotted paths into JSON
// payloads, the built-ins {rand-guid} and {DateTime} (with .NET-style formats) and sys.*, and blob
// path patterns whose `{name}` segments capture parts of a blob name.
//
// Positions in error messages count UTF-16 code units, as the .NET host does: from 1 for `{…}`
// templates (BindingTemplateParser reports m.Index + 1) and from 0 for `%setting%` tokens
// (NameResolverExtensions reports the index itself), so they are byte positions for ASCII text.
// Parse errors carry the host's texts ("Invalid template '…'. Missing closing bracket at position
// N.", "… The parameter name at position N is empty.", "… The parameter name 'a-b' is invalid.").
//
// Values substituted into a template are rendered as follows, after WebJobs'
// BindingDataPathHelper: strings as they are; integers (and integral JSON numbers) in plain decimal
// without exponent, or with the .NET formats D[n] and X[n]; other numbers in Go's shortest
// round-trip form; GUIDs (github.com/google/uuid.UUID, or any [16]byte type named like UUID or
// GUID) as .NET's Guid.ToString(format) with N, D (default), B, P or X; time.Time with the
// expression's .NET format, by default "yyyy-MM-ddTHH-mm-ssK" (the host's default for DateTime);
// null as the empty string (as the host does). Where azbind differs on purpose: booleans are
// lowercase "true"/"false" (JSON style; the host prints "True" for JSON booleans and nothing for
// .NET ones), and JSON objects and arrays are an error rather than silently empty text.
package expr

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
)

// ErrSyntax is wrapped by every parse error; ErrUnresolved by every evaluation error caused by a
// missing setting or name.
var (
	ErrSyntax     = errors.New("invalid binding expression")
	ErrUnresolved = errors.New("unresolved binding expression")
)

// Data supplies values for template names. Value gets the first segment of a name (case-
// insensitive lookup is the implementation's job); the rest of a dotted path is navigated by expr
// through map[string]any, []any, json.RawMessage/[]byte holding JSON, and structs (by JSON name).
type Data interface {
	Value(name string) (any, bool)
}

// MapData is Data backed by a map; lookups are case-insensitive.
type MapData map[string]any

// Value implements Data.
func (m MapData) Value(name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// Options for evaluation.
type Options struct {
	Now func() time.Time // default time.Now; {DateTime} and {sys.UtcNow} use its UTC value
	// Clock, when set and Now is nil, gives the time instead (an interface value, so that a caller
	// passing its clock costs no allocation per evaluation).
	Clock        interface{ Now() time.Time }
	FunctionName string // {sys.MethodName}
	// Escape, if set, is applied to every substituted value (not to literal text): e.g. OData
	// string-literal escaping for a table filter.
	Escape func(string) string
}

// Template is a parsed `{…}` template.
type Template struct {
	src     string
	parts   []part
	literal bool   // no {…} parts
	lit     string // the literal parts' text (all of it when literal)
	litLen  int    // length of the literal parts' text
	nexpr   int    // number of expressions
	pre     string // with one expression: the literal text before it
	suf     string // and after it
	one     *Expr  // the one expression, when there is exactly one
}

// part is a literal (expr == nil) or an expression.
type part struct {
	lit  string
	expr *Expr
}

// Expr is one `{…}` expression of a template.
type Expr struct {
	Path      []string // dotted segments, as written
	Format    string   // text after the first ':' ("" when none)
	HasFormat bool
	Pos       int // position of the '{' (UTF-16 units from 0)

	key string // the spelling Path[0] is looked up under (Spell); Path[0] when empty
}

// String returns the expression as written, without braces.
func (e *Expr) String() string {
	s := strings.Join(e.Path, ".")
	if e.HasFormat {
		s += ":" + e.Format
	}
	return s
}

// pos converts a byte index in s into a UTF-16 position as .NET reports it.
func pos(s string, i int) int {
	if i > len(s) {
		i = len(s)
	}
	n := 0
	for _, r := range s[:i] {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}

// Parse parses a template (after %setting% substitution). `{{` and `}}` stand for literal braces.
func Parse(s string) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				lit.WriteByte('{')
				i += 2
				continue
			}
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 || s[i+1+end] == '{' {
				return nil, syntaxErr("Invalid template '%s'. Missing closing bracket at position %d.", s, pos(s, i)+1)
			}
			body := s[i+1 : i+1+end]
			if body == "" {
				return nil, syntaxErr("Invalid template '%s'. The parameter name at position %d is empty.", s, pos(s, i)+1)
			}
			e, err := parseExpr(s, body, pos(s, i))
			if err != nil {
				return nil, err
			}
			flush()
			t.parts = append(t.parts, part{expr: e})
			i += end + 2
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				lit.WriteByte('}')
				i += 2
				continue
			}
			return nil, syntaxErr("Invalid template '%s'. Missing opening bracket at position %d.", s, pos(s, i)+1)
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	t.literal = true
	var all strings.Builder
	for _, p := range t.parts {
		all.WriteString(p.lit)
		t.litLen += len(p.lit)
		if p.expr != nil {
			t.literal = false
			t.nexpr++
		}
	}
	t.lit = all.String()
	if t.nexpr == 1 {
		after := false
		for _, p := range t.parts {
			switch {
			case p.expr != nil:
				t.one, after = p.expr, true
			case after:
				t.suf += p.lit
			default:
				t.pre += p.lit
			}
		}
	}
	return t, nil
}

// MustParse is Parse that panics on error, for package-level templates in programs and tests.
func MustParse(s string) *Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseExpr(src, body string, at int) (*Expr, error) {
	e := &Expr{Pos: at}
	name := body
	if n, f, ok := strings.Cut(body, ":"); ok {
		name, e.Format, e.HasFormat = n, f, true
	}
	e.Path = strings.Split(name, ".")
	for i, seg := range e.Path {
		if err := checkSegment(seg, i == 0, len(e.Path)); err != "" {
			if i == 0 && strings.Contains(seg, "-") && !strings.HasPrefix(seg, "-") && !strings.ContainsFunc(seg, func(r rune) bool { return !isIdentRune(r) && r != '-' }) {
				// The host's text (BindingTemplateToken.NewExpression) for a '-' in the first part.
				return nil, syntaxErr("Invalid template '%s'. The parameter name '%s' is invalid.", src, seg)
			}
			return nil, syntaxErr("Invalid template '%s'. Invalid template expression '%s' at position %d: %s.", src, body, at+1, err)
		}
	}
	return e, nil
}

// checkSegment returns "" when seg is a valid path segment, else what is wrong. As in the host's
// identifier pattern (BindingTemplateParser.IsValidIdentifier), names are made of letters
// (including letter numbers), decimal digits, connector punctuation such as '_', combining marks
// and format characters, with '-' after the first segment; the first segment starts with a letter
// or '_' and may not contain '-' (except the built-in rand-guid); "$sys" is allowed as a first
// segment.
func checkSegment(seg string, first bool, n int) string {
	if seg == "" {
		return "empty name segment"
	}
	if first {
		if strings.EqualFold(seg, "rand-guid") {
			return ""
		}
		if strings.EqualFold(seg, "$sys") && n > 1 {
			return ""
		}
	}
	for j, r := range seg {
		switch {
		case first && j == 0 && !(isLetter(r) || r == '_'):
			if isIdentRune(r) {
				return "a name must start with a letter or '_'"
			}
			return fmt.Sprintf("character %q is not allowed (use letters, digits, '_', '-' and '.')", r)
		case isIdentRune(r):
		case r == '-':
			if first {
				return "only rand-guid may contain '-' in its first segment"
			}
		default:
			return fmt.Sprintf("character %q is not allowed (use letters, digits, '_', '-' and '.')", r)
		}
	}
	return ""
}

func isLetter(r rune) bool { return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) }

// isIdentRune reports whether r may appear in a name (the host's IdentifierPartCharacter without
// '.' and '-').
func isIdentRune(r rune) bool {
	return isLetter(r) || unicode.Is(unicode.Nd, r) || unicode.In(r, unicode.Pc, unicode.Mn, unicode.Mc, unicode.Cf)
}

// String returns the template's source text.
func (t *Template) String() string { return t.src }

// Exprs returns the template's expressions in order.
func (t *Template) Exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// IsBuiltin reports whether name (a first segment) is a built-in: rand-guid, DateTime, sys, $sys.
func IsBuiltin(name string) bool {
	for _, b := range []string{"rand-guid", "DateTime", "sys", "$sys"} {
		if strings.EqualFold(name, b) {
			return true
		}
	}
	return false
}

// Names returns the first segments of the names the template refers to, excluding built-ins
// (rand-guid, DateTime, sys), in order of appearance, without duplicates (case-insensitive).
func (t *Template) Names() []string {
	var out []string
next:
	for _, p := range t.parts {
		if p.expr == nil || IsBuiltin(p.expr.Path[0]) {
			continue
		}
		for _, n := range out {
			if strings.EqualFold(n, p.expr.Path[0]) {
				continue next
			}
		}
		out = append(out, p.expr.Path[0])
	}
	return out
}

// Spell makes each expression whose name equals one of names case-insensitively (C19), in
// another spelling, ask the data for that spelling: with the trigger's declared binding data,
// `{ID}` is looked up as Id, one exact lookup instead of a case-insensitive search. Values are
// the same, since Data lookups are case-insensitive, unless the data holds two keys that differ
// only in case (a payload {"ID":1,"Id":2}: Functions' case-insensitive binding data cannot hold
// both either), where the declared spelling wins. Errors still quote the name as written. Call
// it before the template is shared between goroutines.
func (t *Template) Spell(names []string) {
	for _, p := range t.parts {
		if p.expr == nil {
			continue
		}
		first := p.expr.Path[0]
		for _, n := range names {
			if n != first && strings.EqualFold(n, first) {
				p.expr.key = n
				break
			}
		}
	}
}

// IsLiteral reports whether the template has no `{…}` parts; Literal returns its text then.
func (t *Template) IsLiteral() bool { return t.literal }

// Literal returns the unescaped text of a literal template (the literal parts of any template).
func (t *Template) Literal() string { return t.lit }

// Eval renders the template. For each `{name.path:format}` the trigger's data (d, may be nil) is
// asked for name first; only when it has no such value are the built-ins used.
func (t *Template) Eval(d Data, opt *Options) (string, error) {
	if opt == nil {
		opt = &Options{}
	}
	if t.literal {
		return t.lit, nil
	}
	if t.one != nil {
		// The usual shape (`shipped-{id}`, `{name}.json`): one concatenation, no allocation
		// at all for a template that is just the expression.
		s, err := evalExpr(t.one, d, opt)
		if err != nil {
			return "", err
		}
		if opt.Escape != nil {
			s = opt.Escape(s)
		}
		return t.pre + s + t.suf, nil
	}
	// Values first, then one allocation of the exact size: none for a template that is one
	// expression, and the tiny allocator's for a short result.
	var small [4]string
	vals := small[:0]
	if t.nexpr > len(small) {
		vals = make([]string, 0, t.nexpr)
	}
	size := t.litLen
	for _, p := range t.parts {
		if p.expr == nil {
			continue
		}
		s, err := evalExpr(p.expr, d, opt)
		if err != nil {
			return "", err
		}
		if opt.Escape != nil {
			s = opt.Escape(s)
		}
		vals = append(vals, s)
		size += len(s)
	}
	var b strings.Builder
	b.Grow(size)
	i := 0
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		b.WriteString(vals[i])
		i++
	}
	return b.String(), nil
}

// EscapeODataString escapes a value for use inside an OData string literal (” for ').
func EscapeODataString(s string) string { return strings.ReplaceAll(s, "'", "''") }

// Quote escapes literal text so that Parse returns it unchanged: braces are doubled.
func Quote(s string) string {
	return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
}

// Error is a binding-expression error: its text is the real system's message, and it unwraps to
// ErrSyntax or ErrUnresolved.
type Error struct {
	Msg  string
	Kind error // ErrSyntax or ErrUnresolved
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns ErrSyntax or ErrUnresolved.
func (e *Error) Unwrap() error { return e.Kind }

func syntaxErr(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: ErrSyntax}
}

func unresolvedErr(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: ErrUnresolved}
}
