package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 25: every user-facing package has a runnable Example, and every Example compiles outside
// the module — as a user's copy would, importing no internal package. The example files are
// copied into a fresh module that requires azbind through a replace directive, and compiled
// there (go test -run '^$' compiles the tests and runs none).
func TestExamplesCompileOutsideTheModule(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	userPackages := []string{"extension", "extension/driver", "extension/expr", "connection", "conformance", "emulator",
		"queue", "blob", "table", "cosmos", "servicebus", "eventhubs", "eventgrid", "azhttp", "timer", "customhandler"}
	mod := t.TempDir()
	for _, pkg := range userPackages {
		files, _ := filepath.Glob(filepath.Join(root, pkg, "example*_test.go"))
		if len(files) == 0 {
			t.Errorf("package %s has no example_test.go (go doc shows no Example)", pkg)
			continue
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "\nfunc Example") {
				t.Errorf("%s has no Example function", f)
			}
			if strings.Contains(string(b), `"github.com/azbind/azbind/internal/`) {
				t.Errorf("%s imports an internal package: a user cannot copy it", f)
			}
			dst := filepath.Join(mod, pkg, filepath.Base(f))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	gomod := "module example.com/userexamples\n\ngo 1.26\n\nrequire github.com/azbind/azbind v0.0.0\n\nreplace github.com/azbind/azbind => " + root + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-mod=mod", "-count=1", "-run", "^$", "./...")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Examples do not compile outside the module: %v\n%s", err, out)
	}
}
