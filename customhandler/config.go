package customhandler

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/internal/jsonc"
)

// Config is host.json's `customHandler` section (or the legacy `httpWorker`), resolved.
type Config struct {
	// Section is the host.json key it came from: "customHandler" or "httpWorker".
	Section string
	// Executable is the program to start: description.defaultExecutablePath, made absolute
	// against the app folder when that file exists there, else as found on PATH.
	Executable string
	// WorkerPath is description.defaultWorkerPath (absolute against the app folder; "" if none).
	WorkerPath string
	// Arguments are description.arguments (before WorkerPath); WorkerArguments,
	// description.workerArguments (after it).
	Arguments, WorkerArguments []string
	// WorkingDirectory is description.workingDirectory (default: the app folder).
	WorkingDirectory string
	// EnableForwardingHTTPRequest is enableForwardingHttpRequest: an HTTP function whose only
	// outputs are HTTP gets the original request on its original path, and its response is
	// returned verbatim. Always true with the legacy httpWorker section, as in Functions.
	EnableForwardingHTTPRequest bool
	// StrictTypes is azbind's opt-in `azbindStrictTypes: true` (or the app setting
	// AZBIND_CUSTOMHANDLER_STRICT_TYPES=true): values keep their JSON types in Data and Metadata
	// (no JSON text inside strings) and output strings are written as strings (only a binary
	// output's string is base64-decoded). Off by default, matching Functions' quirks.
	StrictTypes bool
	// Warnings are non-fatal findings (both sections present, …).
	Warnings []string
}

// ErrNoCustomHandler is returned by LoadConfig when host.json declares neither section.
var ErrNoCustomHandler = errors.New("host.json declares no customHandler")

