package blob

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// An idle container costs no writes: the scan-info blob is written when it does not exist yet and
// after sweeps that found new blobs, never by sweeps that find nothing new.
func TestScanInfoWrittenOnlyWhenItChanges(t *testing.T) {
	c := unique("si")
	createContainer(t, c)
	upload(t, c, "old", []byte("x"))
	host := newServices(t, unique("h"))
	rec := newRecorder()
	cfg := map[string]any{"pollingInterval": "00:00:00.1", "maxScanInterval": "00:00:00.1"} // fixed, fast cadence
	startTrigger(t, host, "SI", c+"/{name}", rec, cfg, nil)
	waitFor(t, 20*time.Second, "the existing blob", func() bool { return rec.count(c+"/old") == 1 })
	s := currentScanner(host, c)
	blob := s.scanInfoBlob()
	latest := func() time.Time {
		resp, err := blob.DownloadStream(context.Background(), nil)
		if err != nil {
			return time.Time{}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var si scanInfo
		_ = json.Unmarshal(b, &si)
		return si.LatestScan
	}
	quiet := func(what string) {
		t.Helper()
		// Written until the watermark (5 s margin) has passed the newest blob; then never again.
		lm := newestLastModified(t, c)
		waitFor(t, 30*time.Second, "the persisted watermark to pass the newest blob ("+what+")", func() bool { return latest().After(lm) })
		w0, sw0 := s.stats().ScanInfoWrites, s.stats().Sweeps
		p0, err := blob.GetProperties(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "20 more sweeps", func() bool { return s.stats().Sweeps >= sw0+20 })
		p1, err := blob.GetProperties(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if w := s.stats().ScanInfoWrites; w != w0 || *p1.ETag != *p0.ETag {
			t.Fatalf("%s: scan info written %d times during 20 sweeps that found nothing new (ETag %s → %s)", what, w-w0, *p0.ETag, *p1.ETag)
		}
	}
	quiet("after the first blob")
	before := s.stats().ScanInfoWrites
	upload(t, c, "new", []byte("y"))
	waitFor(t, 20*time.Second, "the new blob", func() bool { return rec.count(c+"/new") == 1 })
	quiet("after the second blob")
	if s.stats().ScanInfoWrites == before {
		t.Fatal("the watermark moved past a new blob without being written")
	}
}

// A container that never changes is written once (the first watermark) however long it is scanned.
func TestScanInfoIdleContainerWrittenOnce(t *testing.T) {
	c := unique("si0")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	cfg := map[string]any{"pollingInterval": "00:00:00.1", "maxScanInterval": "00:00:00.1", "startFrom": "firstStart"}
	startTrigger(t, host, "SI0", c+"/{name}", newRecorder(), cfg, nil)
	waitFor(t, 20*time.Second, "the scanner", func() bool { return currentScanner(host, c) != nil })
	s := currentScanner(host, c)
	waitFor(t, 30*time.Second, "30 sweeps", func() bool { return s.stats().Sweeps >= 30 })
	if w := s.stats().ScanInfoWrites; w != 1 {
		t.Fatalf("scan info written %d times over %d sweeps of an unchanged container, want 1", w, s.stats().Sweeps)
	}
}

// Listings ask for pages of 5,000: a sweep of 1,200 blobs is one List Blobs request.
func TestListPageSize(t *testing.T) {
	c := unique("page")
	createContainer(t, c)
	uploadMany(t, c, 1200, func(i int) string { return fmt.Sprintf("b%04d", i) })
	host := newServices(t, unique("h"))
	cfg := map[string]any{"pollingInterval": "00:00:00.1", "maxScanInterval": "00:00:00.1", "startFrom": "firstStart"}
	startTrigger(t, host, "Page", c+"/{name}", newRecorder(), cfg, nil)
	waitFor(t, 20*time.Second, "the scanner", func() bool { return currentScanner(host, c) != nil })
	s := currentScanner(host, c)
	waitFor(t, 2*time.Minute, "3 sweeps", func() bool { return s.stats().Sweeps >= 3 })
	st := s.stats()
	if st.ListCalls != st.Sweeps && st.ListCalls != st.Sweeps+1 { // a sweep may be listing right now
		t.Fatalf("%d list calls for %d sweeps of 1,200 blobs, want one per sweep", st.ListCalls, st.Sweeps)
	}
	if n := s.streamed.Load(); n == 0 || n > st.ListCalls {
		t.Fatalf("%d of %d list pages were decoded as they streamed in, want all", n, st.ListCalls)
	}
}

// The back-off schedule, on an injected clock: the short interval while sweeps find new blobs
// and for the hot window after, then doubling per empty sweep up to the idle interval; a new blob
// (or a wake) starts over.
func TestScanPaceSchedule(t *testing.T) {
	p := scanPace{min: time.Second, max: 10 * time.Second, hot: 10 * time.Second}
	now := time.Unix(1_000_000, 0)
	var got []time.Duration
	step := func(active bool) {
		d := p.next(now, active)
		got = append(got, d)
		now = now.Add(d)
	}
	step(true) // found something at t=0
	for i := 0; i < 14; i++ {
		step(false)
	}
	want := []time.Duration{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 4, 8, 10, 10}
	for i := range want {
		want[i] *= time.Second
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("schedule after activity:\n got %v\nwant %v", got, want)
	}
	if d := p.next(now, true); d != time.Second {
		t.Fatalf("after a new blob the interval is %s, want 1s", d)
	}
	now = now.Add(time.Minute)
	p.next(now, false)
	p.wake(now)
	if d := p.next(now.Add(time.Second), false); d != time.Second {
		t.Fatalf("after a wake the interval is %s, want 1s", d)
	}
	// Fixed cadence: max = min.
	q := scanPace{min: 3 * time.Second, max: 3 * time.Second, hot: 10 * time.Second}
	for i := 0; i < 10; i++ {
		if d := q.next(now.Add(time.Duration(i)*time.Minute), false); d != 3*time.Second {
			t.Fatalf("fixed cadence: %s", d)
		}
	}
}

// Against the service: an idle scanner slows down to maxScanInterval (counted in list calls over
// a bounded run), and a new blob brings it back to pollingInterval.
func TestScanBacksOffWhileIdle(t *testing.T) {
	old := scanHotWindow
	scanHotWindow = time.Second
	t.Cleanup(func() { scanHotWindow = old })
	c := unique("pace")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	rec := newRecorder()
	cfg := map[string]any{"pollingInterval": "00:00:00.1", "maxScanInterval": "00:00:00.8", "startFrom": "firstStart"}
	startTrigger(t, host, "Pace", c+"/{name}", rec, cfg, nil)
	waitFor(t, 20*time.Second, "the scanner", func() bool { return currentScanner(host, c) != nil })
	s := currentScanner(host, c)
	waitFor(t, 20*time.Second, "the interval to reach maxScanInterval", func() bool { return s.stats().Interval == 800*time.Millisecond })
	// At the idle interval: over a 4 s window, about 5 sweeps (one list call each), not 40.
	l0, t0 := s.stats().ListCalls, time.Now()
	waitFor(t, 20*time.Second, "4 s to pass", func() bool { return time.Since(t0) >= 4*time.Second })
	if n := s.stats().ListCalls - l0; n < 3 || n > 7 {
		t.Fatalf("%d list calls in 4 s at an 800 ms idle interval, want about 5", n)
	}
	upload(t, c, "wake", []byte("x"))
	// The sweep that finds it (within 800 ms) sets the short interval for the hot window (1 s).
	waitFor(t, 5*time.Second, "the interval to return to pollingInterval", func() bool { return s.stats().Interval == 100*time.Millisecond })
	waitFor(t, 20*time.Second, "the new blob", func() bool { return rec.count(c+"/wake") == 1 })
}

// newestLastModified is the newest LastModified in the container.
func newestLastModified(t *testing.T, c string) time.Time {
	t.Helper()
	var lm time.Time
	pager := svc.NewContainerClient(c).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Properties.LastModified.After(lm) {
				lm = *it.Properties.LastModified
			}
		}
	}
	return lm
}

