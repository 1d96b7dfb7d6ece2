// Package subproc runs the test binary again as a child process — a host that a test can kill
// with SIGKILL, so that "nothing is lost when a host dies" is proven against a real process
// death (no deferred cleanup, no graceful drain), not only an in-process cancellation.
//
// The child is os.Args[0] with no test selected and one environment variable set; the package's
// TestMain sees the variable and runs its helper host instead of the tests, printing lines (such as
// "started <id>") that the parent reads from Child.Lines.
package subproc

import (
	"bufio"
	"os"
	"os/exec"
	"testing"
)

// Child is a running child process.
type Child struct {
	Cmd *exec.Cmd
	// Lines carries the child's standard output, one line at a time; it is closed when the child
	// closes its output (exits or is killed).
	Lines <-chan string
}

// Start runs the test binary as a child with the environment variable name=value added. The child
// is killed, if still running, when the test ends.
func Start(t testing.TB, name, value string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), name+"="+value)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	c := &Child{Cmd: cmd, Lines: lines}
	t.Cleanup(c.Kill)
	return c
}

// Kill kills the child at once (SIGKILL: no cleanup runs in it) and waits for it to exit. It may
// be called more than once.
func (c *Child) Kill() {
	_ = c.Cmd.Process.Kill() // "already finished" after the first call
	_ = c.Cmd.Wait()         // "already called" after the first call
}
