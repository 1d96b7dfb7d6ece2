package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvStartTimeout names the environment variable that overrides how long an emulator may take to
// become ready (a Go duration such as "60s"; default 2m), for heavily loaded machines.
const EnvStartTimeout = "AZBIND_EMULATOR_START_TIMEOUT"

const (
	defaultReadyTimeout = 2 * time.Minute // a poll: a loaded 2-core machine has taken 25 s to start Azurite
	stopGrace           = 5 * time.Second
	pollInterval        = 50 * time.Millisecond
	logTailLines        = 20
	startTries          = 3
)

// errPortInUse marks a start that failed because another process took one of the chosen ports.
var errPortInUse = errors.New("port already in use")

// proc is a running emulator process in its own process group.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error

	once    sync.Once
	stopErr error
}

// startProc starts node with args in dir, stdout and stderr going to logPath.
func startProc(name, node string, args []string, dir, logPath string) (*proc, error) {
	return startProcEnv(name, node, args, dir, logPath, nil)
}

// startProcEnv is startProc with extra environment variables (KEY=VALUE) added to the inherited ones.
func startProcEnv(name, node string, args []string, dir, logPath string, env []string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: log file: %w", ErrStart, name, err)
	}
	p := &proc{name: name, logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// On Linux the parent-death signal fires when the *thread* that started the child exits,
		// so keep this goroutine on its thread until the child is gone.
		runtime.LockOSThread()
		defer logf.Close()
		cmd := exec.Command(node, args...)
		cmd.Dir = dir
		if len(env) > 0 {
			cmd.Env = append(os.Environ(), env...)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.cmd = cmd
		started <- nil
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStart, name, err)
	}
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to stopGrace, then SIGKILLs. Idempotent.
func (p *proc) stop() error {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		terminate(p.cmd.Process)
		select {
		case <-p.done:
			return
		case <-time.After(stopGrace):
		}
		kill(p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			p.stopErr = fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.pid())
		}
	})
	return p.stopErr
}

// waitReady polls until every port accepts a TCP connection and the log holds every marker line
// (so the listener is the emulator and not some other process that grabbed the port), until the
// process exits, or until readyTimeout.
func (p *proc) waitReady(ports []int, markers []string) error {
	readyTimeout := defaultReadyTimeout
	if v := os.Getenv(EnvStartTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%w: %s=%q is not a positive Go duration (e.g. 60s)", ErrStart, EnvStartTimeout, v)
		}
		readyTimeout = d
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		if p.exited() {
			tail := p.logTail()
			err := fmt.Errorf("%w: %s exited during startup (%v); last lines of %s:\n%s", ErrStart, p.name, p.waitErr, p.logPath, tail)
			if strings.Contains(tail, "EADDRINUSE") {
				err = fmt.Errorf("%w (%w)", err, errPortInUse)
			}
			return err
		}
		if p.ready(ports, markers) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (pid %d) not ready on ports %v after %v; last lines of %s:\n%s",
				ErrStart, p.name, p.pid(), ports, readyTimeout, p.logPath, p.logTail())
		}
		select {
		case <-p.done:
		case <-time.After(pollInterval):
		}
	}
}

func (p *proc) ready(ports []int, markers []string) bool {
	log, err := os.ReadFile(p.logPath)
	if err != nil {
		return false
	}
	for _, m := range markers {
		if !bytes.Contains(log, []byte(m)) {
			return false
		}
	}
	for _, port := range ports {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}

// logTail returns the last lines of the emulator's log with any well-known key redacted.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(log unreadable: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return redact(strings.Join(lines, "\n"))
}

func redact(s string) string {
	for _, k := range []string{DevAccountKey, CosmosEmulatorKey} {
		s = strings.ReplaceAll(s, k, "[REDACTED]")
	}
	return s
}

// freePorts returns n distinct loopback ports that were free a moment ago. They are all held open
// together while choosing, so they differ from each other; another process may still take one
// before the emulator binds it, which startup detects and retries (errPortInUse).
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("%w: choosing a free port: %w", ErrStart, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ownerFile, inside every data folder this package creates, holds the pid of the Go process that
// owns it, so that folders left behind by a killed test binary can be swept by the next start.
const ownerFile = ".azbind-owner"

// newDataDir returns a fresh folder under /dev/shm (or os.TempDir if /dev/shm is unusable).
func newDataDir(prefix string) (string, error) {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		sweep("/dev/shm", prefix)
		if d, err := os.MkdirTemp("/dev/shm", prefix); err == nil {
			return d, markOwner(d)
		}
	}
	sweep(os.TempDir(), prefix)
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("%w: data folder: %w", ErrStart, err)
	}
	return d, markOwner(d)
}

func markOwner(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return fmt.Errorf("%w: data folder: %w", ErrStart, err)
	}
	return nil
}

// sweep removes base/prefix* folders whose owning process is gone. Folders without an owner file
// (being created, or not ours) are left alone.
func sweep(base, prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(base, prefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}
