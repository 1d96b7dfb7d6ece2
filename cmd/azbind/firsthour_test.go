package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/internal/emulator"
)

// `azbind put queue` and `azbind put blob` put a message (base64 by default, as queueTrigger
// expects) and a blob where a function can take them, creating the queue or container.
func TestPutQueueAndBlob(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	dir := t.TempDir()
	ls := filepath.Join(dir, "local.settings.json")
	b, _ := json.Marshal(map[string]any{"Values": map[string]string{"AzureWebJobsStorage": az.ConnectionString}})
	if err := os.WriteFile(ls, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "put", "queue", "--settings", ls, "Orders", `{"ID":"A1"}`)
	if code != 0 || !strings.Contains(out, "on queue orders (base64)") {
		t.Fatalf("put queue: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "put", "queue", "--settings", ls, "--encoding", "none", "plain", "as is")
	if code != 0 {
		t.Fatalf("put queue --encoding none: exit %d\n%s%s", code, out, errOut)
	}
	qs, _ := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	for q, want := range map[string]string{"orders": base64.StdEncoding.EncodeToString([]byte(`{"ID":"A1"}`)), "plain": "as is"} {
		resp, err := qs.NewQueueClient(q).PeekMessages(context.Background(), nil)
		if err != nil || len(resp.Messages) != 1 || *resp.Messages[0].MessageText != want {
			t.Errorf("queue %s: %+v, %v; want one message %q", q, resp.Messages, err, want)
		}
	}
	file := filepath.Join(dir, "hello.txt")
	os.WriteFile(file, []byte("hello"), 0o600)
	code, out, errOut = runCmd(t, "put", "blob", "--settings", ls, "samples/in/hello.txt", file)
	if code != 0 || !strings.Contains(out, "put blob samples/in/hello.txt (5 bytes)") {
		t.Fatalf("put blob: exit %d\n%s%s", code, out, errOut)
	}
	bc, _ := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	r, err := bc.DownloadStream(context.Background(), "samples", "in/hello.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if string(got) != "hello" {
		t.Errorf("blob = %q", got)
	}
	// Names the service would refuse are refused here with the rule, not a 400.
	code, _, errOut = runCmd(t, "put", "blob", "--settings", ls, "Samples/x", file)
	if code != 1 || !strings.Contains(errOut, "Invalid container name: Samples") {
		t.Errorf("put blob Samples/x: exit %d, %q", code, errOut)
	}
	for _, s := range []string{out, errOut} {
		if strings.Contains(s, az.AccountKey) {
			t.Errorf("account key printed")
		}
	}
}

// `azbind emulators start` runs Azurite until interrupted, prints the setting to use, and exits 0
// on Ctrl-C.
func TestEmulatorsStart(t *testing.T) {
	if _, err := emulator.InstallDir(); err != nil {
		t.Skip(err)
	}
	bin := filepath.Join(t.TempDir(), "azbind")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "emulators", "start", "--free-ports")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var connStr string
	deadline := time.After(60 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("azbind emulators start exited early")
			}
			if v, found := strings.CutPrefix(strings.TrimSpace(l), "AzureWebJobsStorage="); found {
				connStr = v
			}
			if strings.HasPrefix(l, "Press Ctrl-C") {
				break wait
			}
		case <-deadline:
			t.Fatal("no ready line")
		}
	}
	qs, err := azqueue.NewServiceClientFromConnectionString(connStr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qs.NewQueueClient("ping").Create(context.Background(), nil); err != nil {
		t.Fatalf("the printed setting does not reach Azurite: %v", err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after Ctrl-C: %v; want 0", err)
	}
}

// A connector's error that wraps two causes keeps its file and field; an option shared by two
// functions is printed once; 1e20 is not shown as a negative number; a NUL in a key is escaped;
// a function folder that fails to parse is still counted.
func TestValidateOneErrorOneLine(t *testing.T) {
	dir := t.TempDir()
	write := appWriter(t, dir)
	write("host.json", `{"version": "2.0", "extensions": {"queues": {"batchSize": 1e20}}}`)
	write("local.settings.json", `{"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}}`)
	write("A/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "work"}]}`)
	write("B/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "other"}]}`)
	code, out, _ := runCmd(t, "validate", dir)
	if code != 1 || strings.Count(out, "batchSize") != 1 || !strings.Contains(out, "host.json: extensions.queues: batchSize: number 1e+20 is out of range") || strings.Contains(out, "-9223372036854775808") {
		t.Errorf("batchSize 1e20:\n%s", out)
	}
	if !strings.Contains(out, ": 2 functions, 1 error,") {
		t.Errorf("summary:\n%s", out)
	}

	write("host.json", "{\"version\": \"2.0\", \"ty\\u0000po\": 1}")
	write("A/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "wo_rk"}]}`)
	write("C/function.json", `{"bindings": [`)
	_, out, _ = runCmd(t, "validate", dir)
	for _, want := range []string{
		`C/function.json: not valid JSON: unexpected end of file`,
		`warning: host.json: ty\x00po: unknown key is ignored`,
		// C's syntax error hides nothing in A (issue 23: each function is checked on its own).
		`A/function.json: bindings[0]: queueName: invalid queue name "wo_rk"`,
		": 3 functions, 2 errors, 1 warning",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, 0) {
		t.Errorf("raw NUL printed")
	}
	// Fix the syntax error: the connector's queue-name error is then reported with its file and field.
	write("C/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "third"}]}`)
	_, out, _ = runCmd(t, "validate", dir)
	if !strings.Contains(out, `A/function.json: bindings[0]: queueName: invalid queue name "wo_rk"`) {
		t.Errorf("queue name error without file and field:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasSuffix(l, ": ") || strings.HasSuffix(l, ":") {
			t.Errorf("line ends in a separator: %q", l)
		}
	}
}
