package blob

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testhost"
)

var (
	az     *emulator.Azurite
	svc    *service.Client
	qsvc   *azqueue.ServiceClient
	seqNum atomic.Int64
)

func TestMain(m *testing.M) {
	var err error
	az, err = emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azurite:", err)
		os.Exit(1)
	}
	svc, err = service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err == nil {
		qsvc, err = azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	}
	if err != nil {
		az.Stop()
		fmt.Fprintln(os.Stderr, "clients:", err)
		os.Exit(1)
	}
	code := m.Run()
	az.Stop()
	os.Exit(code)
}

// unique returns a fresh lower-case name with prefix (containers, host IDs).
func unique(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%1e6, seqNum.Add(1))
}

// testResolver is the real connection resolver over AzureWebJobsStorage = the test Azurite.
func testResolver() driver.ConnectionResolver {
	return connection.NewResolver(connection.NewSettings(connection.FromMap("test", map[string]string{
		"AzureWebJobsStorage": az.ConnectionString,
	})), nil)
}

// newServices returns host services for one test host.
func newServices(t testing.TB, hostID string) *driver.Services {
	return testhost.Services(t, extension.HostOptions{
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		HostID:      hostID,
		Connections: testResolver(),
		Concurrency: 2,
	})
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func bindContext(fn string, spec *driver.BindingSpec, host *driver.Services, param reflect.Type, cfg map[string]any) *driver.BindContext {
	spec.Where = fn + "/function.json: " + spec.Name
	return &driver.BindContext{Function: fn, Spec: spec, Host: host, Param: param, Config: cfg}
}

// execFunc is a test Executor.
type execFunc func(ctx context.Context, ev *driver.Event) driver.Result

func (f execFunc) Execute(ctx context.Context, ev *driver.Event) driver.Result {
	return f(ctx, ev)
}

// recorder is an Executor that records the blobs it was invoked for.
type recorder struct {
	mu     sync.Mutex
	calls  map[string]int
	events []*driver.Event
	datas  [][]byte
	fail   func(ev *driver.Event) error
	when   map[string]time.Time
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, when: map[string]time.Time{}}
}

func (r *recorder) Execute(ctx context.Context, ev *driver.Event) driver.Result {
	var data []byte
	if b, ok := ev.Data.([]byte); ok {
		data = b
	}
	bt, _ := ev.Metadata.Lookup("BlobTrigger")
	r.mu.Lock()
	r.calls[bt.(string)]++
	if _, ok := r.when[bt.(string)]; !ok {
		r.when[bt.(string)] = time.Now()
	}
	r.events = append(r.events, ev)
	r.datas = append(r.datas, data)
	fail := r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(ev); err != nil {
			return driver.Result{Status: driver.Failed, Err: err}
		}
	}
	return driver.Result{Status: driver.Succeeded}
}

func (r *recorder) count(blob string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[blob]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, c := range r.calls {
		if c > 1 {
			out = append(out, fmt.Sprintf("%s×%d", k, c))
		}
	}
	return out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running is a started trigger.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error
	trig   *trigger
}

func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("Run: %v", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s of cancellation")
	}
}

// startTrigger builds a blobTrigger for fn on host and runs it with exec until the test ends.
func startTrigger(t testing.TB, host *driver.Services, fn, path string, exec driver.Executor, cfg map[string]any, props driver.Props) *running {
	t.Helper()
	spec := Trigger("input", path, props)
	bc := bindContext(fn, spec, host, reflect.TypeFor[[]byte](), cfg)
	tr, err := newTrigger(context.Background(), bc)
	if err != nil {
		t.Fatalf("newTrigger: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{}), trig: tr.(*trigger)}
	go func() { r.err = tr.Run(ctx, exec); close(r.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30 s of cancellation")
		}
	})
	return r
}

func createContainer(t testing.TB, name string) {
	t.Helper()
	if _, err := svc.NewContainerClient(name).Create(context.Background(), nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
}

func upload(t testing.TB, containerName, name string, data []byte) {
	t.Helper()
	_, err := svc.NewContainerClient(containerName).NewBlockBlobClient(name).Upload(context.Background(),
		streaming.NopCloser(bytes.NewReader(data)), &blockblob.UploadOptions{})
	if err != nil {
		t.Fatalf("upload %s/%s: %v", containerName, name, err)
	}
}

// uploadMany uploads n blobs name(i) in parallel.
func uploadMany(t testing.TB, containerName string, n int, name func(i int) string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ch := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				_, err := svc.NewContainerClient(containerName).NewBlockBlobClient(name(i)).UploadBuffer(context.Background(), []byte(name(i)), nil)
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("upload: %v", err)
	}
}
