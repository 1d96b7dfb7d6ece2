package queue

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue/queuetest"
)

// deadEndpoint returns a queue service URL on a loopback port nobody listens on.
func deadEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/devstoreaccount1"
}

const sasSecret = "c2VjcmV0LXNpZ25hdHVyZS1kby1ub3QtbGVhaw"

// Secrets never leak: a transport error quotes the full request URL, SAS signature included;
// the listener's logs must not carry it.
func TestListenerLogsNoSASSignature(t *testing.T) {
	u := deadEndpoint(t) + "/q?sv=2023-01-03&sp=raup&sig=" + sasSecret
	q, err := azqueue.NewQueueClientWithNoCredential(u, &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	l := NewListener(q, nil, ListenerOptions{MaxPollingInterval: 100 * time.Millisecond, Logger: logger}, func(ctx context.Context, m *Message) driver.Result { return ok })
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "two failed polls", func() bool { return l.Stats().ReceiveErrors >= 2 })
	stop()
	out := logs.String()
	if !strings.Contains(out, "error=") {
		t.Fatalf("no error was logged: %s", out)
	}
	if strings.Contains(out, sasSecret) {
		t.Errorf("listener log leaks the SAS signature:\n%s", out)
	}
}

// The same for the output binding's error (it ends up in the invocation's log).
func TestOutputErrorHasNoSASSignature(t *testing.T) {
	conn := connection.Connection{
		Kind:             connection.KindConnectionString,
		ConnectionString: "QueueEndpoint=" + deadEndpoint(t) + ";SharedAccessSignature=sv=2023-01-03&sp=raup&sig=" + sasSecret,
		ClientOptions:    azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}},
	}
	svc, err := NewServiceClient(&conn)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := bindContext(t, Output("out", "somequeue"), nil, nil, nil).Template("queueName")
	if err != nil {
		t.Fatal(err)
	}
	o := &output{where: "test", name: tmpl, svc: svc, enc: Base64, created: map[string]bool{}}
	s, err := o.Open(context.Background(), &driver.FunctionContext{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	err = s.Flush(context.Background())
	if err == nil {
		t.Fatal("flush to a dead endpoint succeeded")
	}
	if strings.Contains(err.Error(), sasSecret) {
		t.Errorf("output error leaks the SAS signature: %v", err)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("error does not wrap the transport error (%%w): %v", err)
	}
}

// messageEncoding "none" sends the bytes as XML text: bytes XML cannot carry (control characters,
// invalid UTF-8) would be replaced with U+FFFD by the SDK's XML encoder and the message silently
// changed. The output must refuse them with an error that names the fix instead.
func TestOutputEncodingNoneRefusesBytesXMLCannotCarry(t *testing.T) {
	q := env.QueueName(t)
	env.Cleanup(t, q)
	o, err := newOutput(context.Background(), bindContext(t, Output("out", q), nil, map[string]any{"messageEncoding": "none"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{{'a', 0x01, 'b'}, {0xff, 0xfe}, []byte("nul\x00")} {
		s, err := o.Open(context.Background(), &driver.FunctionContext{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Add(context.Background(), body)
		if err == nil {
			err = s.Flush(context.Background())
			got := env.Receive(t, q, 1, 5*time.Second)
			t.Errorf("body %q accepted with messageEncoding none (flush: %v); the queue holds %q", body, err, got)
			continue
		}
		if !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), "base64") {
			t.Errorf("error for %q does not name the fix (messageEncoding base64): %v", body, err)
		}
	}
	// Text XML can carry, \r and \t included, goes through byte for byte.
	s, _ := o.Open(context.Background(), &driver.FunctionContext{})
	want := "line1\r\nline2\tx <&> é"
	if err := s.Add(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := env.Receive(t, q, 1, 10*time.Second); len(got) != 1 || got[0] != want {
		t.Errorf("queue holds %q, want [%q]", got, want)
	}
}

// C25 pre-check without a poison queue (a queue named *-poison, or one whose poison name would be
// too long): Functions' BeginProcessingMessageAsync never invokes a message whose dequeue count is
// past maxDequeueCount, poison queue or not; it leaves it invisible. Invoking it again every
// receive visibility would re-run side effects of a message already given up on.
func TestListenerNoPoisonQueueSkipsPastLimit(t *testing.T) {
	q := env.QueueName(t) + "-poison"
	env.Cleanup(t, q)
	if _, err := env.Service.CreateQueue(context.Background(), q, nil); err != nil {
		t.Fatal(err)
	}
	env.Send(t, q, []byte("old"))
	cl := env.Queue(q)
	for range 2 { // dequeue count 2 > maxDequeueCount 1
		queuetest.WaitFor(t, waitLong, "message visible", func() bool {
			resp, err := cl.DequeueMessages(context.Background(), &azqueue.DequeueMessagesOptions{VisibilityTimeout: ptr(int32(1))})
			return err == nil && len(resp.Messages) == 1
		})
	}
	logger, logs := newLogger()
	var calls atomic.Int64
	l := testListener(t, q, ListenerOptions{MaxDequeueCount: 1, Logger: logger}, func(ctx context.Context, m *Message) driver.Result {
		calls.Add(1)
		return ok
	})
	stop := runBG(t, l.Run)
	queuetest.WaitFor(t, waitLong, "the message received", func() bool { return l.Stats().Messages >= 1 })
	// The skip is logged after the receive is counted: poll for the log, not a moment after the count.
	queuetest.WaitFor(t, waitLong, "the skip logged", func() bool { return strings.Contains(logs.String(), "MaxDequeueCount") })
	stop()
	if n := calls.Load(); n != 0 {
		t.Errorf("handler called %d times for a message past maxDequeueCount", n)
	}
	if s := l.Stats(); s.Released != 0 || s.Deleted != 0 || s.Poisoned != 0 {
		t.Errorf("stats = %+v: the message must be left invisible", s)
	}
	if n := env.Count(t, q); n != 1 {
		t.Errorf("count = %d, want 1 (invisible, not lost)", n)
	}
	if !strings.Contains(logs.String(), "MaxDequeueCount") {
		t.Errorf("skipping the message was not logged:\n%s", logs)
	}
}
