package extension

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/azbind/azbind/connection"
)

func loadAppDir(dir string, settings *connection.Settings) (*AppSpec, error) {
	app := &AppSpec{Dir: dir, Settings: settings}
	var all []Problem
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		p := Problem{File: dir, Problem: "is not a directory", Fix: "pass the Functions app folder (the one holding host.json)"}
		if err != nil {
			p.Problem = "cannot be read: " + errText(err)
		}
		return app, &ProblemsError{Problems: []Problem{p}}
	}
	if settings == nil {
		s, err := connection.NewDefaultSettings(filepath.Join(dir, "local.settings.json"))
		if err != nil {
			all = append(all, localSettingsProblem(dir, err))
			s, _ = connection.NewDefaultSettings("")
		}
		app.Settings = s
	}

	data, err := os.ReadFile(filepath.Join(dir, "host.json"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No host.json: the defaults, as the host does (HostJsonFileConfigurationSource writes
		// {"version": "2.0"} and goes on); AzureFunctionsJobHost__* settings still apply.
		h, ps := ParseHostJSON("host.json", []byte(`{"version": "2.0"}`), app.Settings)
		app.Host = h
		all = append(all, ps...)
	case err != nil:
		all = append(all, Problem{File: "host.json", Problem: "cannot be read: " + errText(err), Fix: "check the file's permissions"})
	default:
		h, ps := ParseHostJSON("host.json", data, app.Settings)
		app.Host = h
		all = append(all, ps...)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		all = append(all, Problem{File: dir, Problem: "cannot be listed: " + errText(err), Fix: "check the folder's permissions"})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	names := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		file := e.Name() + "/function.json"
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "function.json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			all = append(all, Problem{File: file, Problem: "cannot be read: " + errText(err), Fix: "check the file's permissions"})
			continue
		}
		f, ps := ParseFunctionJSON(e.Name(), file, data)
		all = append(all, ps...)
		if f == nil {
			continue
		}
		if prev, dup := names[strings.ToLower(f.Name)]; dup {
			all = append(all, Problem{File: file, Problem: fmt.Sprintf("function name %q is also used by %s (function names are case-insensitive)", f.Name, prev), Fix: "rename one of the folders"})
		}
		names[strings.ToLower(f.Name)] = file
		all = append(all, CheckFunction(f, app.Settings)...)
		app.Functions = append(app.Functions, f)
	}
	if len(app.Functions) == 0 && len(all) == 0 {
		all = append(all, Problem{File: dir, Problem: "No job functions found (no <name>/function.json folder)", Fix: "add a folder per function holding its function.json, or declare functions with the Go API", Warning: true})
	}

	var errs []Problem
	for _, p := range all {
		if p.Warning {
			app.Warnings = append(app.Warnings, p)
		} else {
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return app, &ProblemsError{Problems: errs}
	}
	return app, nil
}

// localSettingsProblem turns a connection.NewDefaultSettings error into a Problem without the
// absolute path prefix.
func localSettingsProblem(dir string, err error) Problem {
	p := Problem{File: "local.settings.json"}
	if errors.Is(err, connection.ErrEncryptedSettings) {
		p.Field = "IsEncrypted"
		p.Problem = "the file is encrypted (IsEncrypted: true); azbind cannot read encrypted values"
		p.Fix = "run `func settings decrypt`, or set \"IsEncrypted\": false with plain values"
		return p
	}
	var fe *connection.FileError
	if errors.As(err, &fe) {
		p.Field, p.Problem, p.Fix = fe.Field, fe.Problem, fe.Fix
		return p
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, filepath.Join(dir, "local.settings.json")+": ")
	if problem, fix, ok := strings.Cut(msg, ": fix "); ok {
		p.Problem, p.Fix = problem, "fix "+fix
	} else {
		p.Problem, p.Fix = msg, "fix the file or remove it"
	}
	return p
}

// errText is an OS error without the path (the Problem names the file).
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
