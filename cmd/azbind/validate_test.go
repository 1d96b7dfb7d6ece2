package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
)

// Test-only binding types used by testdata; real connectors never register these names.
func init() {
	trig := func(context.Context, *driver.BindContext) (driver.Trigger, error) { return nil, nil }
	in := func(context.Context, *driver.BindContext) (driver.Input, error) { return nil, nil }
	out := func(context.Context, *driver.BindContext) (driver.Output, error) { return nil, nil }
	driver.Register(driver.Extension{Name: "azbindtest", Bindings: []driver.BindingType{
		{Type: "testTrigger", NewTrigger: trig},
		{Type: "testIn", Service: connection.Blob, NewInput: in},
		{Type: "testOut", NewOutput: out},
	}})
}

// fakeResolve stands in for connection.Resolver (being implemented elsewhere): a connection
// exists when its setting (or AzureWebJobs<name>), or a section of identity settings, exists;
// "" means AzureWebJobsStorage. It records what it was asked.
type fakeResolve struct{ calls []string }

func (f *fakeResolve) resolve(_ context.Context, s *connection.Settings, name string, svc connection.Service) (*connection.Connection, error) {
	f.calls = append(f.calls, fmt.Sprintf("%s/%s", name, svc))
	name, err := expr.ResolveSettings(name, s.Get)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "Storage"
	}
	for _, k := range []string{name, "AzureWebJobs" + name} {
		if s.Exists(k) {
			return &connection.Connection{Name: name, Service: svc, Kind: connection.KindConnectionString}, nil
		}
	}
	return nil, fmt.Errorf("Storage account connection string 'AzureWebJobs%s' does not exist. Make sure that it is a defined App Setting.", name)
}

func useFakeResolver(t *testing.T) *fakeResolve {
	t.Helper()
	f := &fakeResolve{}
	old := resolveConnection
	resolveConnection = f.resolve
	t.Cleanup(func() { resolveConnection = old })
	return f
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("azbind %v panicked: %v", args, r)
		}
	}()
	code = run(args, &out, &errw)
	return code, out.String(), errw.String()
}

func TestValidateBadApps(t *testing.T) {
	useFakeResolver(t)
	cases, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d bad cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", "bad", c.Name())
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			code, out, _ := runCmd(t, "validate", dir)
			if code != 1 {
				t.Errorf("exit code %d, want 1; output:\n%s", code, out)
			}
			for _, w := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q; got:\n%s", w, out)
				}
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, "FAILED: "+dir+": ") {
				t.Errorf("summary line = %q", last)
			}
			// Every problem line has the "file: ...: problem: fix" shape and a fix.
			for _, l := range lines[:len(lines)-1] {
				if strings.Count(l, ": ") < 2 {
					t.Errorf("line without file/problem/fix: %q", l)
				}
			}
			// Secrets never appear (the encrypted case holds a fake ciphertext).
			if strings.Contains(out, "CfDJ8") || strings.Contains(out, "UseDevelopmentStorage") {
				t.Errorf("setting value leaked:\n%s", out)
			}
		})
	}
}

func TestValidateGoodApp(t *testing.T) {
	f := useFakeResolver(t)
	code, out, errOut := runCmd(t, "validate", filepath.Join("testdata", "good"))
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	want := "OK: " + filepath.Join("testdata", "good") + ": 2 functions, 0 errors, 0 warnings\n"
	if out != want {
		t.Errorf("output = %q; want %q", out, want)
	}
	// Connections are resolved for bindings whose type has a service only: ProcessOrder's input
	// names AzbindGoodStorage; Cleanup's input uses the default connection.
	if got := strings.Join(f.calls, ","); got != "/blob,AzbindGoodStorage/blob" {
		t.Errorf("resolver calls = %q", got)
	}
}

func TestValidateConnectionSettingExpanded(t *testing.T) {
	f := useFakeResolver(t)
	dir := t.TempDir()
	write := appWriter(t, dir)
	write("host.json", `{"version": "2.0"}`)
	write("local.settings.json", `{"Values": {"WhichConn": "Real", "Real__blobServiceUri": "https://x.blob.core.windows.net"}}`)
	write("F/function.json", `{"bindings": [{"type": "testTrigger", "name": "m"}, {"type": "testIn", "direction": "in", "name": "d", "connection": "%WhichConn%"}]}`)
	code, out, _ := runCmd(t, "validate", dir)
	if code != 0 || strings.Join(f.calls, ",") != "%WhichConn%/blob" {
		t.Errorf("exit %d, calls %v, output:\n%s", code, f.calls, out)
	}
}

func TestValidateUsage(t *testing.T) {
	useFakeResolver(t)
	for _, args := range [][]string{{"validate"}, {"validate", "a", "b"}, {"validate", "-nosuchflag", "x"}} {
		code, _, errOut := runCmd(t, args...)
		if code != 2 || !strings.Contains(errOut, "usage: azbind validate APPDIR") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := runCmd(t, "validate", "-h"); code != 0 || !strings.Contains(errOut, "usage:") {
		t.Errorf("-h: exit %d, %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "nope")
	code, out, _ := runCmd(t, "validate", missing)
	if code != 1 || !strings.Contains(out, missing+": cannot be read: no such file or directory") {
		t.Errorf("missing dir: exit %d:\n%s", code, out)
	}
	file := filepath.Join("testdata", "good", "host.json")
	if code, out, _ := runCmd(t, "validate", file); code != 1 || !strings.Contains(out, "is not a directory") {
		t.Errorf("file arg: exit %d:\n%s", code, out)
	}
}

func TestValidateWarningsOnly(t *testing.T) {
	useFakeResolver(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"version": "2.0", "typo": 1}`), 0o644)
	os.MkdirAll(filepath.Join(dir, "F"), 0o755)
	os.WriteFile(filepath.Join(dir, "F", "function.json"), []byte(`{"bindings": [{"type": "testTrigger", "name": "m"}], "extra": 1}`), 0o644)
	code, out, _ := runCmd(t, "validate", dir)
	if code != 0 || !strings.Contains(out, "warning: host.json: typo: unknown key is ignored") ||
		!strings.Contains(out, "warning: F/function.json: extra: unknown key is ignored") || !strings.Contains(out, "1 function, 0 errors, 2 warnings") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// appWriter returns a function that writes a file of an app folder below dir (creating folders).
func appWriter(t *testing.T, dir string) func(name, content string) {
	return func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
