package extension

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/azbind/azbind/extension/driver"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/expr"
)

// MaxFunctionNameLength is the longest function name azbind accepts: 127, the limit the Functions
// documentation states. (The host's own pattern ^[a-z][a-z0-9_\-]{0,127}$ would admit 128; we keep
// the documented, stricter limit so that every name we accept is accepted everywhere.)
const MaxFunctionNameLength = 127

// ValidFunctionName reports whether name is a valid function name, as the host's
// Utility.IsValidFunctionName: an ASCII letter first, then ASCII letters, digits, '_' and '-', at
// most MaxFunctionNameLength characters, and not the reserved name "host" (any case).
func ValidFunctionName(name string) bool {
	if name == "" || len(name) > MaxFunctionNameLength || strings.EqualFold(name, "host") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// validBindingName is the host's BindingNameValidationRegex ^[a-zA-Z][a-zA-Z0-9]{0,127}$ (and
// "$return", checked by the caller): ASCII letters and digits only, a letter first.
func validBindingName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// displayName shows a user-written name on one line: control characters and invalid UTF-8 are
// escaped (a NUL or a line break is never printed raw).
func displayName(s string) string {
	q := strconv.Quote(s)
	if q[1:len(q)-1] == s {
		return s
	}
	return q
}

func checkFunction(f *FunctionSpec, settings *connection.Settings) []Problem {
	if f == nil {
		return []Problem{{File: "Go API", Problem: "nil function", Fix: "declare the function"}}
	}
	file := f.Where
	switch {
	case file == "":
		file = "Go API: " + f.Name
	case file == "Go API":
		file = "Go API: " + f.Name
	}
	ps := &problems{file: file}
	if !ValidFunctionName(f.Name) {
		fix := fmt.Sprintf("use a name that starts with a letter and has only letters, digits, '_' and '-' (at most %d characters)", MaxFunctionNameLength)
		if strings.EqualFold(f.Name, "host") {
			fix = `"host" is reserved by the Functions host (its own folder and keys): rename the function`
		}
		ps.add("", fmt.Sprintf("'%s' is not a valid function name.", displayName(f.Name)), fix)
	}
	if f.Retry != nil {
		checkRetry(ps, "retry", f.Retry)
	}
	var triggers []string
	for i, b := range f.Bindings {
		if b != nil && b.IsTrigger() {
			triggers = append(triggers, fmt.Sprintf("bindings[%d] (%s)", i, b.Type))
		}
	}
	switch {
	case len(f.Bindings) == 0:
		ps.add("bindings", "has no bindings", "add exactly one trigger binding (a type ending in \"Trigger\")")
	case len(triggers) == 0:
		ps.add("bindings", "has no trigger binding", "add exactly one binding whose type ends in \"Trigger\" (registered: "+triggerTypes()+")")
	case len(triggers) > 1:
		ps.add("bindings", fmt.Sprintf("has %d trigger bindings: %s", len(triggers), strings.Join(triggers, ", ")), "keep exactly one trigger; use input bindings for the others")
	}
	seen := map[string]int{}
	for i, b := range f.Bindings {
		field := fmt.Sprintf("bindings[%d]", i)
		if b == nil {
			ps.add(field, "nil binding", "remove it")
			continue
		}
		checkBinding(ps, field, b, settings)
		if b.Name != "" {
			key := strings.ToLower(b.Name)
			if j, dup := seen[key]; dup {
				ps.add(field+".name", fmt.Sprintf("binding name %q is already used by bindings[%d] (names are case-insensitive)", b.Name, j), "give every binding a unique name")
			} else {
				seen[key] = i
			}
		}
	}
	return ps.list
}

func triggerTypes() string {
	var out []string
	for _, t := range driver.BindingTypes() {
		if (&BindingSpec{Type: t}).IsTrigger() {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return "none; import a connector package"
	}
	return strings.Join(out, ", ")
}

func checkBinding(ps *problems, field string, b *BindingSpec, settings *connection.Settings) {
	// Direction.
	dir := Direction(strings.ToLower(string(b.Direction)))
	switch dir {
	case DirIn, DirOut, DirInOut:
	case "":
		if !b.IsTrigger() {
			ps.add(field+".direction", "is required", `set "direction" to "in", "out" or "inout"`)
		}
		dir = DirIn
	default:
		ps.add(field+".direction", fmt.Sprintf("invalid direction %q", b.Direction), `use "in", "out" or "inout"`)
		dir = ""
	}
	if b.IsTrigger() && dir != "" && dir != DirIn {
		ps.add(field+".direction", fmt.Sprintf("a trigger binding must have direction \"in\", got %q", b.Direction), `set "direction": "in"`)
		dir = ""
	}
	// Type.
	if b.Type == "" {
		ps.add(field+".type", "is required", "set \"type\" to a registered binding type ("+strings.Join(driver.BindingTypes(), ", ")+")")
	} else if bt, ext, ok := driver.Lookup(b.Type); !ok {
		problem, fix := unknownTypeProblem(b.Type, b.IsTrigger())
		ps.add(field+".type", problem, fix)
	} else {
		checkSupport(ps, field, b, bt, ext, dir)
	}
	// Name.
	switch {
	case b.Name == "":
		ps.add(field+".name", "is required", "set \"name\" to the parameter name")
	case strings.EqualFold(b.Name, "$return"):
		if dir != DirOut && dir != "" {
			ps.add(field+".name", fmt.Sprintf("\"$return\" is only allowed on an \"out\" binding, not %q", string(dir)), "give the binding a parameter name, or make it an output")
		}
	case !validBindingName(b.Name):
		ps.add(field+".name", fmt.Sprintf("The binding name %s is invalid.", displayName(b.Name)), "use 1–128 ASCII letters and digits, starting with a letter (or \"$return\" for an output)")
	}
	// Properties of older extension versions (issue 23).
	checkRenamed(ps, field, b)
	// dataType / cardinality (C16).
	switch strings.ToLower(b.DataType) {
	case "", "string", "binary", "stream":
	default:
		ps.add(field+".dataType", fmt.Sprintf("invalid dataType %q", b.DataType), `use "string", "binary" or "stream", or remove it`)
	}
	switch strings.ToLower(b.Cardinality) {
	case "", "one", "many":
	default:
		ps.add(field+".cardinality", fmt.Sprintf("invalid cardinality %q", b.Cardinality), `use "one" or "many", or remove it`)
	}
	// %setting% tokens (C17) and {template} syntax (C18/C19) in string properties.
	for _, k := range sortedKeys(b.Properties) {
		checkStrings(ps, field+"."+k, b.Properties[k], settings, !b.IsTrigger())
	}
}

func checkSupport(ps *problems, field string, b *BindingSpec, bt driver.BindingType, ext *driver.Extension, dir Direction) {
	extName := ""
	if ext != nil {
		extName = " (extension " + ext.Name + ")"
	}
	if b.IsTrigger() {
		if bt.NewTrigger == nil {
			ps.add(field+".type", fmt.Sprintf("binding type %q%s cannot be used as a trigger", bt.Type, extName), "use a trigger type")
		}
		return
	}
	if bt.NewInput == nil && bt.NewOutput == nil {
		ps.add(field+".type", fmt.Sprintf("binding type %q%s is trigger-only but its name does not end in \"Trigger\"", bt.Type, extName), "use it as the function's trigger")
		return
	}
	var missing []string
	if (dir == DirIn || dir == DirInOut) && bt.NewInput == nil {
		missing = append(missing, "input")
	}
	if (dir == DirOut || dir == DirInOut) && bt.NewOutput == nil {
		missing = append(missing, "output")
	}
	if len(missing) > 0 {
		var can []string
		if bt.NewInput != nil {
			can = append(can, `"in"`)
		}
		if bt.NewOutput != nil {
			can = append(can, `"out"`)
		}
		ps.add(field+".direction", fmt.Sprintf("binding type %q%s does not support direction %q (no %s binding)", bt.Type, extName, string(dir), strings.Join(missing, "/")),
			"use direction "+strings.Join(can, " or "))
	}
}

// checkStrings checks every string in v (recursing into objects and arrays).
func checkStrings(ps *problems, field string, v any, settings *connection.Settings, template bool) {
	switch x := v.(type) {
	case string:
		missing := ""
		s, err := expr.ResolveSettings(x, func(name string) (string, bool) {
			v, ok := settings.Get(name)
			if !ok {
				missing = name
			}
			return v, ok
		})
		if err != nil {
			if errors.Is(err, expr.ErrSyntax) {
				ps.add(field, err.Error(), "close the %setting% token, or remove the stray '%'")
				return
			}
			ps.add(field, err.Error(), fmt.Sprintf("define the app setting %q (in the environment or local.settings.json Values)", missing))
			s = x
		}
		if template {
			if _, err := expr.Parse(s); err != nil {
				fix := "balance the braces; write {{ and }} for literal braces"
				switch msg := err.Error(); {
				case strings.Contains(msg, "is empty"):
					fix = "put a binding data name between the braces, or write {{}} for literal braces"
				case strings.Contains(msg, "parameter name") || strings.Contains(msg, "expression"):
					fix = "use a name of letters, digits and '_' starting with a letter ('-' only after a '.'), or write {{ and }} for literal braces"
				}
				ps.add(field, err.Error(), fix)
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			checkStrings(ps, field+"."+k, x[k], settings, template)
		}
	case []any:
		for i, e := range x {
			checkStrings(ps, fmt.Sprintf("%s[%d]", field, i), e, settings, template)
		}
	}
}
