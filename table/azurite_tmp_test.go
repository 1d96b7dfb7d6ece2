package table

// TEMPORARY: a minimal Azurite (table service only) launcher used until internal/emulator lands on
// main; then tests switch to emulator.StartAzurite and this file is deleted.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

type tmpAzurite struct {
	TableEndpoint    string
	ConnectionString string
	AccountName      string
	AccountKey       string
}

func startTableAzurite(t testing.TB) *tmpAzurite {
	t.Helper()
	a, stop, err := launchTableAzurite()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return a
}

func launchTableAzurite() (*tmpAzurite, func(), error) {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "emulators", "node_modules", ".bin", "azurite-table")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("/dev/shm", "azbind-table-")
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "--tablePort", fmt.Sprint(port), "--location", dir, "--silent", "--disableTelemetry", "--skipApiVersionCheck")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start azurite-table: %v", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		_ = os.RemoveAll(dir)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("azurite-table did not listen on %d: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ep := fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1", port)
	return &tmpAzurite{
		TableEndpoint:    ep,
		AccountName:      "devstoreaccount1",
		AccountKey:       devKey,
		ConnectionString: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + devKey + ";TableEndpoint=" + ep + ";",
	}, stop, nil
}
