package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
)

// listPageSize is the page size of container listings: the service's maximum, so that a sweep
// of N blobs costs ceil(N/5000) list requests (every request is billed; pages of 1,000 listed a
// 10,000-blob container a little faster on Azurite, at 11 requests instead of 2).
const listPageSize = 5000

// scanHotWindow is how long scans stay at the short interval after a sweep that found a new blob
// version, before they back off towards the idle interval (a variable for tests).
var scanHotWindow = 10 * time.Second

// sweepMargin is how far behind the start of a sweep (service clock) the watermark stays.
const sweepMargin = 5 * time.Second

// scanKey identifies a shared scanner: one per host, account and container.
type scanKey struct {
	hostID    string
	account   string
	container string
}

// watch is one function watching the scanner's container.
type watch struct {
	fnID     string
	pattern  *expr.Pattern
	start    startFrom
	enqueue  func(ctx context.Context, m *Message) error
	onQueued func() // wakes the local queue listener
	// fail receives an error that retrying cannot clear (the service refused the listing as a
	// bad request); the trigger then stops its function loudly instead of retrying forever.
	fail chan error

	// guarded by scanner.mu
	watermark time.Time
	persisted time.Time // the persisted watermark found at start (zero if none)
	loaded    bool
	failedMin time.Time // oldest LastModified that must be looked at again (this sweep)
}

// scanner lists one container for all functions of one host watching it.
type scanner struct {
	key      scanKey
	cc       *container.Client
	hosts    *container.Client
	rc       *receipts
	interval time.Duration // scan interval while blobs arrive
	idle     time.Duration // scan interval the back-off reaches while nothing changes
	workers  int
	log      *slog.Logger

	mu        sync.Mutex
	watches   map[string]*watch
	handed    map[handedKey]time.Time // blob versions this process saw complete → LastModified
	stop      context.CancelFunc
	done      chan struct{}
	kick      chan struct{}
	fastCh    chan written
	closeOnce sync.Once

	// owned by the run goroutine
	pace    scanPace
	saved   time.Time // the persisted watermark (as loaded or last written)
	savedOK bool      // scan info exists with the value saved

	leader     atomic.Bool
	pending    atomic.Int64 // blobs found by the running sweep and not yet handed over
	listCalls  atomic.Int64
	sweeps     atomic.Int64
	infoWrites atomic.Int64
	streamed   atomic.Int64 // list pages decoded as they streamed in (liststream.go)
	lastSweep  atomic.Int64 // duration in ns
	curWait    atomic.Int64 // scan interval chosen after the last sweep, in ns
}

type handedKey struct{ fnID, name, etag string }

// ScanStats are a scanner's counters, for benchmarks and diagnostics.
type ScanStats struct {
	Sweeps         int64
	ListCalls      int64
	ScanInfoWrites int64 // uploads of the scan-info (watermark) blob
	LastSweep      time.Duration
	Interval       time.Duration // the adaptive scan interval chosen after the last sweep
}

func (s *scanner) stats() ScanStats {
	return ScanStats{Sweeps: s.sweeps.Load(), ListCalls: s.listCalls.Load(), ScanInfoWrites: s.infoWrites.Load(),
		LastSweep: time.Duration(s.lastSweep.Load()), Interval: time.Duration(s.curWait.Load())}
}

// acquireScanner returns the host's shared scanner for key, creating and starting it if needed,
// and registers w with it. The returned release unregisters w and stops the scanner with its
// last user.
func acquireScanner(h *hostState, key scanKey, mk func() *scanner, w *watch) (*scanner, func()) {
	s, existed, release := h.scanners.acquire(key, func() *scanner {
		s := mk()
		s.key = key
		s.watches = map[string]*watch{}
		s.handed = map[handedKey]time.Time{}
		s.kick = make(chan struct{}, 1)
		s.fastCh = make(chan written, 1024)
		s.done = make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		unsub := h.subscribe(s)
		go func() {
			defer close(s.done)
			defer unsub()
			s.run(ctx)
		}()
		return s
	})
	s.mu.Lock()
	s.watches[w.fnID] = w
	s.mu.Unlock()
	if existed {
		s.poke() // a function joined a running scanner: scan for it now
	}
	return s, func() {
		s.mu.Lock()
		delete(s.watches, w.fnID)
		s.mu.Unlock()
		release()
	}
}

