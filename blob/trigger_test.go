package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/azbind/azbind/extension/driver"
)

// C31: a blob version triggers once; a new version (new ETag) triggers again.
func TestTriggerOncePerVersion(t *testing.T) {
	c := unique("once")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "Once", c+"/{name}", rec, nil, nil)

	upload(t, c, "a.txt", []byte("v1"))
	waitFor(t, 15*time.Second, "first invocation", func() bool { return rec.count(c+"/a.txt") == 1 })
	upload(t, c, "a.txt", []byte("v2"))
	waitFor(t, 15*time.Second, "second invocation for the new version", func() bool { return rec.count(c+"/a.txt") == 2 })
	// Several more sweeps must not invoke again.
	// Absence check, in a bounded window: more sweeps within 3 s must not invoke again.
	time.Sleep(3 * time.Second)
	if n := rec.count(c + "/a.txt"); n != 2 {
		t.Fatalf("invocations for a.txt = %d, want 2 (one per version)", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := string(rec.datas[0]) + "," + string(rec.datas[1]); got != "v1,v2" {
		t.Fatalf("contents = %s, want v1,v2", got)
	}
	// C31: receipts in the real layout, complete (no Incomplete metadata).
	fnID := "Host.Functions.Once"
	pager := svc.NewContainerClient(HostsContainer).NewListBlobsFlatPager(nil)
	var receiptsFound []string
	prefix := "blobreceipts/" + host.HostID + "/" + fnID + "/"
	for pager.More() {
		p, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Segment.BlobItems {
			if strings.HasPrefix(*it.Name, prefix) {
				receiptsFound = append(receiptsFound, *it.Name)
			}
		}
	}
	if len(receiptsFound) != 2 {
		t.Fatalf("receipts = %v, want 2 under %s", receiptsFound, prefix)
	}
	for _, r := range receiptsFound {
		rest := strings.TrimPrefix(r, prefix)
		etag, tail, _ := strings.Cut(rest, "/")
		if !strings.HasPrefix(etag, "\"0x") || tail != c+"/a.txt" {
			t.Errorf("receipt %q: want <\"etag\">/%s/a.txt", r, c)
		}
		props, err := svc.NewContainerClient(HostsContainer).NewBlobClient(r).GetProperties(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if isIncomplete(props.Metadata) {
			t.Errorf("receipt %s still Incomplete", r)
		}
	}
	// Scan info persisted in the real layout.
	si := scanInfoName(host.HostID, "devstoreaccount1", c)
	resp, err := svc.NewContainerClient(HostsContainer).NewBlobClient(si).DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatalf("scan info %s: %v", si, err)
	}
	var info map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := info["LatestScan"].(string); !ok {
		t.Fatalf("scan info = %v, want {\"LatestScan\": \"<time>\"}", info)
	}
}

// C28, C29: captures, escapes and metadata; non-matching blobs are ignored.
func TestTriggerCapturesAndMetadata(t *testing.T) {
	c := unique("caps")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	tr := startTrigger(t, host, "Caps", c+"/in/{{x}}-{folder}/{file}.{ext}", rec, nil, nil)
	if got, want := strings.Join(tr.trig.BindingData(), ","), "BlobTrigger,Uri,Properties,Metadata,folder,file,ext"; got != want {
		t.Fatalf("BindingData = %s, want %s", got, want)
	}
	ctx := context.Background()
	_, err := svc.NewContainerClient(c).NewBlockBlobClient("in/{x}-2024/report.final.csv").UploadBuffer(ctx, []byte("a,b"), &blockblob.UploadBufferOptions{
		Metadata: map[string]*string{"Owner": to.Ptr("alice")},
	})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, c, "in/nomatch.csv", []byte("x"))    // no {x}- prefix
	upload(t, c, "out/{x}-1/a.csv", []byte("x"))   // other prefix
	upload(t, c, "in/{x}-2024/noext", []byte("x")) // no dot
	waitFor(t, 15*time.Second, "invocation", func() bool { return rec.total() >= 1 })
	// Absence check, in a bounded window: more sweeps within 2.5 s must leave the others ignored.
	time.Sleep(2500 * time.Millisecond) // more sweeps: the others must stay ignored
	if rec.total() != 1 {
		t.Fatalf("invocations = %v, want only the matching blob", rec.calls)
	}
	ev := rec.events[0]
	want := map[string]string{"folder": "2024", "file": "report.final", "ext": "csv", "BlobTrigger": c + "/in/{x}-2024/report.final.csv"}
	for k, v := range want {
		got, ok := ev.Metadata.Lookup(k)
		if !ok || got != v {
			t.Errorf("metadata %s = %v, want %q (greedy captures)", k, got, v)
		}
	}
	uri, _ := ev.Metadata.Lookup("uri")
	if s, _ := uri.(string); !strings.HasPrefix(s, az.BlobEndpoint+"/"+c+"/in/") {
		t.Errorf("Uri = %v", uri)
	}
	p, _ := ev.Metadata.Lookup("Properties")
	props, ok := p.(Properties)
	if !ok || props.ContentLength != 3 || props.ETag == "" || props.LastModified.IsZero() || props.BlobType != "BlockBlob" {
		t.Errorf("Properties = %+v", p)
	}
	m, _ := ev.Metadata.Lookup("Metadata")
	if md, _ := m.(map[string]string); md["Owner"] != "alice" {
		t.Errorf("Metadata = %v, want Owner=alice", m)
	}
	if string(ev.Data.([]byte)) != "a,b" {
		t.Errorf("Data = %q", ev.Data)
	}
}

