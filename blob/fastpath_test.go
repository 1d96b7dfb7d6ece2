package blob

import (
	"context"
	"io"
	"reflect"
	"testing"
	"time"

	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/azbind/azbind/extension/driver"
)

// A blob written by this host's own output binding triggers without waiting for a scan; a blob
// written by anyone else waits for the next scan.
func TestFastPath(t *testing.T) {
	c := unique("fast")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	// Scans every 10 minutes: only the first sweep at start happens during the test.
	startTrigger(t, host, "Fast", c+"/in/{name}", rec, map[string]any{"pollingInterval": "00:10:00"}, nil)
	waitScanner(t, host, c, 1)

	upload(t, c, "in/external.txt", []byte("x")) // not through this host: no fast path
	out := newTestOutput(t, c+"/in/{name}", host)
	var lat []time.Duration
	for _, name := range []string{"a", "b", "c"} {
		t0 := time.Now()
		write(t, out, fcWith(driver.MapMetadata{"name": name}), "data-"+name)
		waitFor(t, 5*time.Second, "fast-path invocation of "+name, func() bool { return rec.count(c+"/in/"+name) == 1 })
		lat = append(lat, time.Since(t0))
	}
	t.Logf("fast path latencies (write → invocation): %v", lat)
	// Another host's output does not reach this host's scanner.
	other := newServices(t, unique("h"))
	write(t, newTestOutput(t, c+"/in/{name}", other), fcWith(driver.MapMetadata{"name": "fromother"}), "x")
	// Absence check, in a bounded window: blobs not written by this host do not trigger within 1.5 s (before a scan).
	time.Sleep(1500 * time.Millisecond)
	if rec.count(c+"/in/external.txt") != 0 || rec.count(c+"/in/fromother") != 0 {
		t.Fatalf("blobs not written by this host triggered before a scan: %v", rec.calls)
	}
	// A non-matching path written by this host is ignored.
	write(t, newTestOutput(t, c+"/elsewhere/{name}", host), fcWith(driver.MapMetadata{"name": "z"}), "x")
	// Absence check, in a bounded window: the non-matching path does not trigger within 500 ms.
	time.Sleep(500 * time.Millisecond)
	if rec.total() != 3 {
		t.Fatalf("invocations = %v, want the 3 fast-path blobs only", rec.calls)
	}
}

// The trigger streams the blob to an io.Reader handler and offers SDK clients.
func TestTriggerStreamAndClientParams(t *testing.T) {
	c := unique("kinds")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	got := make(chan string, 4)
	for _, tc := range []struct {
		fn    string
		param reflect.Type
	}{
		{"Stream", reflect.TypeFor[io.Reader]()},
		{"Client", reflect.TypeFor[*sdkblob.Client]()},
	} {
		spec := Trigger("input", c+"/{name}")
		tr, err := newTrigger(context.Background(), bindContext(tc.fn, spec, host, tc.param, nil))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			tr.Run(ctx, execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
				switch d := ev.Data.(type) {
				case io.ReadCloser:
					b, _ := io.ReadAll(d)
					got <- "stream:" + string(b)
				case *sdkblob.Client:
					r, err := d.DownloadStream(ctx, nil)
					if err != nil {
						return driver.Result{Status: driver.Failed, Err: err}
					}
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					got <- "client:" + string(b)
				default:
					got <- "unexpected"
				}
				return driver.Result{Status: driver.Succeeded}
			}))
			close(done)
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	upload(t, c, "x", []byte("payload"))
	seen := map[string]bool{}
	for len(seen) < 2 {
		select {
		case s := <-got:
			seen[s] = true
		case <-time.After(15 * time.Second):
			t.Fatalf("got %v", seen)
		}
	}
	if !seen["stream:payload"] || !seen["client:payload"] {
		t.Fatalf("got %v", seen)
	}
}

// Reprocess makes a processed blob trigger once more, also on a running host whose scan
// watermark has moved past the blob.
func TestReprocess(t *testing.T) {
	c := unique("rep")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "Rep", c+"/{name}", rec, nil, nil)
	upload(t, c, "r.txt", []byte("x"))
	waitFor(t, 15*time.Second, "first run", func() bool { return rec.count(c+"/r.txt") == 1 })
	s := currentScanner(host, c)
	sw := s.stats().Sweeps
	waitFor(t, 15*time.Second, "two sweeps", func() bool { return s.stats().Sweeps >= sw+2 })

	var blobs *service.Client = svc
	var queues *azqueue.ServiceClient = qsvc
	if err := Reprocess(context.Background(), blobs, queues, host.HostID, "Rep", c, "r.txt"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "reprocessing", func() bool { return rec.count(c+"/r.txt") == 2 })
	// Absence check, in a bounded window: no third run within 2 s.
	time.Sleep(2 * time.Second)
	if n := rec.count(c + "/r.txt"); n != 2 {
		t.Fatalf("runs = %d, want 2", n)
	}
	if err := Reprocess(context.Background(), blobs, queues, host.HostID, "Rep", c, "missing.txt"); err == nil {
		t.Fatal("Reprocess of a missing blob succeeded")
	}
	// By connection name, as a CLI would; the function given by its id.
	if err := ReprocessWith(context.Background(), testResolver(), "", host.HostID, "Host.Functions.Rep", c, "r.txt"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "reprocessing by connection name", func() bool { return rec.count(c+"/r.txt") == 3 })
}
