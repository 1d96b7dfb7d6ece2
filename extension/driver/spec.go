package driver

import (
	"strings"

	"github.com/azbind/azbind/internal/jsonc"
)

// Direction of a binding.
type Direction string

const (
	DirIn    Direction = "in"
	DirOut   Direction = "out"
	DirInOut Direction = "inout"
)

// BindingSpec is one binding as declared in function.json or through the Go API. Both ways of
// declaring a function produce the same BindingSpecs, and everything after that is shared.
type BindingSpec struct {
	Type        string    // e.g. "queueTrigger"
	Name        string    // parameter name, or "$return"
	Direction   Direction // in, out, inout
	DataType    string    // "", "string", "binary", "stream" (checklist C16)
	Cardinality string    // "" / "one" or "many"
	// Properties holds every other key with its JSON-decoded value (string, float64, bool, map,
	// slice). Keys keep their declared spelling; use Prop for case-insensitive access.
	Properties map[string]any
	// Where is the declaration's location for error messages, e.g.
	// "ProcessOrder/function.json: bindings[1]" or "Go API: ProcessOrder: bindings[1]".
	Where string

	// RawConnection is the `connection` property as declared, before %setting% resolution (set
	// by the runtime when it resolved one): the resolver expands it itself, once, with the real
	// system's rules (C5). Empty when the declared value had no %setting%.
	RawConnection string
}

// IsTrigger reports whether the binding is a trigger (its type ends in "Trigger").
func (b *BindingSpec) IsTrigger() bool {
	return len(b.Type) > len("trigger") && strings.EqualFold(b.Type[len(b.Type)-len("trigger"):], "trigger")
}

// Many reports `cardinality: many`.
func (b *BindingSpec) Many() bool { return strings.EqualFold(b.Cardinality, "many") }

// Prop returns the property named key, matched case-insensitively.
func (b *BindingSpec) Prop(key string) (any, bool) {
	if v, ok := b.Properties[key]; ok {
		return v, true
	}
	for k, v := range b.Properties {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// String returns the string property key ("" if absent); a non-string value is an error naming
// the binding and the field.
func (b *BindingSpec) String(key string) (string, error) {
	v, ok := b.Prop(key)
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &ConfigError{Where: b.Where, Field: key, Problem: "must be a string, got " + jsonc.Kind(v)}
	}
	return s, nil
}

// Connection returns the binding's `connection` property (with %setting% resolved).
func (b *BindingSpec) Connection() string {
	s, _ := b.String("connection")
	return s
}

// connectionName is the name handed to the connection resolver: the declared value, so that the
// resolver applies %setting% resolution itself, exactly once.
func (b *BindingSpec) connectionName() string {
	if b.RawConnection != "" {
		return b.RawConnection
	}
	return b.Connection()
}

// Props are binding properties for the Go API.
type Props = map[string]any

// Binding declares a binding for the Go API; connectors offer typed helpers built on it
// (queue.Trigger, blob.Input, …). where is filled in by the host.
func Binding(typ, name string, dir Direction, props Props) *BindingSpec {
	b := &BindingSpec{Type: typ, Name: name, Direction: dir, Properties: map[string]any{}}
	for k, v := range props {
		switch {
		case strings.EqualFold(k, "dataType"):
			b.DataType, _ = v.(string)
		case strings.EqualFold(k, "cardinality"):
			b.Cardinality, _ = v.(string)
		default:
			b.Properties[k] = v
		}
	}
	return b
}

// BindingOn declares a binding whose main property (queueName, tableName, path…) is given as
// key=value; props add the other properties (a key in props equal to key is ignored). Connectors'
// typed helpers (queue.Trigger, table.Input, …) are built on it.
func BindingOn(typ, name string, dir Direction, key, value string, props ...Props) *BindingSpec {
	p := Props{key: value}
	for _, m := range props {
		for k, v := range m {
			if strings.EqualFold(k, key) {
				continue
			}
			p[k] = v
		}
	}
	return Binding(typ, name, dir, p)
}
