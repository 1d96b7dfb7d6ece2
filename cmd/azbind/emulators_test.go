package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/azbind/azbind/internal/emulator"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// azbindBinary builds the command once per test binary.
func azbindBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "azbind-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "azbind")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = err
			builtBin = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, builtBin)
	}
	return builtBin
}

// runningEmulators is a started `azbind emulators start`.
type runningEmulators struct {
	cmd      *exec.Cmd
	out      []string          // every line printed up to "Press Ctrl-C"
	settings map[string]string // NAME=value lines
	rest     chan string
}

// startEmulatorsCmd runs `azbind emulators start args...` in dir and waits for its ready line.
func startEmulatorsCmd(t *testing.T, dir string, args ...string) *runningEmulators {
	t.Helper()
	if _, err := emulator.InstallDir(); err != nil {
		t.Skip(err)
	}
	bin := azbindBinary(t)
	wd, _ := os.Getwd()
	cmd := exec.Command(bin, append([]string{"emulators", "start"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), emulator.EnvDir+"="+filepath.Join(wd, "..", "..", "emulators"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	r := &runningEmulators{cmd: cmd, settings: map[string]string{}, rest: make(chan string, 16)}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(120 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("azbind emulators start exited early:\n%s\n%s", strings.Join(r.out, "\n"), stderr.String())
			}
			r.out = append(r.out, l)
			if k, v, found := strings.Cut(strings.TrimSpace(l), "="); found && strings.HasPrefix(l, "  ") && !strings.Contains(k, " ") {
				r.settings[k] = v
			}
			if strings.HasPrefix(l, "Press Ctrl-C") {
				go func() {
					for l := range lines {
						r.rest <- l
					}
					close(r.rest)
				}()
				return r
			}
		case <-deadline:
			t.Fatalf("no ready line:\n%s\n%s", strings.Join(r.out, "\n"), stderr.String())
		}
	}
}

// stop interrupts the command as Ctrl-C does and checks that it exits 0.
func (r *runningEmulators) stop(t *testing.T) string {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	var rest []string
	for l := range r.rest {
		rest = append(rest, l)
	}
	if err := r.cmd.Wait(); err != nil {
		t.Errorf("exit after Ctrl-C: %v; want 0", err)
	}
	return strings.Join(rest, "\n")
}

// writeSettings writes the printed settings as dir/local.settings.json.
func writeLocalSettings(t *testing.T, dir string, settings map[string]string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"IsEncrypted": false, "Values": settings})
	p := filepath.Join(dir, "local.settings.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 25: `azbind emulators start APPDIR` starts what the app's bindings need — Azurite, the
// AMQP peer with the app's Service Bus queue and event hub declared, the Cosmos launcher —
// prints one setting per connection name the bindings use, and stops them all on Ctrl-C. The
// put/peek/get commands then show what was written, through the connectors' clients.
func TestEmulatorsStartForApp(t *testing.T) {
	dir := t.TempDir()
	write := appWriter(t, dir)
	write("host.json", `{"version": "2.0"}`)
	write("Orders/function.json", `{"bindings": [
		{"type": "serviceBusTrigger", "name": "m", "queueName": "orders", "connection": "SB"},
		{"type": "eventHub", "direction": "out", "name": "e", "eventHubName": "%HubName%", "connection": "EH"},
		{"type": "cosmosDB", "direction": "out", "name": "d", "databaseName": "db", "containerName": "c", "connection": "Docs"},
		{"type": "queue", "direction": "out", "name": "q", "queueName": "done"}]}`)
	write("local.settings.json", `{"Values": {"HubName": "events"}}`)
	r := startEmulatorsCmd(t, dir, "--free-ports")
	for _, k := range []string{"AzureWebJobsStorage", "SB", "EH", "Docs"} {
		if r.settings[k] == "" {
			t.Errorf("no %s= setting printed:\n%s", k, strings.Join(r.out, "\n"))
		}
	}
	if !strings.Contains(strings.Join(r.out, "\n"), "queue orders") || !strings.Contains(strings.Join(r.out, "\n"), "event hub events (2 partitions)") {
		t.Errorf("entities not declared from the bindings:\n%s", strings.Join(r.out, "\n"))
	}
	r.settings["HubName"] = "events"
	ls := writeLocalSettings(t, dir, r.settings)

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"put", "servicebus", "--settings", ls, "--connection", "SB", "orders", "order 1"}, "sent a message to orders"},
		{[]string{"peek", "servicebus", "--settings", ls, "--connection", "SB", "orders"}, "order 1"},
		{[]string{"put", "eventhub", "--settings", ls, "--connection", "EH", "events", "event 1"}, "sent an event to events"},
		{[]string{"peek", "eventhub", "--settings", ls, "--connection", "EH", "events"}, "event 1"},
		{[]string{"put", "queue", "--settings", ls, "done", "queued 1"}, "on queue done"},
		{[]string{"peek", "queue", "--settings", ls, "done"}, "queued 1   (base64 on the queue)"},
	}
	blobFile := filepath.Join(dir, "b.txt")
	os.WriteFile(blobFile, []byte("blob 1"), 0o600)
	steps = append(steps,
		struct {
			args []string
			want string
		}{[]string{"put", "blob", "--settings", ls, "out/b.txt", blobFile}, "put blob out/b.txt (6 bytes)"},
		struct {
			args []string
			want string
		}{[]string{"get", "blob", "--settings", ls, "out/b.txt"}, "blob 1"},
		struct {
			args []string
			want string
		}{[]string{"get", "blob", "--settings", ls, "out/"}, "out/b.txt  6 bytes"})
	for _, s := range steps {
		code, out, errOut := runCmd(t, s.args...)
		if code != 0 || !strings.Contains(out, s.want) {
			t.Errorf("azbind %s: exit %d, want output with %q:\n%s%s", strings.Join(s.args, " "), code, s.want, out, errOut)
		}
	}
	// The Cosmos setting reaches the launcher.
	cl, err := azcosmos.NewClientFromConnectionString(r.settings["Docs"], nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: "db"}, nil); err != nil {
		t.Errorf("the printed Cosmos setting does not reach the launcher: %v", err)
	}

	if rest := r.stop(t); !strings.Contains(rest, "Emulators stopped.") {
		t.Errorf("after Ctrl-C: %q", rest)
	}
	// Every emulator is gone: its port no longer accepts connections.
	for _, k := range []string{"SB", "Docs"} {
		host := hostPort(r.settings[k])
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s (%s) still accepts connections after Ctrl-C", k, host)
		}
	}
}

