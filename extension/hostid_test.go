package extension_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/azbind/azbind/extension"
)

// The derived host id is stable per app (C59): it must not change when the same program runs from
// another path, as `go run` does on every start (a new temporary executable each time). Receipts,
// locks and checkpoints are keyed by host id, so a changing id loses them.
func TestDerivedHostIDStableAcrossExecutablePaths(t *testing.T) {
	if os.Getenv("AZBIND_PRINT_HOSTID") == "1" {
		o := opts(nil)
		o.HostID = ""
		h, err := extension.NewHost(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Func("fn", extension.Action(func(context.Context, string) error { return nil }), trig("hostid-q")); err != nil {
			t.Fatal(err)
		}
		if err := h.Verify(context.Background()); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("HOSTID=%s\n", h.HostID())
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`HOSTID=(\S+)`)
	var ids []string
	for _, dir := range []string{"run1", "run2"} {
		p := filepath.Join(t.TempDir(), dir, "app.test")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(p, "-test.run=^TestDerivedHostIDStableAcrossExecutablePaths$")
		cmd.Env = append(os.Environ(), "AZBIND_PRINT_HOSTID=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", p, err, out)
		}
		m := re.FindSubmatch(out)
		if m == nil {
			t.Fatalf("no host id in output:\n%s", out)
		}
		ids = append(ids, string(m[1]))
	}
	if ids[0] != ids[1] {
		t.Errorf("derived host id changed with the executable's path: %q vs %q", ids[0], ids[1])
	}
}
