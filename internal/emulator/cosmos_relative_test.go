package emulator

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 25: the Cosmos launcher run by hand with a relative --server path (as the README shows)
// used to fail in require(), which resolves relative paths against the script's folder. It now
// starts and prints its ready line.
func TestCosmosLauncherRelativeServerPath(t *testing.T) {
	node, serverScript, err := cosmosScript()
	if err != nil {
		t.Skip(err)
	}
	launcher, err := cosmosLauncherScript()
	if err != nil {
		t.Skip(err)
	}
	serverDir := filepath.Dir(filepath.Dir(serverScript))
	work := filepath.Dir(serverDir) // node_modules/@vercel: the relative path is "cosmosdb-server"
	rel, err := filepath.Rel(work, serverDir)
	if err != nil || filepath.IsAbs(rel) {
		t.Fatalf("relative path: %q %v", rel, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, launcher, "--server", rel, "--host", "127.0.0.1", "--port", "0", "--plain-http")
	cmd.Dir = work
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "cosmos-launcher ready at http://127.0.0.1:") {
			return
		}
	}
	t.Fatalf("the launcher exited without its ready line; stderr:\n%s", stderr.String())
}
