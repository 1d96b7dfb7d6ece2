package readme

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/azbind/azbind/internal/emulator"
)

// readmeText returns README.md.
func readmeText(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// blockAfter returns the first ```lang block after marker in the README.
func blockAfter(t *testing.T, readme, marker, lang string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	_, rest, ok = strings.Cut(rest, "```"+lang+"\n")
	if !ok {
		t.Fatalf("no ```%s block after %q", lang, marker)
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("unterminated block after %q", marker)
	}
	return code
}

// buildInModule builds a main package from code inside the module (a directory the go tool skips
// in ./... patterns), as written in the README.
func buildInModule(t *testing.T, root, code string) string {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(root, "internal", "readme"), "_runner")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "runner")
	build := exec.Command("go", "build", "-o", bin, "./"+filepath.Base(dir))
	build.Dir = filepath.Join(root, "internal", "readme")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README program does not compile: %v\n%s", err, out)
	}
	return bin
}

// proc is a started child process whose output is collected.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	out   strings.Builder
	lines chan string
	done  chan struct{}
}

func start(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), lines: make(chan string, 256), done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), env...)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _, _ = p.cmd.Process.Wait() })
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// interrupt sends SIGINT (Ctrl-C) and checks for exit status 0.
func (p *proc) interrupt(t *testing.T, what string) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("%s: exit after Ctrl-C: %v; want status 0\n%s", what, err, p.output())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("%s did not exit after Ctrl-C\n%s", what, p.output())
	}
}

// Issue 25: the README's first hour for a Service Bus app and an Event Hubs app, step by step:
// the app folder holds the README's function.json, `azbind emulators start APPDIR` starts what
// it needs and prints the settings, which go into the folder's local.settings.json; the README's
// runner program runs there; `azbind put …` triggers the function and `azbind peek …` shows
// what it wrote; Ctrl-C stops both with status 0.
func TestReadmeFirstHourServiceBusAndEventHubs(t *testing.T) {
	if _, err := emulator.InstallDir(); err != nil {
		t.Skip(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme := readmeText(t, root)
	runner := buildInModule(t, root, blockAfter(t, readme, "## The first hour with each connector", "go"))
	azbind := filepath.Join(t.TempDir(), "azbind")
	if out, err := exec.Command("go", "build", "-o", azbind, filepath.Join(root, "cmd", "azbind")).CombinedOutput(); err != nil {
		t.Fatalf("build azbind: %v\n%s", err, out)
	}
	envDir := []string{emulator.EnvDir + "=" + filepath.Join(root, "emulators")}

	for _, c := range []struct {
		name, marker string
		put, peek    []string
		want         string
	}{
		{"ServiceBus", "**Service Bus**",
			[]string{"put", "servicebus", "--connection", "ServiceBusConnection", "orders", "hello"},
			[]string{"peek", "servicebus", "--connection", "ServiceBusConnection", "shipped"}, "HELLO"},
		{"EventHubs", "**Event Hubs**",
			[]string{"put", "eventhub", "--connection", "EventHubConnection", "readings", "reading 21.5"},
			[]string{"peek", "eventhub", "--connection", "EventHubConnection", "alerts"}, "READING 21.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := t.TempDir()
			os.WriteFile(filepath.Join(app, "host.json"), []byte(`{"version": "2.0"}`), 0o644)
			os.MkdirAll(filepath.Join(app, "Relay"), 0o755)
			if err := os.WriteFile(filepath.Join(app, "Relay", "function.json"), []byte(blockAfter(t, readme, c.marker, "json")), 0o644); err != nil {
				t.Fatal(err)
			}
			// Step: start the emulators the app needs and read the settings they print.
			emu := start(t, app, envDir, azbind, "emulators", "start", ".", "--free-ports")
			settings := map[string]string{}
			deadline := time.After(120 * time.Second)
		ready:
			for {
				select {
				case l := <-emu.lines:
					if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok && strings.HasPrefix(l, "  ") && !strings.Contains(k, " ") {
						settings[k] = v
					}
					if strings.HasPrefix(l, "Press Ctrl-C") {
						break ready
					}
				case <-emu.done:
					t.Fatalf("azbind emulators start exited:\n%s", emu.output())
				case <-deadline:
					t.Fatalf("azbind emulators start printed no ready line:\n%s", emu.output())
				}
			}
			// Step: copy them into the folder's local.settings.json.
			var ls strings.Builder
			ls.WriteString(`{"IsEncrypted": false, "Values": {`)
			first := true
			for k, v := range settings {
				if !first {
					ls.WriteString(", ")
				}
				first = false
				ls.WriteString(`"` + k + `": "` + v + `"`)
			}
			ls.WriteString("}}")
			if err := os.WriteFile(filepath.Join(app, "local.settings.json"), []byte(ls.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			// Step: run the program in the app folder.
			prog := start(t, app, nil, runner)
			// Step: trigger the function, then look at what it wrote.
			if out, err := runIn(app, azbind, c.put...); err != nil {
				t.Fatalf("azbind %s: %v\n%s", strings.Join(c.put, " "), err, out)
			}
			var last string
			for end := time.Now().Add(90 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
				out, err := runIn(app, azbind, c.peek...)
				last = out
				if err == nil && strings.Contains(out, c.want) {
					break
				}
			}
			if !strings.Contains(last, c.want) {
				t.Fatalf("azbind %s never showed %q; last:\n%s\nprogram:\n%s", strings.Join(c.peek, " "), c.want, last, prog.output())
			}
			prog.interrupt(t, "the program")
			emu.interrupt(t, "azbind emulators start")
		})
	}
}

func runIn(dir, bin string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