// Close stops the scanner and waits for its goroutines.
func (s *scanner) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.done
	})
	return nil
}

func (s *scanner) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// notify implements subscriber (the fast path).
func (s *scanner) notify(w written) {
	if w.account != s.key.account || w.container != s.key.container {
		return
	}
	select {
	case s.fastCh <- w:
	default: // full: the next scan finds it
	}
}

func (s *scanner) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.fastLoop(ctx) }()
	defer wg.Wait()
	lock := newScanLock(s)
	defer lock.release()
	s.pace = scanPace{min: s.interval, max: max(s.idle, s.interval), hot: scanHotWindow}
	for {
		start := time.Now()
		wait := scanLockRetry
		if lock.hold(ctx, s) {
			// Leader from the moment it holds the lock: the sweep hands blobs over while it lists.
			if !s.leader.Swap(true) {
				s.pace.wake(start) // a new leader starts at the short interval
			}
			active := s.sweep(ctx)
			interval := s.pace.next(time.Now(), active)
			s.curWait.Store(int64(interval))
			wait = interval - time.Since(start)
		} else {
			s.leader.Store(false)
			// Another host scans; the persisted watermark may move on meanwhile: reload it
			// when this host takes over.
			s.mu.Lock()
			for _, w := range s.watches {
				w.loaded = false
			}
			s.mu.Unlock()
		}
		if ctx.Err() != nil {
			return
		}
		if wait < 50*time.Millisecond {
			wait = 50 * time.Millisecond // yield between back-to-back sweeps of a large container
		}
		if !s.pause(ctx, wait) {
			return
		}
	}
}

// pause waits d, or less when a function joins (kick); the scan lock renews itself meanwhile
// (driver.HoldLease). It reports false when ctx ends.
func (s *scanner) pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.kick:
		s.pace.wake(time.Now())
		return true
	case <-t.C:
		return true
	}
}

// scanPace is the adaptive scan interval: the short interval (min) while sweeps find new blob
// versions and for the hot window after the last one that did, then doubling with every sweep
// that finds nothing new, up to max. The fast path (this host's own writes) does not wait for
// it.
type scanPace struct {
	min, max, hot time.Duration
	cur           time.Duration
	last          time.Time // when a sweep last found something (or the pace was woken)
}

// wake restarts the short interval from now (a function joined, or this host became leader).
func (p *scanPace) wake(now time.Time) {
	p.last, p.cur = now, p.min
}

// next returns the interval until the next sweep, given whether the sweep that just ended
// found a new blob version.
func (p *scanPace) next(now time.Time, active bool) time.Duration {
	if p.cur <= 0 {
		p.cur = p.min
	}
	if active || p.last.IsZero() {
		p.last = now
	}
	if active || now.Sub(p.last) < p.hot {
		p.cur = p.min
	} else {
		p.cur = min(p.cur*2, p.max)
	}
	return max(p.cur, p.min)
}

// fastLoop hands over blobs announced by this host's own output bindings.
func (s *scanner) fastLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-s.fastCh:
			for _, ws := range s.watermarks() {
				wt := ws.w
				if ws.loaded && !w.lastModified.IsZero() && w.lastModified.Before(ws.watermark) {
					continue
				}
				if _, ok := wt.pattern.Match(w.name); !ok {
					continue
				}
				s.handOver(ctx, wt, w.name, w.etag, "BlockBlob", w.lastModified, true, nil)
			}
		}
	}
}

