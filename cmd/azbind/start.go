package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/azbind/azbind/customhandler"
	"github.com/azbind/azbind/extension"
)

func init() {
	commands["start"] = command{
		summary: "run a Functions app folder whose handlers are a custom handler (any language), as `func start`",
		run:     runStart,
	}
}

// startSignals are the signals that drain and stop `azbind start`; a variable for tests.
var startSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func runStart(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 7071, "HTTP port (as `func start`)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: azbind start [APPDIR] [--port N]\n\n"+
			"Runs the Functions app in APPDIR (default: the current folder) as `func start` does: settings from\n"+
			"the environment, then local.settings.json Values; host.json; every <function>/function.json. The\n"+
			"handlers are the app's custom handler (host.json customHandler or httpWorker), started as a child\n"+
			"process. Serves HTTP on the port (GET /admin/host/ping answers 200 once ready); SIGINT or SIGTERM\n"+
			"drains in-flight invocations and exits 0.")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) > 1 {
		fmt.Fprintln(stderr, "azbind start: expected at most one APPDIR argument")
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "azbind start: --port %d: use a port from 1 to 65535\n", *port)
		return 2
	}
	dir := "."
	if len(pos) == 1 {
		dir = pos[0]
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t0 := time.Now()

	app, err := extension.LoadAppDir(dir, nil)
	if err != nil {
		var pe *extension.ProblemsError
		if errors.As(err, &pe) {
			for _, p := range pe.Problems {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintln(stderr, "azbind start:", err)
		}
		return 1
	}
	for _, w := range app.Warnings {
		logger.Warn("app folder", slog.String("problem", w.String()))
	}
	cfg, err := customhandler.LoadConfig(dir, app.Settings)
	if errors.Is(err, customhandler.ErrNoCustomHandler) {
		fmt.Fprintf(stderr, "azbind start: %s/host.json declares no customHandler: add \"customHandler\": {\"description\": {\"defaultExecutablePath\": \"<your handler>\"}}; "+
			"a Go program that hosts its handlers itself runs the app folder with extension.Host.LoadAppDir (README: \"Go programs and app folders\")\n", dir)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "azbind start:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), startSignals...)
	defer stop()

	w, err := customhandler.Start(ctx, customhandler.Options{AppDir: dir, Config: cfg, Settings: app.Settings, Logger: logger,
		FunctionTimeout: app.Host.FunctionTimeout})
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		fmt.Fprintln(stderr, "azbind start:", err)
		return 1
	}
	defer w.Close(context.Background())

	h, err := extension.NewHost(extension.HostOptions{Settings: app.Settings, HostConfig: app.Host, Logger: logger,
		HTTPAddr: ":" + strconv.Itoa(*port), DefaultHandler: w.Handler()})
	if err == nil {
		err = h.LoadAppDir(dir)
	}
	if err != nil {
		fmt.Fprintln(stderr, "azbind start:", err)
		return 1
	}
	printFunctions(stdout, app, *port)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	go func() {
		// Report when the host answers (its server listens once the functions are built).
		for h.Addr() == "" {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		logger.Info("azbind start: ready", slog.String("addr", h.Addr()), slog.Duration("startup", time.Since(t0)))
	}()
	err = <-done
	w.Close(context.Background())
	if err != nil {
		fmt.Fprintln(stderr, "azbind start:", err)
		return 1
	}
	return 0
}

// printFunctions lists the functions as `func start` does: HTTP ones with methods and URL.
func printFunctions(out io.Writer, app *extension.AppSpec, port int) {
	prefix := "api"
	if v, ok := app.Host.Extension("http")["routePrefix"].(string); ok {
		prefix = strings.Trim(v, "/")
	}
	fmt.Fprintln(out, "\nFunctions:")
	fns := append([]*extension.FunctionSpec(nil), app.Functions...)
	sort.Slice(fns, func(i, j int) bool { return strings.ToLower(fns[i].Name) < strings.ToLower(fns[j].Name) })
	for _, f := range fns {
		t := f.Trigger()
		if t == nil {
			continue
		}
		if !strings.EqualFold(t.Type, "httpTrigger") {
			fmt.Fprintf(out, "\n\t%s: %s\n", f.Name, t.Type)
			continue
		}
		route, _ := propString(t, "route")
		if route == "" {
			route = f.Name
		}
		methods := "[GET,POST,PUT,DELETE,HEAD,PATCH,OPTIONS]"
		if ms, ok := t.Prop("methods"); ok {
			if list, ok := ms.([]any); ok && len(list) > 0 {
				var up []string
				for _, m := range list {
					up = append(up, strings.ToUpper(fmt.Sprint(m)))
				}
				methods = "[" + strings.Join(up, ",") + "]"
			}
		}
		path := strings.Trim(route, "/")
		if prefix != "" {
			path = prefix + "/" + path
		}
		fmt.Fprintf(out, "\n\t%s: %s http://localhost:%d/%s\n", f.Name, methods, port, path)
	}
	fmt.Fprintln(out)
}

func propString(b *extension.BindingSpec, key string) (string, bool) {
	v, ok := b.Prop(key)
	s, _ := v.(string)
	return s, ok && s != ""
}
