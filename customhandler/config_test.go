package customhandler_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/customhandler"
)

func hostJSON(t *testing.T, body string, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// host.json customHandler / httpWorker as HttpWorkerOptionsSetup reads them (reference §1).
func TestLoadConfig(t *testing.T) {
	settings := connection.NewSettings(connection.FromMap("local.settings.json", map[string]string{"HANDLER_ARG": "--fast", "TOOL": "sh"}))
	t.Run("relative exe in the app, worker path, %VAR%, argument order", func(t *testing.T) {
		dir := hostJSON(t, `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler","defaultWorkerPath":"app.js",
			"arguments":["%HANDLER_ARG%","%UNDEFINED_VAR%"],"workerArguments":["w1"],"workingDirectory":"sub"}}}`, "handler")
		c, err := customhandler.LoadConfig(dir, settings)
		if err != nil {
			t.Fatal(err)
		}
		if c.Executable != filepath.Join(dir, "handler") || c.WorkerPath != filepath.Join(dir, "app.js") || c.WorkingDirectory != filepath.Join(dir, "sub") {
			t.Errorf("%+v", c)
		}
		if !reflect.DeepEqual(c.Arguments, []string{"--fast", "%UNDEFINED_VAR%"}) || !reflect.DeepEqual(c.WorkerArguments, []string{"w1"}) {
			t.Errorf("arguments %q, worker arguments %q", c.Arguments, c.WorkerArguments)
		}
		if c.EnableForwardingHTTPRequest || c.StrictTypes || c.Section != "customHandler" {
			t.Errorf("%+v", c)
		}
	})
	t.Run("PATH fallback and default working directory", func(t *testing.T) {
		dir := hostJSON(t, `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"%TOOL%"},"enableForwardingHttpRequest":true}}`)
		c, err := customhandler.LoadConfig(dir, settings)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(c.Executable) != "sh" || !filepath.IsAbs(c.Executable) || c.WorkingDirectory != dir || !c.EnableForwardingHTTPRequest {
			t.Errorf("%+v", c)
		}
	})
	t.Run("httpWorker forwards; both: customHandler wins with a warning", func(t *testing.T) {
		dir := hostJSON(t, `{"version":"2.0","httpWorker":{"description":{"defaultExecutablePath":"sh"}}}`)
		c, err := customhandler.LoadConfig(dir, settings)
		if err != nil || c.Section != "httpWorker" || !c.EnableForwardingHTTPRequest {
			t.Fatalf("%+v %v", c, err)
		}
		dir = hostJSON(t, `{"version":"2.0","httpWorker":{"description":{"defaultExecutablePath":"nope"}},"customHandler":{"description":{"defaultExecutablePath":"sh"},"azbindStrictTypes":true}}`)
		c, err = customhandler.LoadConfig(dir, settings)
		if err != nil || c.Section != "customHandler" || !c.StrictTypes || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "customHandler is used") {
			t.Fatalf("%+v %v", c, err)
		}
	})
	for _, tc := range []struct{ name, body, want string }{
		{"none", `{"version":"2.0"}`, "declares no customHandler"},
		{"no description", `{"version":"2.0","customHandler":{}}`, "customHandler.description: Missing worker Description."},
		{"empty exe", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":" "}}}`, "DefaultExecutablePath cannot be empty"},
		{"missing exe", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"no-such-handler"}}}`, `"no-such-handler" is neither a file in the app folder`},
		{"bad type", `{"version":"2.0","customHandler":{"description":{"arguments":"x"}}}`, "host.json: customHandler.description.arguments: must be an array of strings, got a string"},
		{"description a string", `{"version":"2.0","customHandler":{"description":"x"}}`, "host.json: customHandler.description: must be an object, got a string"},
		{"section an array", `{"version":"2.0","customHandler":[]}`, "host.json: customHandler: must be an object, got an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := customhandler.LoadConfig(hostJSON(t, tc.body), settings)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "Go struct") {
				t.Fatalf("err = %v, want %q (and no Go type)", err, tc.want)
			}
			if tc.name == "none" && !errors.Is(err, customhandler.ErrNoCustomHandler) {
				t.Errorf("not ErrNoCustomHandler: %v", err)
			}
		})
	}
}

// A handler that exits before it answers, or never listens, fails Start with the reason.
func TestStartFailures(t *testing.T) {
	for _, tc := range []struct{ exe, want string }{
		{"false", "exited before it answered"},
		{"sleep", "did not answer GET"},
	} {
		t.Run(tc.exe, func(t *testing.T) {
			dir := hostJSON(t, `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"`+tc.exe+`","arguments":["30"]}}}`)
			c, err := customhandler.LoadConfig(dir, connection.NewSettings())
			if err != nil {
				t.Fatal(err)
			}
			_, err = customhandler.Start(context.Background(), customhandler.Options{AppDir: dir, Config: c, ReadyTimeout: 300 * time.Millisecond})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
