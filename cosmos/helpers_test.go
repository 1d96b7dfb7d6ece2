package cosmos

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/testhost"
)

// feed is the launcher every test of the package uses (4 feed ranges, so that leases can be
// shared between hosts).
var feed *emulator.CosmosFeed

const waitLong = 30 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(killHelperEnv) != "" {
		os.Exit(runKillHelper())
	}
	f, err := emulator.LaunchCosmosFeed(&emulator.CosmosFeedOptions{Ranges: 4})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cosmos tests:", err)
		os.Exit(1)
	}
	feed = f
	code := m.Run()
	stopPlainLauncher()
	if err := f.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "cosmos tests: stopping the launcher:", err)
	}
	os.Exit(code)
}

var dbSeq atomic.Int64

// env is one test's database with a monitored container "items" (/pk) and a lease container
// "leases" (/id).
type env struct {
	t      testing.TB
	db     string
	client *azcosmos.Client
	items  *azcosmos.ContainerClient
	leases *azcosmos.ContainerClient
}

func testClient(t testing.TB, endpoint, key string, tr *http.Client) *azcosmos.Client {
	t.Helper()
	cred, err := azcosmos.NewKeyCredential(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azcosmos.NewClientWithKey(endpoint, cred, &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, db: fmt.Sprintf("db%d", dbSeq.Add(1)), client: testClient(t, feed.Endpoint, feed.Key, feed.HTTPClient)}
	ctx := context.Background()
	if err := ensureContainer(ctx, e.client, e.db, "items", "/pk", 0); err != nil {
		t.Fatal(err)
	}
	if err := ensureContainer(ctx, e.client, e.db, "leases", "/id", 0); err != nil {
		t.Fatal(err)
	}
	e.items, _ = e.client.NewContainer(e.db, "items")
	e.leases, _ = e.client.NewContainer(e.db, "leases")
	return e
}

type testDoc struct {
	ID string `json:"id"`
	PK string `json:"pk"`
	N  int    `json:"n"`
}

func (d testDoc) key() string { return fmt.Sprintf("%s:%d", d.ID, d.N) }

func (e *env) write(docs ...testDoc) {
	e.t.Helper()
	for _, d := range docs {
		b, _ := json.Marshal(d)
		if _, err := e.items.UpsertItem(context.Background(), azcosmos.NewPartitionKeyString(d.PK), b, nil); err != nil {
			e.t.Fatalf("writing %v: %v", d, err)
		}
	}
}

// docs returns n documents d<from>..d<from+n-1> spread over 8 partition keys.
func docs(from, n int) []testDoc {
	out := make([]testDoc, n)
	for i := range out {
		k := from + i
		out[i] = testDoc{ID: fmt.Sprintf("d%03d", k), PK: fmt.Sprintf("p%d", k%8), N: k}
	}
	return out
}

func (e *env) leaseDocs() []*leaseDoc {
	e.t.Helper()
	pager := e.leases.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	var out []*leaseDoc
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, it := range page.Items {
			var l leaseDoc
			if err := json.Unmarshal(it, &l); err != nil {
				e.t.Fatal(err)
			}
			if strings.Contains(l.ID, "..") {
				out = append(out, &l)
			}
		}
	}
	return out
}

// fast are the trigger's timing properties for tests.
func fast(extra ...map[string]any) map[string]any {
	p := map[string]any{"leaseAcquireInterval": 100, "leaseRenewInterval": 200, "leaseExpirationInterval": 1500, "feedPollDelay": 30}
	for _, m := range extra {
		for k, v := range m {
			p[k] = v
		}
	}
	return p
}

func settings() *connection.Settings {
	return connection.NewSettings(connection.FromMap("test", map[string]string{"CosmosDB": feed.ConnectionString, "Source": "items"}))
}

func resolver(s *connection.Settings) *connection.Resolver {
	return connection.NewResolver(s, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: feed.HTTPClient}})
}

type hostOpts struct {
	id      string
	storage extension.HostStorage
	cfg     *extension.HostConfig
	logger  *slog.Logger
}

func newHost(t testing.TB, o hostOpts) *extension.Host {
	t.Helper()
	s := settings()
	if o.storage == nil {
		o.storage = extension.NewMemoryStorage()
	}
	if o.id == "" {
		o.id = "cosmostest"
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	h, err := extension.NewHost(extension.HostOptions{Settings: s, Connections: resolver(s), Logger: o.logger, HostID: o.id,
		Storage: o.storage, HostConfig: o.cfg, ShutdownTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run starts h; the returned stop cancels it and waits for Run (also at cleanup).
func run(t testing.TB, h *extension.Host) (stop func()) {
	t.Helper()
	r := testhost.Run(t, h, testhost.RunOptions{StopWait: waitLong}) // (reports Run's error at cleanup)
	return func() { _ = r.Stop() }
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder collects what handlers received.
type recorder struct {
	mu      sync.Mutex
	seen    map[string]int      // doc key → deliveries
	byHost  map[string]int      // host → documents
	batches []int               // batch sizes
	perPK   map[string][]int    // pk → n in delivery order
	hostsOf map[string][]string // doc key → hosts
}

func newRecorder() *recorder {
	return &recorder{seen: map[string]int{}, byHost: map[string]int{}, perPK: map[string][]int{}, hostsOf: map[string][]string{}}
}

func (r *recorder) add(host string, batch []testDoc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, len(batch))
	for _, d := range batch {
		r.seen[d.key()]++
		r.byHost[host]++
		r.perPK[d.PK] = append(r.perPK[d.PK], d.N)
		r.hostsOf[d.key()] = append(r.hostsOf[d.key()], host)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) has(keys ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		if r.seen[k] == 0 {
			return false
		}
	}
	return true
}

// exactlyOnce fails unless every document of want was delivered exactly once and nothing else.
func (r *recorder) exactlyOnce(t testing.TB, want []testDoc) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	w := map[string]bool{}
	for _, d := range want {
		w[d.key()] = true
		if n := r.seen[d.key()]; n != 1 {
			t.Errorf("%s delivered %d times (hosts %v)", d.key(), n, r.hostsOf[d.key()])
		}
	}
	var extra []string
	for k := range r.seen {
		if !w[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("unexpected documents delivered: %v", extra)
	}
}

func keys(ds []testDoc) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.key()
	}
	return out
}

// caCertPool parses the launcher's CA (for the kill helper, a separate process).
func transportFromPEM(pemBytes []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

// testWriter sends log lines to the test's log (warnings and errors of the hosts under test).
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