// watchMark is a watch with its watermark state copied under the scanner's lock (a sweep may
// update them concurrently).
type watchMark struct {
	w         *watch
	loaded    bool
	watermark time.Time
}

func (s *scanner) watermarks() []watchMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]watchMark, 0, len(s.watches))
	for _, w := range s.watches {
		out = append(out, watchMark{w: w, loaded: w.loaded, watermark: w.watermark})
	}
	return out
}

func (s *scanner) snapshot() []*watch {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*watch, 0, len(s.watches))
	for _, w := range s.watches {
		out = append(out, w)
	}
	return out
}

// handOver claims one blob version for one function; it reports whether the blob must be
// looked at again by a later sweep. It counts in news the versions this process had not handed
// over yet (nil: not counted).
func (s *scanner) handOver(ctx context.Context, w *watch, name, etag, blobType string, lastMod time.Time, fresh bool, news *atomic.Int64) (retry bool) {
	hk := handedKey{w.fnID, name, etag}
	s.mu.Lock()
	_, seen := s.handed[hk]
	s.mu.Unlock()
	if seen {
		return false
	}
	if news != nil {
		news.Add(1)
	}
	msg := &Message{Type: "BlobTrigger", FunctionID: w.fnID, BlobType: blobType, ContainerName: s.key.container, BlobName: name, ETag: etag}
	res, err := s.rc.claim(ctx, s.key.hostID, w.fnID, etag, s.key.container, name, fresh, func(ctx context.Context) error {
		return w.enqueue(ctx, msg)
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("blob trigger: could not hand over blob; will retry on the next scan",
			"function", w.fnID, "blob", name, "error", err)
	}
	switch res {
	case claimed:
		if w.onQueued != nil {
			w.onQueued()
		}
		fallthrough
	case alreadyDone:
		s.mu.Lock()
		s.handed[hk] = lastMod
		s.mu.Unlock()
		return false
	}
	return true
}

type candidate struct {
	fresh   bool
	w       *watch
	name    string
	etag    string
	btype   string
	lastMod time.Time
}

// sweep lists the container once and hands over every candidate of every watching function. It
// reports whether it found a blob version that this process had not handed over before (the
// adaptive interval stays short while it does).
func (s *scanner) sweep(ctx context.Context) (active bool) {
	t0 := time.Now()
	watches := s.snapshot()
	if len(watches) == 0 {
		return false
	}
	s.mu.Lock()
	var pending []*watch
	for _, w := range watches {
		if !w.loaded {
			pending = append(pending, w)
		}
		w.failedMin = time.Time{}
	}
	s.mu.Unlock()
	if len(pending) > 0 {
		persisted, found, err := s.loadScanInfo(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("blob trigger: could not read scan info; retrying", "error", err)
			}
			return false
		}
		s.saved, s.savedOK = persisted, found
		s.mu.Lock()
		for _, w := range pending {
			w.watermark = w.start.initial(persisted, found)
			if found {
				w.persisted = persisted
			}
			w.loaded = !w.start.needsServerTime(found)
		}
		s.mu.Unlock()
	}

	prefix := commonPrefix(watches)
	jobs := make(chan candidate)
	var news atomic.Int64
	candidates := 0
	var wg sync.WaitGroup
	for i := 0; i < s.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				retry := s.handOver(ctx, c.w, c.name, c.etag, c.btype, c.lastMod, c.fresh, &news)
				s.pending.Add(-1)
				if retry {
					s.mu.Lock()
					if c.w.failedMin.IsZero() || c.lastMod.Before(c.w.failedMin) {
						c.w.failedMin = c.lastMod
					}
					s.mu.Unlock()
				}
			}
		}()
	}
	var serverStart time.Time
	begin := func(date time.Time) {
		if serverStart.IsZero() {
			serverStart = date
			if serverStart.IsZero() {
				serverStart = t0
			}
			s.startUnloaded(watches, serverStart)
		}
	}
	item := func(name string, lm time.Time, etag, btype string) {
		if isHostsPath(s.key.container, name) {
			return
		}
		for _, w := range watches {
			s.mu.Lock()
			wm := w.watermark
			s.mu.Unlock()
			if lm.Before(wm) {
				continue
			}
			if _, ok := w.pattern.Match(name); !ok {
				continue
			}
			fresh := !w.persisted.IsZero() && lm.After(w.persisted)
			c := candidate{fresh: fresh, w: w, name: name, etag: etag, btype: btype, lastMod: lm}
			candidates++
			s.pending.Add(1)
			select {
			case jobs <- c:
			case <-ctx.Done():
				s.pending.Add(-1)
			}
		}
	}
	// The listing is decoded item by item as it arrives (streamListPolicy), not as a page of
	// 5,000 decoded items at once: that page was most of an idle host's memory.
	sink := &listSink{begin: begin, item: item}
	defer func() { s.streamed.Add(int64(sink.streamed)) }()
	lctx := context.WithValue(ctx, listSinkKey{}, sink)
	complete := true
	pager := s.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: nilIfEmpty(prefix), MaxResults: to.Ptr(int32(listPageSize))})
	for pager.More() {
		page, err := pager.NextPage(lctx)
		s.listCalls.Add(1)
		if err != nil {
			complete = false
			// The service answered (e.g. ContainerNotFound): its clock fixes where "firstStart"
			// watches start, so that a blob written after the start but before the first listing
			// that succeeds (the container created later) still counts.
			if d := responseDate(err); !d.IsZero() {
				s.startUnloaded(watches, d)
			}
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				break // nothing to do until it exists
			}
			if ctx.Err() == nil && permanentListError(err) {
				// A 400 (an invalid container name, a malformed request) answers every retry
				// the same way: stop the functions watching this container.
				for _, w := range watches {
					if w.fail != nil {
						select {
						case w.fail <- err:
						default:
						}
					}
				}
				break
			}
			if ctx.Err() == nil {
				s.log.Warn("blob trigger: listing failed; retrying on the next scan", "error", err)
			}
			break
		}
		begin(deref(page.Date))
		// Items decoded by the SDK (a client built without streamListPolicy).
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || it.Properties == nil {
				continue
			}
			item(*it.Name, deref(it.Properties.LastModified), etagString(it.Properties.ETag), blobTypeName(it.Properties.BlobType))
		}
		if ctx.Err() != nil {
			complete = false
			break
		}
	}
	close(jobs)
	wg.Wait()
	s.sweeps.Add(1)
	s.lastSweep.Store(int64(time.Since(t0)))
	active = news.Load() > 0
	if !complete || serverStart.IsZero() || ctx.Err() != nil {
		return active
	}
	// Advance the watermarks: every blob committed before the sweep started (by the service's
	// clock) has been seen; failed ones hold it back. The margin covers the 1-s resolution of
	// the times and clock differences between the service's front ends and partition servers;
	// blobs inside it are looked at again next time but cost no request (handed).
	next := serverStart.Add(-sweepMargin)
	var minWM time.Time
	s.mu.Lock()
	for _, w := range watches {
		wm := next
		if !w.failedMin.IsZero() && w.failedMin.Before(wm) {
			wm = w.failedMin
		}
		if wm.After(w.watermark) {
			w.watermark = wm
		}
		if minWM.IsZero() || w.watermark.Before(minWM) {
			minWM = w.watermark
		}
	}
	for k, lm := range s.handed {
		if lm.Before(minWM) {
			delete(s.handed, k)
		}
	}
	s.mu.Unlock()
	// The persisted watermark only has to stay at or below the newest blob the sweeps have seen:
	// while a sweep finds no candidate (no matching blob at or after the watermark), moving it on
	// would change nothing a restart or another host does, so it is not written (an idle
	// container costs no writes). It is written when there is none yet, and after sweeps that
	// found candidates (until the margin has passed the newest of them).
	if !s.savedOK || (candidates > 0 && !minWM.Equal(s.saved)) {
		if err := s.saveScanInfo(ctx, minWM); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("blob trigger: could not save scan info", "error", err)
			}
		} else {
			s.saved, s.savedOK = minWM, true
		}
	}
	return active
}