// LoadConfig reads appDir/host.json's customHandler (or httpWorker) section; %VAR% in paths and
// arguments expand from settings (the environment and local.settings.json Values). It returns
// ErrNoCustomHandler (wrapped) when neither section is present, and a one-line error naming
// the field and the fix for a bad section.
func LoadConfig(appDir string, settings *connection.Settings) (*Config, error) {
	data, err := os.ReadFile(filepath.Join(appDir, "host.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", filepath.Join(appDir, "host.json"), ErrNoCustomHandler)
	}
	if err != nil {
		return nil, fmt.Errorf("host.json: %w", err)
	}
	std, _, err := jsonc.Standard(data)
	if err != nil {
		return nil, fmt.Errorf("host.json: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(std, &top); err != nil {
		return nil, fmt.Errorf("host.json: %w", err)
	}
	var ch, hw json.RawMessage
	for k, v := range top {
		switch strings.ToLower(k) {
		case "customhandler":
			ch = v
		case "httpworker":
			hw = v
		}
	}
	cfg := &Config{}
	raw := ch
	cfg.Section = "customHandler"
	switch {
	case ch != nil && hw != nil:
		// HttpWorkerOptionsSetup: both present, customHandler wins.
		cfg.Warnings = append(cfg.Warnings, "host.json: both customHandler and httpWorker are declared: customHandler is used; remove httpWorker")
	case ch == nil && hw != nil:
		raw, cfg.Section = hw, "httpWorker"
		cfg.EnableForwardingHTTPRequest = true // Type None: HTTP functions are always forwarded
	case ch == nil:
		return nil, fmt.Errorf("host.json: %w", ErrNoCustomHandler)
	}
	var sec struct {
		Description *struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			DefaultWorkerPath     string   `json:"defaultWorkerPath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
			WorkerArguments       []string `json:"workerArguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		StrictTypes                 bool `json:"azbindStrictTypes"`
	}
	if err := json.Unmarshal(raw, &sec); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := cfg.Section
			if te.Field != "" {
				where += "." + te.Field
			}
			return nil, fmt.Errorf("host.json: %s: must be %s, got %s: fix the value (description: object, arguments: array of strings, enableForwardingHttpRequest: boolean)", where, jsonKind(te.Type), article(te.Value))
		}
		return nil, fmt.Errorf("host.json: %s: %v: fix the section's value types (description: object, arguments: array of strings, enableForwardingHttpRequest: boolean)", cfg.Section, err)
	}
	d := sec.Description
	if d == nil {
		return nil, fmt.Errorf("host.json: %s.description: Missing worker Description.: add \"description\": {\"defaultExecutablePath\": \"<program>\"}", cfg.Section)
	}
	expand := func(s string) string { return expandVars(s, settings) }
	exe := strings.TrimSpace(expand(d.DefaultExecutablePath))
	if exe == "" {
		return nil, fmt.Errorf("host.json: %s.description.defaultExecutablePath: WorkerDescription DefaultExecutablePath cannot be empty: name the handler program (relative to the app folder, or on PATH)", cfg.Section)
	}
	root, err := filepath.Abs(appDir)
	if err != nil {
		return nil, err
	}
	if cfg.Section == "customHandler" {
		cfg.EnableForwardingHTTPRequest = sec.EnableForwardingHTTPRequest
	}
	cfg.StrictTypes = sec.StrictTypes
	if v, ok := settings.Get("AZBIND_CUSTOMHANDLER_STRICT_TYPES"); ok && strings.EqualFold(strings.TrimSpace(v), "true") {
		cfg.StrictTypes = true
	}
	cfg.WorkingDirectory = root
	if wd := expand(d.WorkingDirectory); wd != "" {
		if !filepath.IsAbs(wd) {
			wd = filepath.Join(root, wd)
		}
		cfg.WorkingDirectory = wd
	}
	// A relative executable is the app folder's file when it exists there, else a PATH lookup
	// (HttpWorkerDescription.ApplyDefaultsAndValidate).
	switch {
	case filepath.IsAbs(exe):
		cfg.Executable = exe
	default:
		if st, err := os.Stat(filepath.Join(root, exe)); err == nil && !st.IsDir() {
			cfg.Executable = filepath.Join(root, exe)
		} else if p, err := exec.LookPath(exe); err == nil {
			cfg.Executable = p
		} else {
			return nil, fmt.Errorf("host.json: %s.description.defaultExecutablePath: %q is neither a file in the app folder %s nor a program on PATH: build the handler there, or fix the path", cfg.Section, exe, root)
		}
	}
	if wp := expand(d.DefaultWorkerPath); wp != "" {
		if !filepath.IsAbs(wp) {
			wp = filepath.Join(root, wp)
		}
		cfg.WorkerPath = wp
	}
	for _, a := range d.Arguments {
		cfg.Arguments = append(cfg.Arguments, expand(a))
	}
	for _, a := range d.WorkerArguments {
		cfg.WorkerArguments = append(cfg.WorkerArguments, expand(a))
	}
	return cfg, nil
}

var varRe = regexp.MustCompile(`%([^%\s]+)%`)

// expandVars expands %NAME% as .NET's Environment.ExpandEnvironmentVariables does: a name that
// is not defined is left as written.
func expandVars(s string, settings *connection.Settings) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := settings.Get(m[1 : len(m)-1]); ok {
			return v
		}
		if v, ok := os.LookupEnv(m[1 : len(m)-1]); ok {
			return v
		}
		return m
	})
}

// args is the handler's command line after the executable: arguments, worker path, worker
// arguments (DefaultWorkerProcessFactory's order).
func (c *Config) args() []string {
	var a []string
	a = append(a, c.Arguments...)
	if c.WorkerPath != "" {
		a = append(a, c.WorkerPath)
	}
	return append(a, c.WorkerArguments...)
}

// jsonKind names the JSON value a Go type decodes from, for an error.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	}
	return "a number"
}

// article prefixes a JSON value kind of UnmarshalTypeError.Value ("string", "array", "number 4").
func article(v string) string {
	if v == "" {
		return "another value"
	}
	if strings.IndexByte("aeiou", v[0]) >= 0 {
		return "an " + v
	}
	return "a " + v
}
