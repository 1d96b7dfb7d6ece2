package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
)

func init() {
	commands["validate"] = command{
		summary: "check a Functions app folder (host.json, */function.json, local.settings.json)",
		run:     runValidate,
	}
}

// resolveConnection resolves one binding's connection; a variable so tests can substitute it.
var resolveConnection = func(ctx context.Context, settings *connection.Settings, name string, svc connection.Service) (*connection.Connection, error) {
	return connection.NewResolver(settings, nil).Resolve(ctx, name, svc)
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: azbind validate APPDIR\n\n"+
			"Loads APPDIR/host.json, every APPDIR/<function>/function.json and APPDIR/local.settings.json\n"+
			"(the environment wins over its Values), checks every binding and resolves every connection.\n"+
			"Prints one line per problem as \"file: field: problem: fix\"; exits 1 when there are errors.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "azbind validate: expected exactly one APPDIR argument")
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)

	app, err := extension.LoadAppDir(dir, nil)
	var problems []extension.Problem
	var pe *extension.ProblemsError
	switch {
	case errors.As(err, &pe):
		problems = append(problems, pe.Problems...)
	case err != nil:
		problems = append(problems, extension.Problem{File: dir, Problem: err.Error()})
	}
	if app != nil {
		problems = append(problems, checkConnections(app)...)
		problems = append(problems, app.Warnings...)
	}
	if app != nil {
		// Build every well-formed function's bindings through their connectors, as the host
		// would at start-up, to catch what only the connector knows (required properties,
		// expressions naming data the trigger does not provide, options). Each function is
		// checked on its own, as Functions reports them: a problem in one function (or a
		// missing connection) hides nothing in another.
		problems = append(problems, verifyBindings(app, problems)...)
	}

	nerr, nwarn := 0, 0
	seen := map[string]bool{}
	for _, p := range problems {
		// One error, one line: the same problem reached twice (e.g. an option shared by
		// several bindings) is printed once and counted once.
		if k := fmt.Sprint(p.Warning, p.String()); seen[k] {
			continue
		} else {
			seen[k] = true
		}
		if p.Warning {
			nwarn++
			fmt.Fprintln(stdout, "warning: "+p.String())
		} else {
			nerr++
			fmt.Fprintln(stdout, p.String())
		}
	}
	// Every function folder seen counts, including those whose function.json failed to load.
	nfn := countFunctionFolders(dir)
	if app != nil && len(app.Functions) > nfn {
		nfn = len(app.Functions)
	}
	status := "OK"
	if nerr > 0 {
		status = "FAILED"
	}
	fmt.Fprintf(stdout, "%s: %s: %s, %s, %s\n", status, dir, plural(nfn, "function"), plural(nerr, "error"), plural(nwarn, "warning"))
	if nerr > 0 {
		return 1
	}
	return 0
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkConnections resolves the connection of every binding whose type names a service.
func checkConnections(app *extension.AppSpec) []extension.Problem {
	var out []extension.Problem
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range app.Functions {
		for i, b := range f.Bindings {
			if b == nil {
				continue
			}
			bt, _, ok := driver.Lookup(b.Type)
			if !ok || bt.Service == "" {
				continue
			}
			raw, err := b.String("connection")
			if err != nil {
				out = append(out, extension.Problem{File: f.Where, Field: fmt.Sprintf("bindings[%d].connection", i), Problem: "must be a string", Fix: "set \"connection\" to the name of an app setting"})
				continue
			}
			if strings.TrimSpace(raw) == "" {
				if _, hasDefault := connection.DefaultName(bt.Service); !hasDefault {
					// No connection and no default name (Event Grid's key form): the connector
					// itself checks what it needs instead (Verify below).
					continue
				}
			}
			name, err := expr.ResolveSettings(raw, app.Settings.Get)
			if err != nil {
				continue // CheckFunction already reported the %setting% problem
			}
			// The resolver resolves %setting% tokens itself, once, as the Functions name resolver
			// does (C5): an empty setting does not resolve, and a resolved value containing '%'
			// is not expanded again. So it gets the raw name.
			if _, err := resolveConnection(ctx, app.Settings, raw, bt.Service); err != nil {
				// The resolver's error names the connection as it may be printed (RedactedName for a
				// connection string used as the name, C13); never quote name itself.
				shown := name
				var re *connection.ResolveError
				if errors.As(err, &re) {
					shown = re.Name
				}
				problem := connection.ScrubText(strings.TrimRight(err.Error(), "\n"))
				fix := fmt.Sprintf("define the app setting %q (a connection string) or identity settings such as %s__serviceUri; `azbind connection resolve %s` explains the lookup", shown, shown, shown)
				if re != nil {
					// One short line: the real system's message, the keys tried, "did you mean",
					// then the resolver's fix — the name is not repeated around it.
					problem = connection.ScrubText(re.Problem())
					if re.Fix != "" {
						fix = re.Fix
					}
				}
				switch {
				case name == "" && re == nil:
					fix = "define AzureWebJobsStorage (the default connection), or set \"connection\" on the binding"
				case shown == connection.RedactedName:
					fix = "put the connection string in an app setting and set \"connection\" to that setting's name"
				}
				out = append(out, extension.Problem{
					File:    f.Where,
					Field:   fmt.Sprintf("bindings[%d].connection", i),
					Problem: problem,
					Fix:     fix,
				})
			}
		}
	}
	return out
}

