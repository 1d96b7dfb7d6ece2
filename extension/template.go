package extension

import (
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
