package driver

import (
	"fmt"
	"strings"

	"github.com/azbind/azbind/extension/expr"
)

// Template is a compiled binding expression of a binding property (checklist C17–C19), evaluated
// per invocation against the trigger's binding data.
type Template struct {
	prop  string
	where string
	t     *expr.Template
	esc   func(string) string
}

// IsLiteral reports whether the property has no `{…}` parts.
func (t *Template) IsLiteral() bool { return t.t.IsLiteral() }

// Literal returns the text of a literal template.
func (t *Template) Literal() string { return t.t.Literal() }

// Names returns the binding-data names the template uses.
func (t *Template) Names() []string { return t.t.Names() }

// Template compiles the binding property prop (after %setting% resolution) as a binding
// expression. At load time every `{name}` it uses is checked against the trigger's binding-data
// contract when the trigger declares one. A missing property gives a literal empty template.
func (bc *BindContext) Template(prop string) (*Template, error) {
	s, err := bc.Spec.String(prop)
	if err != nil {
		return nil, err
	}
	t, err := expr.Parse(s)
	if err != nil {
		return nil, &ConfigError{Where: bc.Spec.Where, Field: prop, Err: err}
	}
	t.Spell(bc.TriggerData)
	if bc.TriggerData != nil && !contains(bc.TriggerData, "*") {
		for _, n := range t.Names() {
			if !containsFold(bc.TriggerData, n) {
				return nil, &ConfigError{Where: bc.Spec.Where, Field: prop, Err: expr.ErrUnresolved,
					Problem: fmt.Sprintf("{%s} is not binding data of the %s trigger (it provides %s)", n, bc.TriggerType, strings.Join(bc.TriggerData, ", ")),
					Fix:     "use one of those names or %setting%"}
			}
		}
	}
	return &Template{prop: prop, where: bc.Spec.Where, t: t}, nil
}

// WithEscape returns a copy of t that escapes every substituted value with esc (e.g.
// expr.EscapeODataString for a table filter).
func (t *Template) WithEscape(esc func(string) string) *Template {
	c := *t
	c.esc = esc
	return &c
}

// Eval renders the template for one invocation. Errors name the binding property.
func (t *Template) Eval(fc *FunctionContext) (string, error) {
	if t.t.IsLiteral() {
		return t.t.Literal(), nil
	}
	// Inside the runtime the invocation is both the data and the clock: passing the interface
	// value costs no allocation (a method value or a boxed struct would, per evaluation).
	opt := expr.Options{Escape: t.esc}
	var data expr.Data
	switch {
	case fc == nil:
		data = metadataData{}
	case fc.Invocation != nil:
		data = fc.Invocation
		opt.FunctionName = fc.FunctionName
		opt.Clock = fc.Invocation
	default:
		data = metadataData{fc.Metadata}
		opt.FunctionName = fc.FunctionName
	}
	s, err := t.t.Eval(data, &opt)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %w", t.where, t.prop, err)
	}
	return s, nil
}

type metadataData struct{ m Metadata }

func (d metadataData) Value(name string) (any, bool) {
	if d.m == nil {
		return nil, false
	}
	return d.m.Lookup(name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