// startUnloaded gives watches starting "from now" the service's clock (less a second) as their
// watermark.
func (s *scanner) startUnloaded(watches []*watch, serverTime time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range watches {
		if !w.loaded {
			w.watermark, w.loaded = serverTime.Add(-time.Second), true
		}
	}
}

// responseDate is the Date header of the service's error response, zero without one.
func responseDate(err error) time.Time {
	var re *responseError
	if !errors.As(err, &re) || re.RawResponse == nil {
		return time.Time{}
	}
	d, perr := http.ParseTime(re.RawResponse.Header.Get("Date"))
	if perr != nil {
		return time.Time{}
	}
	return d
}

func isHostsPath(containerName, name string) bool {
	return containerName == HostsContainer && (strings.HasPrefix(name, "blobreceipts/") || strings.HasPrefix(name, "blobscaninfo/") || strings.HasPrefix(name, "locks/"))
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func blobTypeName(t *sdkblob.BlobType) string {
	if t == nil || *t == "" {
		return "BlockBlob"
	}
	return string(*t)
}

// commonPrefix is the longest common prefix of the watches' literal pattern prefixes.
func commonPrefix(ws []*watch) string {
	if len(ws) == 0 {
		return ""
	}
	p := ws[0].pattern.Prefix()
	for _, w := range ws[1:] {
		q := w.pattern.Prefix()
		n := 0
		for n < len(p) && n < len(q) && p[n] == q[n] {
			n++
		}
		p = p[:n]
	}
	return p
}

type scanInfo struct {
	LatestScan time.Time `json:"LatestScan"`
}

func (s *scanner) scanInfoBlob() *blockblob.Client {
	return s.hosts.NewBlockBlobClient(scanInfoName(s.key.hostID, accountName(s.key.account), s.key.container))
}

func (s *scanner) loadScanInfo(ctx context.Context) (time.Time, bool, error) {
	resp, err := s.scanInfoBlob().DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return time.Time{}, false, nil
		}
		return time.Time{}, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return time.Time{}, false, err
	}
	var si scanInfo
	if err := json.Unmarshal(b, &si); err != nil {
		s.log.Warn("blob trigger: ignoring unreadable scan info", "error", err)
		return time.Time{}, false, nil
	}
	return si.LatestScan, true, nil
}

