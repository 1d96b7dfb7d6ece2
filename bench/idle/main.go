// Command idle measures what an idle host costs and how fast it reacts at low load, against a
// local Azurite behind a counting reverse proxy (every request the host makes is counted; the
// benchmark's own setup and load go to Azurite directly and are not).
//
//	go run ./bench/idle [-blobs 10000] [-quiet 60s] [-window 60s] [-steady 100] [-burst 20]
//
// The host has one queue trigger (queue "idle-q", whose function also declares a table output and
// a blob output that stay unused) and one blob trigger on a container that holds -blobs blobs
// (startFrom firstStart, so they are not processed), all with default settings; with -seven (the
// default) also one function each of the other connectors: a Service Bus queue trigger and an
// Event Hubs trigger (2 partitions) on the amqp-peer, a Cosmos DB trigger on the cosmos launcher
// (plain HTTP) and an Event Grid trigger (a webhook: nothing at rest). Storage requests (Azurite)
// are counted by the proxy, Cosmos DB requests by a counting transport in the host's connection
// resolver; AMQP traffic (Service Bus receives, Event Hubs links) is not HTTP and not counted. The
// command prints, in one run:
//
//   - idle cost: requests per minute over -window, after -quiet of quiet, by kind of request, next
//     to the rate of the Functions defaults computed from their documented intervals;
//   - first message after idle: enqueue → invocation, with the queue listener at its back-off cap
//     (up to maxPollingInterval, 1 minute by default), and first blob after idle (up to the idle
//     scan interval plus a sweep);
//   - steady queue latency at one message every 200 ms (p50/p95/p99);
//   - blob detection while a burst of blobs arrives (random 0–1 s gaps, as bench/blob): p50/p95.
//
// Shorter runs: -blobs 2000 -quiet 20s -window 30s -steady 50 -burst 10.
package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/bench/internal/benchutil"
	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/table"
)

var (
	nBlobs  = flag.Int("blobs", 10000, "blobs already in the watched container")
	quiet   = flag.Duration("quiet", time.Minute, "quiet time before the idle window")
	window  = flag.Duration("window", time.Minute, "idle window whose requests are counted")
	steady  = flag.Int("steady", 100, "messages sent one every -every for the steady latency")
	every   = flag.Duration("every", 200*time.Millisecond, "gap between steady messages")
	burst   = flag.Int("burst", 20, "blobs uploaded with random 0–1 s gaps for the detection latency")
	verbose = flag.Bool("v", false, "log the host at info level and every counted request")
	seven   = flag.Bool("seven", true, "add one function each of servicebus, eventhubs, cosmos and eventgrid")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/idle:", err)
		os.Exit(1)
	}
}

const (
	queueName = "idle-q"
	contName  = "idle"
	hostID    = "idlehost"
)