func hasErrors(ps []extension.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// verifyBindings runs Host.Verify on every function of app that has no error in found (the
// problems already reported: a function whose declaration is broken cannot be built) and turns
// each error into a problem line.
func verifyBindings(app *extension.AppSpec, found []extension.Problem) []extension.Problem {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broken := map[string]bool{}
	for _, p := range found {
		if !p.Warning {
			broken[p.File] = true
		}
	}
	h, err := extension.NewHost(extension.HostOptions{Settings: app.Settings, Logger: slog.New(slog.DiscardHandler), HostConfig: app.Host})
	if err == nil {
		for _, f := range app.Functions {
			if !broken[f.Where] {
				if err = h.Declare(f); err != nil {
					break
				}
			}
		}
	}
	if err == nil {
		err = h.Verify(ctx)
	}
	if err == nil {
		return nil
	}
	var out []extension.Problem
	for _, e := range flatten(err) {
		var ce *driver.ConfigError
		if errors.As(e, &ce) {
			problem := ce.Problem
			if problem == "" && ce.Err != nil {
				problem = ce.Err.Error()
			}
			problem = strings.TrimSuffix(strings.TrimSpace(problem), ": "+driver.ErrInvalidConfig.Error())
			p := extension.Problem{File: ce.Where, Field: ce.Field, Problem: problem, Fix: ce.Fix}
			if connectionReported(found, p) {
				continue
			}
			out = append(out, p)
			continue
		}
		msg := strings.TrimSpace(e.Error())
		msg = strings.TrimSuffix(msg, ": "+driver.ErrInvalidConfig.Error())
		out = append(out, extension.Problem{File: msg})
	}
	return out
}

// connectionReported reports whether p is a connector's error about a binding's connection that
// checkConnections already reported (one problem, one line).
func connectionReported(found []extension.Problem, p extension.Problem) bool {
	if !strings.EqualFold(p.Field, "connection") {
		return false
	}
	for _, f := range found {
		if !f.Warning && f.File+": "+strings.TrimSuffix(f.Field, ".connection") == p.File && strings.HasSuffix(f.Field, ".connection") {
			return true
		}
	}
	return false
}

// countFunctionFolders counts dir's sub-folders that hold a function.json.
func countFunctionFolders(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "function.json")); err == nil {
			n++
		}
	}
	return n
}

// flatten expands errors.Join trees into their leaves. Only joins are opened: an error with
// several causes of its own (a *driver.ConfigError wraps ErrInvalidConfig and its cause) is a
// leaf, so its file and field are kept.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && isJoin(err, j.Unwrap()) {
		var out []error
		for _, e := range j.Unwrap() {
			if e == driver.ErrInvalidConfig {
				continue
			}
			out = append(out, flatten(e)...)
		}
		if len(out) > 0 {
			return out
		}
	}
	return []error{err}
}

// isJoin reports whether err is an errors.Join of errs: its text is theirs, one per line.
func isJoin(err error, errs []error) bool {
	texts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e != nil {
			texts = append(texts, e.Error())
		}
	}
	return err.Error() == strings.Join(texts, "\n")
}