func (s *scanner) saveScanInfo(ctx context.Context, t time.Time) error {
	b, _ := json.Marshal(scanInfo{LatestScan: t.UTC()})
	bb := s.scanInfoBlob()
	s.infoWrites.Add(1)
	return withContainer(ctx, s.hosts, func() error {
		_, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(b)), &blockblob.UploadOptions{
			HTTPHeaders: &sdkblob.HTTPHeaders{BlobContentType: to.Ptr("application/json")},
		})
		return err
	})
}

// ScannerStat describes one running container scanner.
type ScannerStat struct {
	HostID    string
	Container string
	ScanStats
}

// ScannerStats reports the container scanners running in host (for benchmarks and
// diagnostics): sweeps done, list requests made, duration of the last sweep.
func ScannerStats(host *driver.Services) []ScannerStat {
	var out []ScannerStat
	h, err := stateFor(context.Background(), host)
	if err != nil {
		return nil
	}
	h.scanners.each(func(k scanKey, s *scanner) {
		out = append(out, ScannerStat{HostID: k.hostID, Container: k.container, ScanStats: s.stats()})
	})
	return out
}

// permanentListError reports whether a listing error is one that retrying cannot clear: the
// service refused the request itself (HTTP 400, e.g. InvalidResourceName).
func permanentListError(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusBadRequest
}