func run() error {
	az, err := emulator.LaunchAzurite(nil)
	if err != nil {
		return err
	}
	defer az.Stop()
	ctx := context.Background()

	// Direct clients for setup and load (not counted).
	svc, err := service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	qsvc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		return err
	}
	q := qsvc.NewQueueClient(queueName)
	if _, err := q.Create(ctx, nil); err != nil {
		return err
	}
	if _, err := svc.NewContainerClient(contName).Create(ctx, nil); err != nil {
		return err
	}
	t0 := time.Now()
	if err := benchutil.FillContainer(ctx, svc, contName, *nBlobs); err != nil {
		return err
	}
	fmt.Printf("container %s: %d blobs uploaded in %s\n", contName, *nBlobs, time.Since(t0).Round(time.Millisecond))
	// startFrom firstStart starts one second before the service's clock at the first listing:
	// let the last uploads fall outside it, so that the host starts with nothing to do.
	time.Sleep(2 * time.Second)

	// The counting proxy: one listener per service.
	cnt := &counter{m: map[string]int{}, verbose: *verbose}
	var eps [3]string
	for i, target := range []string{az.BlobEndpoint, az.QueueEndpoint, az.TableEndpoint} {
		ep, stop, err := proxy(target, []string{"blob", "queue", "table"}[i], cnt)
		if err != nil {
			return err
		}
		defer stop()
		eps[i] = ep
	}
	conn := fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;QueueEndpoint=%s;TableEndpoint=%s;",
		az.AccountName, az.AccountKey, eps[0], eps[1], eps[2])

	values := map[string]string{"AzureWebJobsStorage": conn}
	var sevenFuncs func(h *extension.Host) error
	if *seven {
		stop, err := startSeven(ctx, values, cnt)
		if err != nil {
			return err
		}
		defer stop()
		sevenFuncs = declareSeven
	}

	var mu sync.Mutex
	gotMsg := map[string]time.Time{}
	gotBlob := map[string]time.Time{}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	settings := connection.NewSettings(connection.FromMap("idle", values))
	h, err := extension.NewHost(extension.HostOptions{
		Settings: settings,
		// The counting transport sees every SDK HTTP request; it counts those to Cosmos DB (the
		// storage ones are counted by the proxy).
		Connections: connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: &countingTransport{c: cnt, host: values["cosmosHost"]}}}),
		HostID:      hostID,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		HostConfig:  &extension.HostConfig{Version: "2.0", Extensions: map[string]map[string]any{"blobs": {"startFrom": "firstStart"}}},
	})
	if err != nil {
		return err
	}
	type params struct {
		Msg  string                               `azbind:"msg"`
		Rows *extension.Collector[map[string]any] `azbind:"rows"`
		File *extension.Collector[string]         `azbind:"file"`
	}
	err = h.Func("OnMessage", extension.Action(func(ctx context.Context, p params) error {
		now := time.Now()
		mu.Lock()
		gotMsg[p.Msg] = now
		mu.Unlock()
		return nil // the outputs stay unused
	}), queue.Trigger("msg", queueName),
		table.Output("rows", "IdleRows", driver.Props{"partitionKey": "p", "rowKey": "{rand-guid}"}),
		blob.Output("file", "idle-out/{rand-guid}"))
	if err != nil {
		return err
	}
	err = h.Func("OnBlob", extension.Action(func(ctx context.Context, b []byte) error {
		now := time.Now()
		name, _ := extension.FromContext(ctx).Metadata.Lookup("name")
		mu.Lock()
		gotBlob[name.(string)] = now
		mu.Unlock()
		return nil
	}), blob.Trigger("input", contName+"/{name}"))
	if err != nil {
		return err
	}
	if sevenFuncs != nil {
		if err := sevenFuncs(h); err != nil {
			return err
		}
	}
	hctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(hctx) }()
	defer func() { cancel(); <-done }()

	stat := func() blob.ScannerStat {
		for _, s := range blob.ScannerStats(h.Services()) {
			if s.Container == contName {
				return s
			}
		}
		return blob.ScannerStat{}
	}
	if err := benchutil.WaitUntil(120*time.Second, func() bool { return stat().Sweeps >= 1 }); err != nil {
		return fmt.Errorf("first sweep: %w", err)
	}
	fmt.Printf("host started; first sweep of %d blobs took %s; quiet for %s, then counting for %s\n",
		*nBlobs, stat().LastSweep.Round(time.Millisecond), *quiet, *window)

	// Idle cost.
	time.Sleep(*quiet)
	c0, s0 := cnt.snapshot(), stat()
	w0 := time.Now()
	time.Sleep(*window)
	c1, s1 := cnt.snapshot(), stat()
	mins := time.Since(w0).Minutes()
	total := 0
	var kinds []string
	for k, v := range c1 {
		if d := v - c0[k]; d > 0 {
			kinds = append(kinds, k)
			total += d
		}
	}
	sort.Strings(kinds)
	what := "1 queue trigger, 1 blob trigger on %d blobs, unused table and blob outputs"
	if *seven {
		what += "; 1 Service Bus, 1 Event Hubs (2 partitions), 1 Cosmos DB and 1 Event Grid trigger"
	}
	fmt.Printf("\nidle cost ("+what+"), after %s of quiet:\n", *nBlobs, *quiet)
	fmt.Printf("  azbind: %.1f requests/minute (%d in %s)\n", float64(total)/mins, total, time.Since(w0).Round(time.Second))
	for _, k := range kinds {
		fmt.Printf("    %-52s %6.1f/min\n", k, float64(c1[k]-c0[k])/mins)
	}
	fmt.Printf("    scanner: %d sweeps, %d list calls, %d scan-info writes; interval now %s\n",
		s1.Sweeps-s0.Sweeps, s1.ListCalls-s0.ListCalls, s1.ScanInfoWrites-s0.ScanInfoWrites, s1.Interval)
	pages := (*nBlobs + 4999) / 5000
	fn := []struct {
		what string
		rate float64
	}{
		{"queue trigger: 1 receive per maxPollingInterval (1 min)", 1},
		{fmt.Sprintf("blob scan: every 10 s, %d List Blobs of ≤5,000", pages), 6 * float64(pages)},
		{"blob logs: every 10 s, list $logs for this and the last hour", 12},
		{"blob internal queue: 1 receive per maxPollingInterval (1 min)", 1},
		{"blob listener lock: 1-min lease renewed at half", 2},
	}
	sum := 0.0
	for _, f := range fn {
		sum += f.rate
	}
	fmt.Printf("  Functions defaults (computed from documented intervals): %.0f requests/minute\n", sum)
	for _, f := range fn {
		fmt.Printf("    %-64s %4.0f/min\n", f.what, f.rate)
	}

	// First message and first blob after idle (sent together).
	sendMsg := func(id string) (time.Time, error) {
		_, err := q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(id)), nil)
		return time.Now(), err
	}
	putBlob := func(name string) (time.Time, error) {
		_, err := svc.NewContainerClient(contName).NewBlockBlobClient(name).UploadBuffer(ctx, []byte(name), nil)
		return time.Now(), err
	}
	fmt.Printf("\nlatency:\n")
	sentM, err := sendMsg("first")
	if err != nil {
		return err
	}
	sentB, err := putBlob("first")
	if err != nil {
		return err
	}
	if err := benchutil.WaitUntil(3*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, a := gotMsg["first"]
		_, b := gotBlob["first"]
		return a && b
	}); err != nil {
		return fmt.Errorf("first after idle: %w", err)
	}
	mu.Lock()
	fmt.Printf("  first message after idle: %s (bounded by maxPollingInterval, default 1 min)\n", gotMsg["first"].Sub(sentM).Round(time.Millisecond))
	fmt.Printf("  first blob after idle:    %s (bounded by the idle scan interval, default 10 s, plus a sweep)\n", gotBlob["first"].Sub(sentB).Round(time.Millisecond))
	mu.Unlock()

	// Steady queue latency.
	sent := make([]time.Time, *steady)
	tick := time.NewTicker(*every)
	for i := 0; i < *steady; i++ {
		<-tick.C
		if sent[i], err = sendMsg(fmt.Sprintf("m%d", i)); err != nil {
			return err
		}
	}
	tick.Stop()
	if err := benchutil.WaitUntil(time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < *steady; i++ {
			if _, ok := gotMsg[fmt.Sprintf("m%d", i)]; !ok {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("steady messages: %w", err)
	}
	var lat []time.Duration
	mu.Lock()
	for i := 0; i < *steady; i++ {
		lat = append(lat, gotMsg[fmt.Sprintf("m%d", i)].Sub(sent[i]))
	}
	mu.Unlock()
	fmt.Printf("  queue, one message every %s (%d): p50 %s  p95 %s  p99 %s\n", *every, len(lat), benchutil.Pct(lat, 50), benchutil.Pct(lat, 95), benchutil.Pct(lat, 99))

	// Blob detection while a burst arrives: a first blob wakes the scanner from its idle interval
	// (not counted), then blobs arrive 0–1 s apart; they alternate between the start and the end
	// of the container's key space (the first and the last List Blobs page).
	if _, err := putBlob("burst-wake"); err != nil {
		return err
	}
	if err := benchutil.WaitUntil(time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); _, ok := gotBlob["burst-wake"]; return ok }); err != nil {
		return fmt.Errorf("burst: %w", err)
	}
	var blat []time.Duration
	for i := 0; i < *burst; i++ {
		time.Sleep(time.Duration(rand.IntN(1000)) * time.Millisecond)
		name := fmt.Sprintf("a-burst-%03d", i)
		if i%2 == 1 {
			name = fmt.Sprintf("z-burst-%03d", i)
		}
		up, err := putBlob(name)
		if err != nil {
			return err
		}
		if err := benchutil.WaitUntil(time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); _, ok := gotBlob[name]; return ok }); err != nil {
			return fmt.Errorf("burst blob %s: %w", name, err)
		}
		mu.Lock()
		blat = append(blat, gotBlob[name].Sub(up))
		mu.Unlock()
	}
	st := stat()
	fmt.Printf("  blob scan during a burst (%d blobs, 0–1 s apart, %d-blob container): p50 %s  p95 %s  max %s (last sweep %s)\n",
		len(blat), *nBlobs, benchutil.Pct(blat, 50), benchutil.Pct(blat, 95), benchutil.Pct(blat, 100), st.LastSweep.Round(time.Millisecond))
	return nil
}

