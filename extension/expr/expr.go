// Package expr implements Azure Functions binding expressions (checklist C17–C19, C28):
// `%setting%` substitution, `{name}` templates with `{{`/`}}` escapes, dotted paths into JSON
// payloads, the built-ins {rand-guid} and {DateTime} (with .NET-style formats) and sys.*, and blob
// path patterns whose `{name}` segments capture parts of a blob name.
//
// STUB: the API below is fixed; the implementation is being written.
package expr

import (
	"errors"
	"time"
)

// ErrSyntax is wrapped by every parse error; ErrUnresolved by every evaluation error caused by a
// missing setting or name.
var (
	ErrSyntax     = errors.New("invalid binding expression")
	ErrUnresolved = errors.New("unresolved binding expression")
)

// ResolveSettings replaces every %name% in s with lookup(name), left to right ("%%" is not an
// escape: the real system has none). Errors (wrapping ErrSyntax / ErrUnresolved) use the real
// texts: "'%name%' does not resolve to a value." and "The '%' at position i does not have a
// closing '%'".
func ResolveSettings(s string, lookup func(name string) (string, bool)) (string, error) {
	panic("expr: not implemented")
}

// Data supplies values for template names. Value gets the first segment of a name (case-
// insensitive lookup is the implementation's job); the rest of a dotted path is navigated by expr
// through map[string]any, []any, json.RawMessage/[]byte holding JSON, and structs (by JSON name).
type Data interface {
	Value(name string) (any, bool)
}

// Options for evaluation.
type Options struct {
	Now          func() time.Time // default time.Now; {DateTime} and {sys.UtcNow} use its UTC value
	FunctionName string           // {sys.MethodName}
	// Escape, if set, is applied to every substituted value (not to literal text): e.g. OData
	// string-literal escaping for a table filter.
	Escape func(string) string
}

// Template is a parsed `{…}` template.
type Template struct{}

// Parse parses a template (after %setting% substitution).
func Parse(s string) (*Template, error) { panic("expr: not implemented") }

// Names returns the first segments of the names the template refers to, excluding built-ins
// (rand-guid, DateTime, sys), in order of appearance, without duplicates.
func (t *Template) Names() []string { panic("expr: not implemented") }

// IsLiteral reports whether the template has no `{…}` parts; Literal returns its text then.
func (t *Template) IsLiteral() bool { panic("expr: not implemented") }

// Literal returns the unescaped text of a literal template.
func (t *Template) Literal() string { panic("expr: not implemented") }

// Eval renders the template.
func (t *Template) Eval(d Data, opt *Options) (string, error) { panic("expr: not implemented") }

// Pattern is a blob path pattern with captures, e.g. "input/{name}.{ext}".
type Pattern struct{}

// ParsePattern parses a blob path pattern "container/blobPattern"; the container part may not
// contain captures; capture names may not contain '.'.
func ParsePattern(s string) (*Pattern, error) { panic("expr: not implemented") }

// Container returns the pattern's container.
func (p *Pattern) Container() string { panic("expr: not implemented") }

// Prefix returns the literal blob-name prefix before the first capture (for listing).
func (p *Pattern) Prefix() string { panic("expr: not implemented") }

// Captures returns the capture names in order.
func (p *Pattern) Captures() []string { panic("expr: not implemented") }

// Match matches a blob name (without container) and returns the captures, or ok=false.
func (p *Pattern) Match(blobName string) (map[string]string, bool) { panic("expr: not implemented") }

// EscapeODataString escapes a value for use inside an OData string literal (” for ').
func EscapeODataString(s string) string { panic("expr: not implemented") }
