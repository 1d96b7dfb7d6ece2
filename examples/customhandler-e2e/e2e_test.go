package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testlog"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds azbind and the Go example's handler once per test run.
func binaries(t *testing.T) (azbind, goHandler string) {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "azbind-e2e-"); buildErr != nil {
			return
		}
		for _, b := range [][2]string{{"azbind", "../../cmd/azbind"}, {"handler", "../customhandler-go"}} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, b[0]), b[1]).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "azbind"), filepath.Join(binDir, "handler")
}

// copyApp copies an example app folder into a temporary folder (and the Go handler into it).
func copyApp(t *testing.T, example string) string {
	t.Helper()
	_, goHandler := binaries(t)
	dst := t.TempDir()
	src := filepath.Join("..", example)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if rel == "handler" || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if example == "customhandler-go" {
		data, err := os.ReadFile(goHandler)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "handler"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// app is a running `azbind start`.
type app struct {
	cmd    *exec.Cmd
	port   int
	stdout *testlog.Buffer
	stderr *testlog.Buffer
	exited chan struct{}
	err    error
}

func (a *app) url(path string) string { return "http://127.0.0.1:" + strconv.Itoa(a.port) + path }

func (a *app) logs() string { return a.stdout.String() + a.stderr.String() }

// start runs `azbind start dir --port N` with env added, waits until ping answers 200, and at
// the end of the test stops it with SIGTERM, expecting exit status 0.
func start(t *testing.T, dir string, env ...string) *app {
	t.Helper()
	azbind, _ := binaries(t)
	a := &app{port: freePort(t), stdout: &testlog.Buffer{}, stderr: &testlog.Buffer{}, exited: make(chan struct{})}
	a.cmd = exec.Command(azbind, "start", dir, "--port", strconv.Itoa(a.port))
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Stdout, a.cmd.Stderr = a.stdout, a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.exited) }()
	t.Cleanup(func() {
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
			if a.err != nil {
				t.Errorf("azbind start exited with %v after SIGTERM, want 0\n%s", a.err, a.logs())
			}
		case <-time.After(60 * time.Second):
			_ = a.cmd.Process.Kill()
			t.Errorf("azbind start did not stop within 60 s of SIGTERM\n%s", a.logs())
		}
	})
	waitFor(t, a, "GET /admin/host/ping 200", 60*time.Second, func() bool {
		resp, err := http.Get(a.url("/admin/host/ping"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return a
}

func waitFor(t *testing.T, a *app, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		select {
		case <-a.exited:
			t.Fatalf("azbind start exited (%v) while waiting for %s\n%s", a.err, what, a.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, a.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storage is Azurite with clients.
type storage struct {
	az   *emulator.Azurite
	qsvc *azqueue.ServiceClient
	bsvc *service.Client
}

func newStorage(t *testing.T) *storage {
	t.Helper()
	az := emulator.StartAzurite(t, nil)
	q, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &storage{az: az, qsvc: q, bsvc: b}
}

func (s *storage) env() []string { return []string{"AzureWebJobsStorage=" + s.az.ConnectionString} }

// send enqueues body base64-encoded (the queue trigger's default messageEncoding).
func (s *storage) send(t *testing.T, queue, body string) {
	t.Helper()
	qc := s.qsvc.NewQueueClient(queue)
	if _, err := qc.Create(context.Background(), nil); err != nil && !strings.Contains(err.Error(), "QueueAlreadyExists") {
		t.Fatal(err)
	}
	if _, err := qc.EnqueueMessage(context.Background(), base64.StdEncoding.EncodeToString([]byte(body)), nil); err != nil {
		t.Fatal(err)
	}
}

func (s *storage) blob(container, name string) ([]byte, bool) {
	resp, err := s.bsvc.NewContainerClient(container).NewBlobClient(name).DownloadStream(context.Background(), nil)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, err == nil
}

func (s *storage) blobCount(t *testing.T, container string) int {
	t.Helper()
	n := 0
	pager := s.bsvc.NewContainerClient(container).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			return 0
		}
		n += len(page.Segment.BlobItems)
	}
	return n
}

func (s *storage) queueLength(t *testing.T, queue string) int {
	t.Helper()
	props, err := s.qsvc.NewQueueClient(queue).GetProperties(context.Background(), nil)
	if err != nil || props.ApproximateMessagesCount == nil {
		return 0
	}
	return int(*props.ApproximateMessagesCount)
}

type receipt struct {
	ID           string `json:"id"`
	Item         string `json:"item"`
	Qty          int    `json:"qty"`
	DequeueCount string `json:"dequeueCount"`
}

// Each example end to end: azbind start prints the functions, a queue message becomes a blob
// through the custom handler (quirk-encoded Data and Metadata decoded by the handler), the
// handler's Logs reach the host log in the invocation's scope, SIGTERM exits 0.
func TestGoExample(t *testing.T)     { exampleEndToEnd(t, "customhandler-go", "") }
func TestNodeExample(t *testing.T)   { exampleEndToEnd(t, "customhandler-node", "node") }
func TestPythonExample(t *testing.T) { exampleEndToEnd(t, "customhandler-python", "python3") }

func exampleEndToEnd(t *testing.T, example, runtime string) {
	if runtime != "" {
		if _, err := exec.LookPath(runtime); err != nil {
			t.Skipf("%s is not installed (%v): the %s example needs it", runtime, err, example)
		}
	}
	st := newStorage(t)
	a := start(t, copyApp(t, example), st.env()...)
	for _, want := range []string{"HttpEnqueue: [POST] http://localhost:" + strconv.Itoa(a.port) + "/api/orders", "ProcessOrder: queueTrigger", "Tick: timerTrigger"} {
		if out := a.stdout.String(); !strings.Contains(out, want) {
			t.Errorf("function list lacks %q:\n%s", want, out)
		}
	}
	// HTTP → queue → blob: the handler's http output is the reply; its queue output feeds
	// ProcessOrder.
	resp, err := http.Post(a.url("/api/orders"), "application/json", strings.NewReader(`{"id":"h-1","item":"lamp","qty":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || string(body) != `{"queued":"h-1"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("POST /api/orders: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, err = http.Post(a.url("/api/orders"), "text/plain", strings.NewReader(`nonsense`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("POST /api/orders with no order: %d, want the handler's 400", resp.StatusCode)
	}
	if resp, err := http.Get(a.url("/api/orders")); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /api/orders (the function admits POST only): %v %v", resp.StatusCode, err)
	}
	waitFor(t, a, "receipts/h-1.json", 60*time.Second, func() bool { _, ok := st.blob("receipts", "h-1.json"); return ok })
	waitFor(t, a, "a timer tick", 30*time.Second, func() bool {
		return regexp.MustCompile(`msg="tick \(past due: false\)".*function=Tick`).MatchString(a.stderr.String())
	})
	st.send(t, "orders", `{"id":"o-1","item":"book","qty":2}`)
	var got []byte
	waitFor(t, a, "receipts/o-1.json", 60*time.Second, func() bool {
		var ok bool
		got, ok = st.blob("receipts", "o-1.json")
		return ok
	})
	var r receipt
	if err := json.Unmarshal(got, &r); err != nil || r.ID != "o-1" || r.Item != "book" || r.Qty != 2 || r.DequeueCount != "1" {
		t.Errorf("receipt %s (%v)", got, err)
	}
	waitFor(t, a, "the handler's log line", 10*time.Second, func() bool {
		return regexp.MustCompile(`msg="processed order o-1".*function=ProcessOrder.*invocation_id=`).MatchString(a.stderr.String())
	})
}

var startedRe = regexp.MustCompile(`msg="custom handler process started" component=customHandler pid=(\d+)`)

func handlerPIDs(a *app) []int {
	var pids []int
	sc := bufio.NewScanner(strings.NewReader(a.stderr.String()))
	for sc.Scan() {
		if m := startedRe.FindStringSubmatch(sc.Text()); m != nil {
			p, _ := strconv.Atoi(m[1])
			pids = append(pids, p)
		}
	}
	return pids
}

// SIGKILL of the handler process under queue load: azbind restarts it, and the invocations it
// held fail, so their messages come back and are processed again; every order ends as a blob,
// none is poisoned (issue 22, done-when).
func TestHandlerKilledUnderLoad(t *testing.T) {
	const n = 100
	st := newStorage(t)
	a := start(t, copyApp(t, "customhandler-go"), append(st.env(), "ORDER_DELAY_MS=1000")...)
	for i := range n {
		st.send(t, "orders", fmt.Sprintf(`{"id":"k-%03d","item":"pen","qty":%d}`, i, i))
	}
	waitFor(t, a, "some receipts", 60*time.Second, func() bool { return st.blobCount(t, "receipts") >= 10 })
	// Kill while the handler holds requests: right after it logged that it began one (each
	// takes ORDER_DELAY_MS, 1 s, in the handler).
	began := strings.Count(a.stderr.String(), "processing order")
	waitFor(t, a, "the handler to begin a request", 60*time.Second, func() bool { return strings.Count(a.stderr.String(), "processing order") > began })
	pids := handlerPIDs(a)
	if len(pids) != 1 {
		t.Fatalf("handler pids %v\n%s", pids, a.logs())
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, "a restarted handler", 30*time.Second, func() bool { return len(handlerPIDs(a)) == 2 })
	waitFor(t, a, fmt.Sprintf("%d receipts", n), 120*time.Second, func() bool { return st.blobCount(t, "receipts") == n })
	if p := st.queueLength(t, "orders-poison"); p != 0 {
		t.Errorf("%d messages poisoned", p)
	}
	retried := 0
	for i := range n {
		b, ok := st.blob("receipts", fmt.Sprintf("k-%03d.json", i))
		var r receipt
		if !ok || json.Unmarshal(b, &r) != nil || r.Qty != i {
			t.Errorf("receipt k-%03d: %s", i, b)
			continue
		}
		if r.DequeueCount != "1" {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no receipt has a dequeue count above 1: the kill hit no invocation in flight\n%s", a.logs())
	}
	if !strings.Contains(a.stderr.String(), "Language Worker Process exited") {
		t.Errorf("the exit was not logged\n%s", a.logs())
	}
	t.Logf("%d of %d orders were retried after the kill", retried, n)
}

// SIGTERM while the handler holds an invocation: azbind drains it (the handler process keeps
// running until the host has drained), writes its blob, and exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	st := newStorage(t)
	a := start(t, copyApp(t, "customhandler-go"), append(st.env(), "ORDER_DELAY_MS=1500")...)
	st.send(t, "orders", `{"id":"d-1","item":"cup","qty":1}`)
	waitFor(t, a, "the handler to begin the request", 60*time.Second, func() bool { return strings.Contains(a.stderr.String(), "processing order d-1") })
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit within 60 s of SIGTERM\n%s", a.logs())
	}
	if a.err != nil {
		t.Errorf("exit: %v, want 0\n%s", a.err, a.logs())
	}
	if _, ok := st.blob("receipts", "d-1.json"); !ok {
		t.Errorf("the in-flight invocation was not drained: no receipt\n%s", a.logs())
	}
}
