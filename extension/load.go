package extension

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/azbind/azbind/connection"
)

// Problem is one finding about an app's declaration, printed as "file: field: problem: fix".
type Problem struct {
	File    string // e.g. "ProcessOrder/function.json", "host.json", "Go API: ProcessOrder"
	Field   string // e.g. "bindings[1].direction", "retry.maxRetryCount", "" for the whole file
	Problem string
	Fix     string
	Warning bool // true for findings that do not stop the host (unknown keys, ...)
}

// String is the one-line form "file: field: problem: fix": empty parts are left out, a problem's
// final '.' is dropped before the fix, and control characters or invalid UTF-8 anywhere (a NUL
// in a JSON key, a line break in a name) are escaped so that one problem is always one line.
func (p Problem) String() string {
	problem := strings.TrimSpace(p.Problem)
	fix := strings.TrimSpace(p.Fix)
	if fix != "" && strings.HasSuffix(problem, ".") && !strings.HasSuffix(problem, "..") {
		problem = strings.TrimSuffix(problem, ".")
	}
	parts := make([]string, 0, 4)
	for _, s := range []string{strings.TrimSpace(p.File), strings.TrimSpace(p.Field), problem, fix} {
		if s != "" {
			parts = append(parts, escapeControl(s))
		}
	}
	return strings.Join(parts, ": ")
}

// escapeControl escapes non-printable characters and invalid UTF-8 as Go escapes (\x00, \n,
// \u202e), leaving everything else as it is.
func escapeControl(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r) || r == ' ':
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// ProblemsError carries every error-level Problem found; it wraps ErrInvalidConfig.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *ProblemsError) Unwrap() error { return ErrInvalidConfig }

// AppSpec is a loaded Functions app folder.
type AppSpec struct {
	Dir       string
	Host      *HostConfig
	Functions []*FunctionSpec
	Settings  *connection.Settings // environment + local.settings.json (environment wins)
	Warnings  []Problem
}

// LoadAppDir loads dir/host.json, every dir/<fn>/function.json and dir/local.settings.json.
// settings may be nil: the environment plus dir/local.settings.json are used. It returns every
// problem found at once as a *ProblemsError.
//
// The returned AppSpec is non-nil even with an error: it holds what could be loaded, including
// Settings and Warnings (non-fatal findings such as unknown keys), so callers can report them too.
// Every immediate subfolder holding a function.json is a function named after the folder; each
// is checked with CheckFunction.
func LoadAppDir(dir string, settings *connection.Settings) (*AppSpec, error) {
	return loadAppDir(dir, settings)
}

// ParseHostJSON parses host.json content (file names it in problems) and applies
// AzureFunctionsJobHost__… overrides from settings (nil settings: none). The returned problems
// include warnings (Problem.Warning) for unknown keys; the HostConfig is nil only when the
// document is not a JSON object.
func ParseHostJSON(file string, data []byte, settings *connection.Settings) (*HostConfig, []Problem) {
	return parseHostJSON(file, data, settings)
}

// ParseFunctionJSON parses one function.json; name is the function (folder) name and file names
// it in problems (e.g. "ProcessOrder/function.json"). It checks the document's shape and value
// types; CheckFunction checks the meaning. The FunctionSpec is nil only when the document is not
// a JSON object. A binding without direction whose type ends in "Trigger" gets direction "in".
func ParseFunctionJSON(name, file string, data []byte) (*FunctionSpec, []Problem) {
	return parseFunctionJSON(name, file, data)
}

// CheckFunction validates a parsed or Go-declared function: its name, exactly one trigger,
// registered binding types and supported directions, binding names, dataType/cardinality values,
// the retry policy, %setting% tokens resolvable in settings, and template syntax.
//
// Problems name File as f.Where ("Go API: <name>" for Go-declared functions) and Field as e.g.
// "bindings[2].direction".
func CheckFunction(f *FunctionSpec, settings *connection.Settings) []Problem {
	return checkFunction(f, settings)
}