// counter counts proxied requests by kind.
type counter struct {
	mu      sync.Mutex
	m       map[string]int
	verbose bool
}

func (c *counter) add(k string) {
	c.mu.Lock()
	c.m[k]++
	c.mu.Unlock()
	if c.verbose {
		fmt.Fprintf(os.Stderr, "%s request: %s\n", time.Now().Format("15:04:05.000"), k)
	}
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// kind names a request: service, operation and the container or queue it addresses.
func kind(svc string, r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/") // account/container/blob…
	res := ""
	if len(parts) > 1 {
		res = parts[1]
	}
	qv := r.URL.Query()
	op := r.Method
	switch svc {
	case "blob":
		switch {
		case qv.Get("comp") == "list":
			op = "List Blobs"
		case qv.Get("comp") == "lease":
			op = "lease " + strings.ToLower(r.Header.Get("x-ms-lease-action"))
		case r.Method == http.MethodPut:
			op = "write"
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			op = "read"
		}
		if len(parts) > 2 && res == "azure-webjobs-hosts" {
			res += "/" + parts[2]
		}
	case "queue":
		msgs := len(parts) > 2 && parts[2] == "messages"
		switch {
		case msgs && r.Method == http.MethodGet && qv.Get("peekonly") == "":
			op = "receive"
		case msgs && r.Method == http.MethodPost:
			op = "send"
		case msgs:
			op = "settle (" + r.Method + ")"
		}
	}
	return svc + ": " + op + " " + res
}

// proxy starts a counting reverse proxy to target (an Azurite endpoint with the account path)
// and returns the endpoint to use instead.
func proxy(target, svc string, c *counter) (string, func(), error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			c.add(kind(svc, pr.In))
			pr.Out.URL.Scheme, pr.Out.URL.Host, pr.Out.Host = u.Scheme, u.Host, u.Host
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 4 * time.Second},
	}
	srv := &http.Server{Handler: rp}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + u.Path, func() { _ = srv.Close() }, nil
}
