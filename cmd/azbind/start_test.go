package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `azbind start` refuses, with one line naming the file and the fix, an app folder it cannot
// run: no customHandler, a handler program that does not exist, a broken function.json.
func TestStartRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, hostJSON, fn, want string
	}{
		{"no custom handler", `{"version":"2.0"}`, "", `host.json declares no customHandler: add "customHandler"`},
		{"missing program", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"no-such-handler"}}}`, "",
			`customHandler.description.defaultExecutablePath: "no-such-handler" is neither a file in the app folder`},
		{"bad function.json", `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"sh"}}}`, `{"bindings": 3}`, "F/function.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(tc.hostJSON), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.fn != "" {
				os.Mkdir(filepath.Join(dir, "F"), 0o755)
				if err := os.WriteFile(filepath.Join(dir, "F", "function.json"), []byte(tc.fn), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb bytes.Buffer
			if code := run([]string{"start", dir, "--port", "0"}, &out, &errb); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.want)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"start", "a", "b"}, &out, &errb); code != 2 {
		t.Errorf("two APPDIRs: exit %d, want 2", code)
	}
}
