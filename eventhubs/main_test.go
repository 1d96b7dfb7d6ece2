package eventhubs_test

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
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/hoststore"
	"github.com/azbind/azbind/internal/testhost"
	"github.com/azbind/azbind/internal/testlog"
)

var (
	peer    *amqppeer.Peer
	azurite *emulator.Azurite
)

func TestMain(m *testing.M) {
	if os.Getenv(killHelperEnv) != "" {
		os.Exit(runKillHelper())
	}
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "azurite:", err)
		os.Exit(1)
	}
	p, err := amqppeer.Launch(nil)
	if err != nil {
		az.Stop()
		fmt.Fprintln(os.Stderr, "amqp-peer:", err)
		os.Exit(1)
	}
	azurite, peer = az, p
	code := m.Run()
	if code != 0 && os.Getenv("EVENTHUBS_DUMP_PEER_LOG") != "" {
		if b, err := os.ReadFile(p.LogFile); err == nil {
			os.Stderr.Write(b)
		}
	}
	p.Stop()
	az.Stop()
	os.Exit(code)
}

var hubSeq atomic.Int64

// newHub creates an event hub with n partitions (and the consumer groups) for the test.
func newHub(t *testing.T, n int, groups ...string) string {
	t.Helper()
	name := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	name = fmt.Sprintf("%s-%d", strings.Trim(name, "-"), hubSeq.Add(1))
	if err := peer.CreateEntities(tctx(t), amqppeer.Config{EventHubs: []amqppeer.EventHub{{Name: name, Partitions: n, ConsumerGroups: groups}}}); err != nil {
		t.Fatal(err)
	}
	return name
}

func tctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func producerFor(t *testing.T, hub string) *azeventhubs.ProducerClient {
	t.Helper()
	p, err := azeventhubs.NewProducerClientFromConnectionString(peer.ConnectionString, hub, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// send sends bodies to one partition ("" lets the service choose), as one batch.
func send(t *testing.T, hub, partition string, bodies ...string) {
	t.Helper()
	sendEvents(t, hub, partition, nil, bodies...)
}

func sendEvents(t *testing.T, hub, partition string, props map[string]any, bodies ...string) {
	t.Helper()
	p := producerFor(t, hub)
	opts := &azeventhubs.EventDataBatchOptions{}
	if partition != "" {
		opts.PartitionID = to.Ptr(partition)
	}
	b, err := p.NewEventDataBatch(tctx(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range bodies {
		if err := b.AddEventData(&azeventhubs.EventData{Body: []byte(body), Properties: props}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SendEventDataBatch(tctx(t), b, nil); err != nil {
		t.Fatal(err)
	}
}

// fqns is the namespace as the SDK names it for the peer (host:port).
func fqns() string { return fmt.Sprintf("127.0.0.1:%d", peer.Port) }

// checkpointContainer is the azure-webjobs-eventhub container on Azurite.
func checkpointContainer(t *testing.T) *container.Client {
	t.Helper()
	sc, err := service.NewClientFromConnectionString(azurite.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc.NewContainerClient("azure-webjobs-eventhub")
}

// hostStorage is the azure-webjobs-hosts container the hosts use (dead letters).
func hostStorage(t *testing.T) *hoststore.Store {
	t.Helper()
	sc, err := service.NewClientFromConnectionString(azurite.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hoststore.New(sc.NewContainerClient(hoststore.Container))
}

// checkpointSeq reads the sequence number of a partition's checkpoint blob (-1 when none).
func checkpointSeq(t *testing.T, hub, group, pid string) int64 {
	t.Helper()
	name := strings.ToLower(fmt.Sprintf("%s/%s/%s/checkpoint/%s", fqns(), hub, group, pid))
	props, err := checkpointContainer(t).NewBlobClient(name).GetProperties(tctx(t), nil)
	if err != nil {
		return -1
	}
	for k, v := range props.Metadata {
		if strings.EqualFold(k, "sequencenumber") && v != nil {
			var n int64
			fmt.Sscan(*v, &n)
			return n
		}
	}
	return -1
}

type hostOpts struct {
	ext      map[string]any // extensions.eventHubs
	retry    *extension.RetryPolicy
	hostID   string
	settings map[string]string
	shutdown time.Duration
	storage  extension.HostStorage // default: AzureWebJobsStorage's azure-webjobs-hosts
	// defaultLB keeps the load-balancing intervals at their defaults (10 s, 30 s) instead of fastLB's.
	defaultLB bool
}

// fastLB are host.json settings that make ownership changes quick in tests.
func fastLB(extra map[string]any) map[string]any {
	m := map[string]any{"loadBalancingUpdateInterval": "00:00:00.5", "partitionOwnershipExpirationInterval": "00:00:03"}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

type testHost struct {
	h    *extension.Host
	logs *logBuffer
	stop func() error
}

// startHost starts a host with the peer as connection "EventHubConn" and Azurite as
// AzureWebJobsStorage; declare adds the functions.
func startHost(t *testing.T, o hostOpts, declare func(h *extension.Host) error) *testHost {
	t.Helper()
	kv := map[string]string{"AzureWebJobsStorage": azurite.ConnectionString, "EventHubConn": peer.ConnectionString}
	for k, v := range o.settings {
		kv[k] = v
	}
	if o.hostID == "" {
		o.hostID = "ehtest"
	}
	if o.shutdown == 0 {
		o.shutdown = 10 * time.Second
	}
	ext := o.ext
	if !o.defaultLB {
		ext = fastLB(o.ext)
	}
	logs := &logBuffer{}
	run := testhost.Start(t, extension.HostOptions{
		Settings:        connection.NewSettings(connection.FromMap("test", kv)),
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HostConfig:      &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"eventHubs": ext}, Retry: o.retry},
		ShutdownTimeout: o.shutdown,
		HostID:          o.hostID,
		Storage:         o.storage,
	}, testhost.RunOptions{Logs: logs}, declare)
	return &testHost{h: run.Host, logs: logs, stop: run.Stop}
}

// waitFor polls cond every 25 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// recorder collects what handlers saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(s ...string) {
	r.mu.Lock()
	r.seen = append(r.seen, s...)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// logBuffer is a concurrency-safe slog destination.
type logBuffer = testlog.Buffer

// bodies returns the bodies as strings.
func bodiesOf(evs []*azeventhubs.ReceivedEventData) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Body))
	}
	return out
}
