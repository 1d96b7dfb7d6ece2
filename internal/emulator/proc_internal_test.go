//go:build unix

package emulator

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A port taken between choosing and binding is reported as errPortInUse (which LaunchAzurite
// retries), with the emulator's own log in the error.
func TestPortTakenIsDetected(t *testing.T) {
	t.Parallel()
	node, script, err := azuriteScript()
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	free, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := startProc("azurite", node, []string{script, "--silent", "--disableTelemetry", "--location", dir,
		"--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
		"--blobPort", strconv.Itoa(busy), "--queuePort", strconv.Itoa(free[0]), "--tablePort", strconv.Itoa(free[1])},
		dir, filepath.Join(dir, "azurite.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	// The busy port accepts connections (someone else's listener): readiness must not be fooled.
	err = p.waitReady([]int{busy, free[0], free[1]}, []string{"Blob service is successfully listening at http://127.0.0.1:" + strconv.Itoa(busy)})
	if !errors.Is(err, errPortInUse) || !errors.Is(err, ErrStart) {
		t.Fatalf("waitReady: %v, want ErrStart and errPortInUse", err)
	}
	if !strings.Contains(err.Error(), "EADDRINUSE") {
		t.Fatalf("error lacks the emulator's log: %v", err)
	}
	if !p.exited() {
		t.Fatal("process still running after waitReady reported its exit")
	}
}

func TestLogTailRedactsKeys(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 30 {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	b.WriteString("AccountKey=" + DevAccountKey + " cosmos " + CosmosEmulatorKey + "\n")
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tail := (&proc{logPath: log}).logTail()
	if strings.Contains(tail, DevAccountKey) || strings.Contains(tail, CosmosEmulatorKey) {
		t.Fatalf("tail leaks a key: %s", tail)
	}
	if n := strings.Count(tail, "\n") + 1; n != logTailLines {
		t.Fatalf("tail has %d lines, want %d", n, logTailLines)
	}
	if strings.Contains(tail, "line 10\n") || !strings.Contains(tail, "line 29") {
		t.Fatalf("tail is not the end of the log: %s", tail)
	}
}

// Data folders of a dead owner (a killed test binary) are swept by the next start; others stay.
func TestSweepStaleDataDirs(t *testing.T) {
	t.Parallel()
	const prefix = "azbind-sweeptest-"
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(owner string) string {
		d, err := os.MkdirTemp("/dev/shm", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	stale := mk(strconv.Itoa(dead.Process.Pid))
	live := mk("1")
	unowned := mk("")
	fresh, err := newDataDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(fresh) })
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale folder of dead pid %d not swept: %v", dead.Process.Pid, err)
	}
	for _, d := range []string{live, unowned, fresh} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("folder %s swept wrongly: %v", d, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, ownerFile)); string(b) != strconv.Itoa(os.Getpid()) {
		t.Errorf("owner file of a new folder holds %q, want our pid", b)
	}
}
