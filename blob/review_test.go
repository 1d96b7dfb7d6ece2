package blob

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
)

const sasSecret = "T0pS3cretSigValue"

// sasResolver resolves every connection to a SAS connection string on an endpoint that refuses
// connections: net/http then quotes the full request URL, SAS signature included, in its error.
type sasResolver struct{ endpoint string }

func (r sasResolver) Resolve(_ context.Context, name string, s connection.Service) (*connection.Connection, error) {
	cs := "BlobEndpoint=" + r.endpoint + "/devstoreaccount1;QueueEndpoint=" + r.endpoint + "/devstoreaccount1;SharedAccessSignature=sv=2020-08-04&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00:00:00Z&sig=" + sasSecret
	return &connection.Connection{Name: "Storage", Key: "Storage", Service: s, Kind: connection.KindConnectionString, ConnectionString: cs,
		ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}, nil
}

func closedEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// Review: errors of the input, output and trigger carried transport errors unredacted, and a
// transport error quotes the request URL with its SAS signature (sig=…).
func TestErrorsDoNotLeakSAS(t *testing.T) {
	host := testhost.Services(t, extension.HostOptions{HostID: unique("h"), Connections: sasResolver{endpoint: closedEndpoint(t)}, Concurrency: 2})
	ctx := context.Background()
	props := driver.Props{"connection": "Storage"}

	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error against a closed endpoint", what)
		}
		if strings.Contains(fmt.Sprint(err), sasSecret) {
			t.Errorf("%s: error leaks the SAS signature: %v", what, err)
		}
	}

	in, err := newInput(ctx, bindContext("R", Input("in", "ccc/x.txt", props), host, reflect.TypeFor[string](), nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Bind(ctx, fcWith(nil))
	check("input", err)

	out, err := newOutput(ctx, bindContext("W", Output("out", "ccc/x.txt", props), host, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := out.Open(ctx, fcWith(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "data"); err != nil {
		t.Fatal(err)
	}
	check("output", s.Flush(ctx))

	tr, err := newTrigger(ctx, bindContext("T", Trigger("in", "ccc/{name}", props), host, reflect.TypeFor[[]byte](), nil))
	if err != nil {
		t.Fatal(err)
	}
	res := tr.(*trigger).process(ctx, execFunc(func(context.Context, *driver.Event) driver.Result {
		return driver.Result{Status: driver.Succeeded}
	}), &Message{Type: "BlobTrigger", FunctionID: "Host.Functions.T", BlobType: "BlockBlob", ContainerName: "ccc", BlobName: "x.txt", ETag: `"0x1"`}, 1)
	if res.Status != driver.Failed {
		t.Fatalf("trigger read against a closed endpoint: %v", res.Status)
	}
	check("trigger", res.Err)

	check("reprocess", ReprocessWith(ctx, host.Connections, "Storage", host.HostID, "T", "ccc", "x.txt"))
}

// poisonedFor reports whether webjobs-blobtrigger-poison holds a message for containerName.
func poisonedFor(t *testing.T, containerName string) bool {
	resp, err := qsvc.NewQueueClient(PoisonQueueName).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		return false
	}
	for _, m := range resp.Messages {
		if msg, err := DecodeMessage(*m.MessageText); err == nil && msg.ContainerName == containerName {
			return true
		}
	}
	return false
}

// Review: when one blob-triggered function of a host stopped while another kept the shared
// internal-queue listener running (a host shutting down its functions one by one), the stopped
// function's queued messages failed in a tight loop (released with visibility 0, received again
// at once) and were poisoned within a second without ever being invoked. They must stay queued
// for the function's next start.
func TestStoppedFunctionMessagesNotPoisoned(t *testing.T) {
	c1, c2 := unique("gone"), unique("stay")
	createContainer(t, c1)
	createContainer(t, c2)
	host := newServices(t, unique("h"))
	r1 := startTrigger(t, host, "Gone", c1+"/{name}", newRecorder(), nil, nil)
	startTrigger(t, host, "Stay", c2+"/{name}", newRecorder(), nil, nil)
	// Both registered; then past the dispatcher's start-up grace for functions still registering.
	waitFor(t, 10*time.Second, "both functions registered", func() bool {
		st, err := stateFor(context.Background(), host)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		st.dispatchers.each(func(k dispatchKey, d *dispatcher) {
			if k.hostID == host.HostID {
				d.mu.Lock()
				defer d.mu.Unlock()
				if len(d.fns) == 2 {
					d.started = d.started.Add(-time.Minute)
					found = true
				}
			}
		})
		return found
	})
	r1.stop(t)

	upload(t, c1, "a.txt", []byte("a"))
	if err := Reprocess(context.Background(), svc, qsvc, host.HostID, "Gone", c1, "a.txt"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	// Absence check, in a bounded window: for 3 s the stopped function's message must not be poisoned.
	for time.Now().Before(deadline) {
		if poisonedFor(t, c1) {
			t.Fatal("the stopped function's message was poisoned without being invoked")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The function starts again on this host: its message is processed.
	rec := newRecorder()
	startTrigger(t, host, "Gone", c1+"/{name}", rec, nil, nil)
	waitFor(t, 30*time.Second, "the held message processed after the function restarted", func() bool { return rec.count(c1+"/a.txt") >= 1 })
	if poisonedFor(t, c1) {
		t.Fatal("message poisoned")
	}
}

// Review: with startFrom firstStart and a container that did not exist yet at the first start,
// the watermark was taken from the first listing that succeeded, so a blob written after the
// start — but before that listing — was skipped forever.
func TestFirstStartBeforeContainerExists(t *testing.T) {
	c := unique("late1st")
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "LateFirst", c+"/{name}", rec, map[string]any{"startFrom": "firstStart", "pollingInterval": "00:00:04"}, nil)
	waitScanner(t, host, c, 1) // the first sweep found no container
	createContainer(t, c)
	upload(t, c, "early.txt", []byte("x")) // after the start: must trigger
	waitFor(t, 20*time.Second, "the blob written after the first start", func() bool { return rec.count(c+"/early.txt") == 1 })
}