// C33: after poisonBlobThreshold failures the blob is reported to webjobs-blobtrigger-poison.
func TestTriggerPoison(t *testing.T) {
	c := unique("poison")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	rec.fail = func(*driver.Event) error { return errors.New("boom") }
	startTrigger(t, host, "Poisoned", c+"/{name}", rec, map[string]any{"poisonBlobThreshold": float64(3)}, nil)
	upload(t, c, "bad.json", []byte(`{}`))
	props, err := svc.NewContainerClient(c).NewBlobClient("bad.json").GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pq := qsvc.NewQueueClient(PoisonQueueName)
	var found *Message
	waitFor(t, 30*time.Second, "poison message", func() bool {
		resp, err := pq.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
		if err != nil {
			return false
		}
		for _, m := range resp.Messages {
			msg, err := DecodeMessage(*m.MessageText)
			if err == nil && msg.ContainerName == c {
				found = msg
				return true
			}
		}
		return false
	})
	want := Message{Type: "BlobTrigger", FunctionID: "Host.Functions.Poisoned", BlobType: "BlockBlob", ContainerName: c, BlobName: "bad.json", ETag: etagString(props.ETag)}
	if *found != want {
		t.Fatalf("poison message = %+v, want %+v", *found, want)
	}
	if n := rec.count(c + "/bad.json"); n != 3 {
		t.Fatalf("attempts = %d, want poisonBlobThreshold = 3", n)
	}
	// Absence check, in a bounded window: no attempt after poisoning within 2 s.
	time.Sleep(2 * time.Second)
	if n := rec.count(c + "/bad.json"); n != 3 {
		t.Fatalf("attempts after poisoning = %d, want 3", n)
	}
}