// hostPort extracts 127.0.0.1:port from an Endpoint=sb://… or AccountEndpoint=http://… string.
func hostPort(cs string) string {
	i := strings.Index(cs, "127.0.0.1:")
	if i < 0 {
		return ""
	}
	j := i + len("127.0.0.1:")
	for j < len(cs) && cs[j] >= '0' && cs[j] <= '9' {
		j++
	}
	return cs[i:j]
}

// Issue 25: `azbind put queue` run without settings used to fail naming a connection "Storage"
// the user never wrote; it now names AzureWebJobsStorage and how to get one locally.
func TestPutWithoutSettingsNamesTheSetting(t *testing.T) {
	t.Setenv("AzureWebJobsStorage", "")
	os.Unsetenv("AzureWebJobsStorage")
	dir := t.TempDir()
	code, _, errOut := runCmd(t, "put", "queue", "--settings", filepath.Join(dir, "local.settings.json"), "work", "hello")
	if code != 1 || strings.Contains(errOut, `"Storage"`) ||
		!strings.Contains(errOut, "the app setting AzureWebJobsStorage is not defined") ||
		!strings.Contains(errOut, "azbind emulators start") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("exit %d: %q", code, errOut)
	}
	code, _, errOut = runCmd(t, "peek", "eventhub", "--settings", filepath.Join(dir, "local.settings.json"), "events")
	if code != 1 || !strings.Contains(errOut, "--connection is required for Event Hubs") {
		t.Errorf("peek eventhub without --connection: exit %d: %q", code, errOut)
	}
}
