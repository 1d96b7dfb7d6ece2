// Package readme keeps the README honest: its example program is built exactly as written and run
// against Azurite the way the README's "first hour" says.
package readme

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/internal/emulator"
)

// exampleBlock returns the first ```go block of README.md.
func exampleBlock(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```go\n")
	if !ok {
		t.Fatal("README.md has no ```go block")
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated ```go block")
	}
	return code
}

func TestReadmeExample(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	code := exampleBlock(t, root)
	if !strings.HasPrefix(code, "package main\n") {
		t.Fatalf("the README example does not start with `package main`:\n%s", code)
	}
	// Built inside the module (a directory the go tool skips in ./... patterns), as written.
	dir, err := os.MkdirTemp(filepath.Join(root, "internal", "readme"), "_example")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "example")
	build := exec.Command("go", "build", "-o", bin, "./"+filepath.Base(dir))
	build.Dir = filepath.Join(root, "internal", "readme")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README example does not compile: %v\n%s", err, out)
	}

	az := emulator.StartAzurite(t, nil)
	work := t.TempDir()
	// The setting comes from local.settings.json in the working directory, as the README says;
	// the polling setting is the README's way to shorten the idle back-off.
	addr := freeAddr(t)
	ls := `{"IsEncrypted": false, "Values": {"AzureWebJobsStorage": "` + az.ConnectionString + `",
	  "AZBIND_HTTP_ADDR": "` + addr + `",
	  "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:01"}}`
	if err := os.WriteFile(filepath.Join(work, "local.settings.json"), []byte(ls), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = work
	cmd.Env = os.Environ()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	logDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
		}
		close(logDone)
	}()
	t.Cleanup(func() { cmd.Process.Kill() })

	ctx := context.Background()
	qs, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	orders := qs.NewQueueClient("orders")
	if _, err := orders.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := orders.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(`{"ID": "A1", "Qty": 2}`)), nil); err != nil {
		t.Fatal(err)
	}
	waitShipped := func(queue, want string) {
		t.Helper()
		shipped := qs.NewQueueClient(queue) // lower-cased, as Functions writes it
		var got string
		deadline := time.Now().Add(60 * time.Second)
		for got == "" && time.Now().Before(deadline) {
			resp, err := shipped.PeekMessages(ctx, nil)
			if err == nil && len(resp.Messages) == 1 {
				b, _ := base64.StdEncoding.DecodeString(*resp.Messages[0].MessageText)
				got = string(b)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got != want {
			cmd.Process.Kill()
			<-logDone
			t.Fatalf("%s holds %q; want %q\nprogram output:\n%s", queue, got, want, logs.String())
		}
	}
	waitShipped("shipped-a1", "shipped A1 x2")

	// The HTTP function, as the README's curl line calls it: 202, and the order it queued is
	// shipped by the queue function.
	var status int
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post("http://"+addr+"/api/orders", "application/json", strings.NewReader(`{"ID": "B2", "Qty": 3}`))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status, body = resp.StatusCode, string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("POST /api/orders: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status != http.StatusAccepted || body != "accepted B2" {
		t.Fatalf("POST /api/orders = %d %q; want 202 \"accepted B2\"\n%s", status, body, logs.String())
	}
	waitShipped("shipped-b2", "shipped B2 x3")

	// Ctrl-C: a clean exit with status 0.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { <-logDone; done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Errorf("exit after Ctrl-C: %v; want status 0\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("the program did not exit after Ctrl-C\n%s", logs.String())
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