// A restarted host (same host ID) neither loses nor repeats work: 1,000 processed blobs are not
// processed again, whether the scan watermark is there or not (receipts).
func TestTriggerRestartNoReprocess(t *testing.T) {
	const n = 1000
	c := unique("restart")
	createContainer(t, c)
	hostID := unique("h")
	tu := time.Now()
	uploadMany(t, c, n, func(i int) string { return fmt.Sprintf("b/%04d.txt", i) })
	t.Logf("uploaded %d blobs in %s", n, time.Since(tu))
	t.Cleanup(func() { t.Logf("cleanup at %s", time.Since(tu)) })

	rec := newRecorder()
	t0 := time.Now()
	r1 := startTrigger(t, newServices(t, hostID), "Restart", c+"/b/{name}", rec, nil, nil)
	waitFor(t, 120*time.Second, "all blobs processed", func() bool { return rec.distinct() == n })
	t.Logf("processed %d blobs in %s", n, time.Since(t0))
	r1.stop(t)
	t.Logf("stopped after %s", time.Since(t0))
	if d := rec.duplicates(); len(d) > 0 {
		t.Fatalf("duplicates: %v", d)
	}

	for _, dropScanInfo := range []bool{false, true} {
		if dropScanInfo {
			_, err := svc.NewContainerClient(HostsContainer).NewBlobClient(scanInfoName(hostID, "devstoreaccount1", c)).Delete(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		rec2 := newRecorder()
		host2 := newServices(t, hostID)
		r2 := startTrigger(t, host2, "Restart", c+"/b/{name}", rec2, nil, nil)
		extra := fmt.Sprintf("b/new-%v.txt", dropScanInfo)
		upload(t, c, extra, []byte("new"))
		waitFor(t, 30*time.Second, "the new blob after restart", func() bool { return rec2.count(c+"/"+extra) == 1 })
		t.Logf("new blob processed after %s", time.Since(t0))
		// Wait for two more complete sweeps, then nothing old may have run.
		s := currentScanner(host2, c)
		sw := s.stats().Sweeps
		waitFor(t, 30*time.Second, "two more sweeps", func() bool { return s.stats().Sweeps >= sw+2 })
		if got := rec2.total(); got != 1 {
			t.Fatalf("scan info dropped=%v: %d invocations after restart, want 1 (only the new blob)", dropScanInfo, got)
		}
		t.Logf("sweeps done after %s (last sweep %s)", time.Since(t0), s.stats().LastSweep)
		r2.stop(t)
		t.Logf("stopped after %s", time.Since(t0))
	}
}

func currentScanner(host *driver.Services, containerName string) *scanner {
	st, err := stateFor(context.Background(), host)
	if err != nil {
		return nil
	}
	var found *scanner
	st.scanners.each(func(k scanKey, s *scanner) {
		if k.container == containerName {
			found = s
		}
	})
	return found
}

// Two hosts sharing a host ID process every blob exactly once between them.
func TestTriggerTwoHostsExactlyOnce(t *testing.T) {
	const n = 200
	c := unique("two")
	createContainer(t, c)
	hostID := unique("h")
	rec := newRecorder()
	a := newRecorder()
	b := newRecorder()
	both := func(r *recorder) driver.Executor {
		return execFunc(func(ctx context.Context, ev *driver.Event) driver.Result {
			r.Execute(ctx, ev)
			return rec.Execute(ctx, ev)
		})
	}
	hostA, hostB := newServices(t, hostID), newServices(t, hostID)
	// A short back-off cap so that the host that does not scan picks up work promptly.
	cfg := map[string]any{"maxPollingInterval": "00:00:00.2"}
	ra := startTrigger(t, hostA, "Shared", c+"/{name}", both(a), cfg, nil)
	rb := startTrigger(t, hostB, "Shared", c+"/{name}", both(b), cfg, nil)
	uploadMany(t, c, n, func(i int) string { return fmt.Sprintf("%03d", i) })
	waitFor(t, 60*time.Second, "all blobs", func() bool { return rec.distinct() == n })
	// Absence check, in a bounded window: no duplicate across hosts within 3 s.
	time.Sleep(3 * time.Second)
	if d := rec.duplicates(); len(d) > 0 {
		t.Fatalf("duplicates across hosts: %v", d)
	}
	if rec.total() != n {
		t.Fatalf("total invocations = %d, want %d", rec.total(), n)
	}
	t.Logf("host A ran %d, host B ran %d", a.total(), b.total())
	if a.total() == 0 || b.total() == 0 {
		t.Errorf("work was not shared through the internal queue: A=%d B=%d", a.total(), b.total())
	}
	// Only one host scans (the scan lock); when it stops, the other takes over.
	sa, sb := currentScanner(hostA, c), currentScanner(hostB, c)
	if sa.leader.Load() == sb.leader.Load() {
		t.Fatalf("scan leaders: A=%v B=%v, want exactly one", sa.leader.Load(), sb.leader.Load())
	}
	// The lock is a lease (driver.HoldLease on hoststore) on the real host's lock blob.
	props, err := svc.NewContainerClient(HostsContainer).NewBlobClient("locks/"+hostID+"/WebJobs.Internal.Blobs."+c+".Listener").GetProperties(context.Background(), nil)
	if err != nil || props.LeaseState == nil || *props.LeaseState != "leased" || props.LeaseDuration == nil || *props.LeaseDuration != "fixed" {
		t.Fatalf("scan lock blob: %+v, %v", props, err)
	}
	leader, follower, fr := ra, sb, b
	if sb.leader.Load() {
		leader, follower, fr = rb, sa, a
	}
	leader.stop(t)
	before := fr.total()
	upload(t, c, "after-failover", []byte("x"))
	waitFor(t, 20*time.Second, "the remaining host to take over the scan", func() bool { return rec.count(c+"/after-failover") == 1 })
	if !follower.leader.Load() || fr.total() != before+1 {
		t.Fatalf("after failover: leader=%v, remaining host ran %d (before %d)", follower.leader.Load(), fr.total(), before)
	}
}

// startFrom: firstStart ignores blobs that existed before the first start; a time ignores older ones.
func TestTriggerStartFrom(t *testing.T) {
	c := unique("start")
	createContainer(t, c)
	upload(t, c, "old.txt", []byte("old"))
	// Not synchronisation: LastModified has a 1-s resolution and the first watermark keeps a second
	// of margin, so the blob must be more than 2 s older than the start.
	time.Sleep(2100 * time.Millisecond)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "FromFirstStart", c+"/{name}", rec, map[string]any{"startFrom": "firstStart"}, nil)
	s := waitScanner(t, host, c, 1)
	_ = s
	upload(t, c, "new.txt", []byte("new"))
	waitFor(t, 15*time.Second, "new blob", func() bool { return rec.count(c+"/new.txt") == 1 })
	// Absence check, in a bounded window: old.txt is not processed within 2 s.
	time.Sleep(2 * time.Second)
	if rec.count(c+"/old.txt") != 0 {
		t.Fatal("startFrom firstStart: a blob older than the first start was processed")
	}

	// An explicit time on the binding (overrides host.json).
	c2 := unique("startat")
	createContainer(t, c2)
	upload(t, c2, "before.txt", []byte("x"))
	// Not synchronisation: before.txt must be older than the cut by LastModified's 1-s resolution.
	time.Sleep(1500 * time.Millisecond)
	cut := time.Now().UTC().Add(-200 * time.Millisecond).Truncate(time.Second).Add(time.Second)
	time.Sleep(time.Until(cut) + 200*time.Millisecond)
	upload(t, c2, "after.txt", []byte("y"))
	rec2 := newRecorder()
	startTrigger(t, newServices(t, unique("h")), "FromTime", c2+"/{name}", rec2, map[string]any{"startFrom": "firstStart"},
		driver.Props{"startFrom": cut.Format(time.RFC3339)})
	waitFor(t, 15*time.Second, "after.txt", func() bool { return rec2.count(c2+"/after.txt") == 1 })
	// Absence check, in a bounded window: before.txt is not processed within 2 s.
	time.Sleep(2 * time.Second)
	if rec2.count(c2+"/before.txt") != 0 {
		t.Fatal("startFrom time: an older blob was processed")
	}
}

func waitScanner(t *testing.T, host *driver.Services, c string, sweeps int64) *scanner {
	t.Helper()
	var s *scanner
	waitFor(t, 15*time.Second, "scanner sweeps", func() bool {
		s = currentScanner(host, c)
		return s != nil && s.stats().Sweeps >= sweeps
	})
	return s
}

func TestTriggerBadConfig(t *testing.T) {
	for _, tc := range []struct {
		path  string
		props driver.Props
		cfg   map[string]any
		want  string
	}{
		{"{c}/x", nil, nil, "Container paths cannot contain {resolve} tokens"},
		{"", nil, nil, "path"},
		{"ccc/{name}", driver.Props{"source": "Logs"}, nil, "source"},
		{"ccc/{name}", driver.Props{"startFrom": "yesterday"}, nil, "startFrom"},
		{"ccc/{name}", nil, map[string]any{"maxDegreeOfParallelism": float64(-1)}, "maxDegreeOfParallelism"},
		{"ccc/{name}", nil, map[string]any{"poisonBlobThreshold": "many"}, "poisonBlobThreshold"},
	} {
		spec := Trigger("input", tc.path, tc.props)
		_, err := newTrigger(context.Background(), bindContext("Bad", spec, newServices(t, "h"), nil, tc.cfg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("path %q props %v cfg %v: err = %v, want mention of %q", tc.path, tc.props, tc.cfg, err, tc.want)
		}
	}
}

func TestOptionsDerivedQueueSettings(t *testing.T) {
	// C34: batch size min(32, MDOP/2+1), threshold MDOP − batch.
	for _, tc := range []struct{ mdop, batch, thr int }{{16, 9, 7}, {1, 1, 0}, {100, 32, 68}} {
		o := Options{MaxDegreeOfParallelism: tc.mdop}
		if err := o.normalize(2, "x"); err != nil {
			t.Fatal(err)
		}
		if o.batchSize() != tc.batch || o.newBatchThreshold() != tc.thr {
			t.Errorf("MDOP %d: batch %d threshold %d, want %d %d", tc.mdop, o.batchSize(), o.newBatchThreshold(), tc.batch, tc.thr)
		}
	}
	var o Options
	_ = o.normalize(2, "x")
	if o.MaxDegreeOfParallelism != 16 || o.PoisonBlobThreshold != 5 || o.PollingInterval != time.Second {
		t.Errorf("defaults = %+v", o)
	}
}

// A container that does not exist yet is watched until it does; odd blob names work end to end.
func TestTriggerLateContainerAndOddNames(t *testing.T) {
	c := unique("late")
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "Late", c+"/{name}", rec, nil, nil)
	waitScanner(t, host, c, 2) // sweeps of a missing container do not fail the trigger
	createContainer(t, c)
	names := []string{"a b.txt", "ü/ß €.txt", "x%20y", "q?.txt", "#hash", "deep/er/path/file"}
	for _, n := range names {
		upload(t, c, n, []byte(n))
	}
	waitFor(t, 20*time.Second, "all odd names", func() bool { return rec.distinct() == len(names) })
	for _, n := range names {
		if rec.count(c+"/"+n) != 1 {
			t.Errorf("%q ran %d times", n, rec.count(c+"/"+n))
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, ev := range rec.events {
		name, _ := ev.Metadata.Lookup("name")
		if string(rec.datas[i]) != name {
			t.Errorf("blob %q delivered content %q", name, rec.datas[i])
		}
	}
}

// C34: maxDegreeOfParallelism bounds the invocations running at once on a host.
func TestTriggerMaxDegreeOfParallelism(t *testing.T) {
	c := unique("mdop")
	createContainer(t, c)
	var running, peak atomic.Int32
	rec := newRecorder()
	rec.fail = func(*driver.Event) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(150 * time.Millisecond)
		running.Add(-1)
		return nil
	}
	startTrigger(t, newServices(t, unique("h")), "Mdop", c+"/{name}", rec, map[string]any{"maxDegreeOfParallelism": float64(3)}, nil)
	uploadMany(t, c, 12, func(i int) string { return fmt.Sprintf("%02d", i) })
	waitFor(t, 30*time.Second, "all blobs", func() bool { return rec.distinct() == 12 })
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency = %d, want 2..3 with maxDegreeOfParallelism 3", p)
	}
}

// C32: a queued message for a blob that changed since (other ETag) or is gone is dropped without
// invoking; the current version is processed on its own.
func TestTriggerDropsStaleAndMissing(t *testing.T) {
	c := unique("stale")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	startTrigger(t, host, "Stale", c+"/{name}", rec, nil, nil)
	upload(t, c, "x", []byte("v1"))
	waitFor(t, 15*time.Second, "first version", func() bool { return rec.count(c+"/x") == 1 })

	ctx := context.Background()
	iq := qsvc.NewQueueClient(InternalQueueName(host.HostID))
	for _, m := range []*Message{
		{Type: "BlobTrigger", FunctionID: "Host.Functions.Stale", BlobType: "BlockBlob", ContainerName: c, BlobName: "x", ETag: `"0x8DEADBEEF"`},
		{Type: "BlobTrigger", FunctionID: "Host.Functions.Stale", BlobType: "BlockBlob", ContainerName: c, BlobName: "gone", ETag: `"0x8DEADBEEF"`},
	} {
		if _, err := iq.EnqueueMessage(ctx, m.encode(), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "internal queue drained", func() bool {
		p, err := iq.GetProperties(ctx, nil)
		return err == nil && *p.ApproximateMessagesCount == 0
	})
	if rec.count(c+"/x") != 1 || rec.count(c+"/gone") != 0 {
		t.Fatalf("invocations = %v: stale or missing blobs were invoked", rec.calls)
	}
}