// The streaming decoder reads what the SDK reads: names (URL-encoded when Encoded="true", XML
// entities), LastModified, quoted ETags, blob types, the NextMarker; prefixes and other
// elements are ignored.
func TestDecodeBlobList(t *testing.T) {
	const body = `<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://x/" ContainerName="c"><Prefix>a</Prefix><MaxResults>5000</MaxResults>
<Blobs>
<Blob><Name>a/one &amp; two.json</Name><Properties><Creation-Time>Mon, 30 Nov 2026 07:00:00 GMT</Creation-Time><Last-Modified>Mon, 30 Nov 2026 08:00:01 GMT</Last-Modified><Etag>0x8DC1</Etag><Content-Length>7</Content-Length><BlobType>AppendBlob</BlobType></Properties><Metadata><Name>not-a-blob-name</Name></Metadata></Blob>
<Blob><Name Encoded="true">a%2Fb%EF%BF%BE</Name><Properties><Last-Modified>Mon, 30 Nov 2026 08:00:02 GMT</Last-Modified><Etag>"0x8DC2"</Etag></Properties></Blob>
</Blobs>
<NextMarker>2!72!MDAwMDA&lt;</NextMarker></EnumerationResults>`
	type got struct {
		name, etag, typ string
		lm              time.Time
	}
	var items []got
	next, err := decodeBlobList(strings.NewReader(body), func(name string, lm time.Time, etag, typ string) {
		items = append(items, got{name, etag, typ, lm})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{
		{"a/one & two.json", `"0x8DC1"`, "AppendBlob", time.Date(2026, 11, 30, 8, 0, 1, 0, time.UTC)},
		{"a/b\uFFFE", `"0x8DC2"`, "BlockBlob", time.Date(2026, 11, 30, 8, 0, 2, 0, time.UTC)},
	}
	if fmt.Sprint(items) != fmt.Sprint(want) || next != "2!72!MDAwMDA<" {
		t.Fatalf("decoded %v, next %q\nwant    %v, next %q", items, next, want, "2!72!MDAwMDA<")
	}
	if _, err := decodeBlobList(strings.NewReader(`<EnumerationResults><Blobs><Blob>`), func(string, time.Time, string, string) {}); err == nil {
		t.Fatal("a truncated body decoded without error")
	}
}
