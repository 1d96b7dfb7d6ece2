package servicebus_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/internal/testlog"
)

// peer is the package's one amqp-peer; every test creates its own entities on it.
var peer *amqppeer.Peer

const waitLong = 20 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(killHelperEnv) != "" {
		os.Exit(runKillHelper())
	}
	p, err := amqppeer.Launch(nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "servicebus tests: %v\n", err)
		os.Exit(1)
	}
	peer = p
	code := m.Run()
	if code != 0 && os.Getenv("AMQPPEER_DUMP_LOG") != "" {
		if b, err := os.ReadFile(p.LogFile); err == nil {
			os.Stderr.Write(b)
		}
	}
	_ = p.Stop()
	os.Exit(code)
}

var seq atomic.Int64

// entityName is a unique entity name for the test.
func entityName(t testing.TB) string {
	n := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(n) > 30 {
		n = n[len(n)-30:]
	}
	return fmt.Sprintf("%s-%d", strings.Trim(n, "-"), seq.Add(1))
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newQueue creates a queue on the peer (q.Name is generated when empty) and returns its name.
func newQueue(t testing.TB, q amqppeer.Queue) string {
	t.Helper()
	if q.Name == "" {
		q.Name = entityName(t)
	}
	if err := peer.CreateEntities(testCtx(t), amqppeer.Config{Queues: []amqppeer.Queue{q}}); err != nil {
		t.Fatal(err)
	}
	return q.Name
}

var (
	clientMu sync.Mutex
	client   *azservicebus.Client
)

// sb is the tests' own SDK client (sending, receiving, inspecting).
func sb(t testing.TB) *azservicebus.Client {
	clientMu.Lock()
	defer clientMu.Unlock()
	if client == nil {
		c, err := azservicebus.NewClientFromConnectionString(peer.ConnectionString, &azservicebus.ClientOptions{
			RetryOptions: azservicebus.RetryOptions{MaxRetries: 3, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		client = c
	}
	return client
}

func sendMsgs(t testing.TB, entity string, msgs ...*azservicebus.Message) {
	t.Helper()
	s, err := sb(t).NewSender(entity, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for _, m := range msgs {
		if err := s.SendMessage(testCtx(t), m, nil); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

func send(t testing.TB, entity string, bodies ...string) {
	t.Helper()
	var msgs []*azservicebus.Message
	for _, b := range bodies {
		msgs = append(msgs, &azservicebus.Message{Body: []byte(b)})
	}
	sendMsgs(t, entity, msgs...)
}

func sendSession(t testing.TB, entity, session string, bodies ...string) {
	t.Helper()
	var msgs []*azservicebus.Message
	for _, b := range bodies {
		msgs = append(msgs, &azservicebus.Message{Body: []byte(b), SessionID: to.Ptr(session)})
	}
	sendMsgs(t, entity, msgs...)
}

// receiveAll receives n messages from entity (a queue or topic/Subscriptions/sub) and completes them.
func receiveAll(t testing.TB, entity string, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	var r *azservicebus.Receiver
	var err error
	if topic, sub, ok := strings.Cut(entity, "/Subscriptions/"); ok {
		r, err = sb(t).NewReceiverForSubscription(topic, sub, nil)
	} else {
		r, err = sb(t).NewReceiverForQueue(entity, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	var out []*azservicebus.ReceivedMessage
	deadline := time.Now().Add(waitLong)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d messages from %s", len(out), n, entity)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		msgs, err := r.ReceiveMessages(ctx, n-len(out), nil)
		cancel()
		if err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := r.CompleteMessage(testCtx(t), m, nil); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, msgs...)
	}
	return out
}

func counts(t testing.TB, entity string) amqppeer.Counts {
	t.Helper()
	c, err := peer.Counts(testCtx(t), entity)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond every 20 ms until it returns "" or waitLong passes.
func eventually(t testing.TB, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", waitLong, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantCounts(t testing.TB, entity string, want amqppeer.Counts) {
	t.Helper()
	eventually(t, func() string {
		if got := counts(t, entity); got != want {
			return fmt.Sprintf("counts of %s = %+v, want %+v", entity, got, want)
		}
		return ""
	})
}

// logBuffer is a concurrency-safe slog destination.
type logBuffer = testlog.Buffer

// hostRun is a host running in the background.
type hostRun struct {
	*testhost.Running
	h    *extension.Host
	logs *logBuffer
}

// Stop stops the host and waits for Run to return.
func (r *hostRun) Stop(testing.TB) error { return r.Running.Stop() }

type hostCfg struct {
	ext      map[string]any    // host.json extensions.serviceBus
	settings map[string]string // extra settings
	shutdown time.Duration
}

// startHost runs one function on a host connected to the peer (setting AzureWebJobsServiceBus).
func startHost(t testing.TB, cfg hostCfg, name string, handler extension.Handler, bindings ...*driver.BindingSpec) *hostRun {
	t.Helper()
	settings := map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString}
	for k, v := range cfg.settings {
		settings[k] = v
	}
	logs := &logBuffer{}
	ext := map[string]map[string]any{}
	if cfg.ext != nil {
		ext["serviceBus"] = cfg.ext
	}
	if cfg.shutdown == 0 {
		cfg.shutdown = 30 * time.Second
	}
	run := testhost.Start(t, extension.HostOptions{
		Settings:        connection.NewSettings(connection.FromMap("test", settings)),
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HostConfig:      &extension.HostConfig{Version: "2.0", Extensions: ext},
		ShutdownTimeout: cfg.shutdown,
		HostID:          "sbtest",
	}, testhost.RunOptions{Logs: logs, Secrets: []string{peer.Key}}, func(h *extension.Host) error { return h.Func(name, handler, bindings...) })
	return &hostRun{Running: run, h: run.Host, logs: logs}
}
