package extension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The host's HTTP server. Run serves the host's handler itself when HTTPAddr (or the setting
// AZBIND_HTTP_ADDR) names an address — ":7071" is what `func start` uses; by default the host
// serves nothing and Host.Handler is for the program to serve. Every request — on the own server
// or through Handler — passes the same guards, in this order:
//
//   - while the host drains, 503 with Retry-After (only /admin/host/* still answers: ping then
//     says 503 too), so that in-flight requests finish and new ones go elsewhere;
//   - host.json extensions.http maxOutstandingRequests / maxConcurrentRequests (default
//     unbounded, as Functions outside Consumption): over maxOutstandingRequests (queued plus
//     running), 429 with X-FUNCTION-SCALEOUT: 1 as Functions' HttpRequestQueue answers; up to
//     maxConcurrentRequests run at once and the rest wait. /admin paths are not counted;
//   - the request body limit, enforced while reading: a declared Content-Length over it is
//     refused with 413 at once, a longer body fails the read (http.MaxBytesError) at the limit;
//   - a minimum body data rate (Kestrel's MinRequestBodyDataRate): after a grace period the body
//     must arrive at an average of at least MinBodyBytesPerSecond, or the read fails and the
//     connection is closed.
//
// The own server also bounds header time and size, the whole request read, the response write
// and idle keep-alive connections (HTTPOptions).

// Defaults of HTTPOptions.
const (
	// defaultMaxBody is 32 MiB, below Functions' 100 MiB (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT):
	// bodies are read into memory by most handlers, so the limit bounds a request's memory.
	defaultMaxBody           = 32 << 20
	defaultReadHeaderTimeout = 30 * time.Second  // Kestrel RequestHeadersTimeout
	defaultReadTimeout       = 230 * time.Second // Azure's front end answers 504 after 230 s
	defaultWriteTimeout      = 230 * time.Second
	defaultIdleTimeout       = 130 * time.Second // Kestrel KeepAliveTimeout
	defaultMaxHeaderBytes    = 32 << 10          // Kestrel MaxRequestHeadersTotalSize
	defaultMinBodyRate       = 240               // bytes/s, Kestrel MinRequestBodyDataRate
	defaultMinBodyRateGrace  = 5 * time.Second
)

// HTTPOptions bound the host's HTTP serving; the zero value is the default of every field. A
// negative duration or rate turns that bound off.
type HTTPOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers (default 30 s, as Kestrel).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default 230 s, Azure's front
	// end limit).
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers to the end of the response
	// (default 230 s).
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long (default 130 s, as Kestrel).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (default 32 KiB, as Kestrel).
	MaxHeaderBytes int
	// MinBodyBytesPerSecond is the minimum average body data rate after MinBodyRateGrace
	// (default 240 bytes/s after 5 s, as Kestrel's MinRequestBodyDataRate).
	MinBodyBytesPerSecond float64
	MinBodyRateGrace      time.Duration
}

func durOr(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	}
	return d
}

// httpLimits are the guards' settings, fixed when Run builds the host.
type httpLimits struct {
	maxBody        int64
	maxOutstanding int // 0: unbounded
	maxConcurrent  int // 0: unbounded
	minRate        float64
	grace          time.Duration
	readTimeout    time.Duration
}

// httpConfig returns the address to serve on ("" for none) and the guards' limits.
func (h *Host) httpConfig() (addr string, lim httpLimits, err error) {
	addr = h.opts.HTTPAddr
	if addr == "" {
		addr, _ = h.settings.Get("AZBIND_HTTP_ADDR")
	}
	lim = h.defaultLimits()
	if h.opts.MaxRequestBodyBytes <= 0 {
		if v, ok := h.settings.Get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"); ok {
			n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if perr != nil || n <= 0 {
				return "", lim, &ConfigError{Where: "setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", Problem: fmt.Sprintf("%q is not a positive number of bytes", v), Fix: "give the limit in bytes, e.g. 33554432"}
			}
			lim.maxBody = n
		}
	}
	sec := h.cfg.Extension("http")
	for _, f := range []struct {
		name string
		dst  *int
	}{{"maxOutstandingRequests", &lim.maxOutstanding}, {"maxConcurrentRequests", &lim.maxConcurrent}} {
		v, ok := lookupFold(sec, f.name)
		if !ok {
			continue
		}
		n, ok := intOf(v)
		if !ok || n == 0 || n < -1 {
			return "", lim, &ConfigError{Where: "host.json: extensions.http." + f.name, Problem: fmt.Sprintf("%v is not a positive number of requests (or -1 for unbounded)", v), Fix: "give a number such as 200, or -1"}
		}
		if n > 0 {
			*f.dst = n
		}
	}
	return strings.TrimSpace(addr), lim, nil
}

func (h *Host) defaultLimits() httpLimits {
	o := h.opts.HTTP
	lim := httpLimits{maxBody: h.opts.MaxRequestBodyBytes, minRate: o.MinBodyBytesPerSecond, grace: durOr(o.MinBodyRateGrace, defaultMinBodyRateGrace), readTimeout: durOr(o.ReadTimeout, defaultReadTimeout)}
	if lim.maxBody <= 0 {
		lim.maxBody = defaultMaxBody
	}
	switch {
	case lim.minRate == 0:
		lim.minRate = defaultMinBodyRate
	case lim.minRate < 0:
		lim.minRate = 0
	}
	return lim
}

func lookupFold(m map[string]any, k string) (any, bool) {
	for key, v := range m {
		if strings.EqualFold(key, k) {
			return v, true
		}
	}
	return nil, false
}

func intOf(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case int:
		return x, true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		return n, err == nil
	}
	return 0, false
}

// guard is the chain every request passes before the router (see the top of this file).
type guard struct {
	h    *Host
	next http.Handler
	lim  atomic.Pointer[httpLimits]

	outstanding atomic.Int64
	semMu       sync.Mutex
	sem         chan struct{} // maxConcurrent slots; nil when unbounded
}

func (g *guard) limits() *httpLimits {
	if l := g.lim.Load(); l != nil {
		return l
	}
	l := g.h.defaultLimits()
	return &l
}

// setLimits fixes the limits (Run, after host.json is read).
func (g *guard) setLimits(l httpLimits) {
	g.semMu.Lock()
	if l.maxConcurrent > 0 {
		g.sem = make(chan struct{}, l.maxConcurrent)
	} else {
		g.sem = nil
	}
	g.semMu.Unlock()
	g.lim.Store(&l)
}

func isAdminPath(p string) bool {
	return p == "/admin" || strings.HasPrefix(p, "/admin/")
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	admin := isAdminPath(r.URL.Path)
	select {
	case <-g.h.draining:
		if !strings.HasPrefix(r.URL.Path, "/admin/host/") {
			w.Header().Set("Retry-After", "10")
			w.Header().Set("Connection", "close")
			http.Error(w, "the host is shutting down", http.StatusServiceUnavailable)
			return
		}
	default:
	}
	lim := g.limits()
	if r.ContentLength > lim.maxBody {
		w.Header().Set("Connection", "close")
		http.Error(w, fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, lim.maxBody), http.StatusRequestEntityTooLarge)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		b := &minRateBody{rc: http.MaxBytesReader(w, r.Body, lim.maxBody), ctl: http.NewResponseController(w), rate: lim.minRate, grace: lim.grace, readTimeout: lim.readTimeout, reqStart: time.Now()}
		r.Body = b
		// A body the handler left unread is not drained from a possibly dribbling client: the
		// connection is closed instead of held until the read timeout.
		defer func() {
			if !b.eof {
				_ = b.ctl.SetReadDeadline(time.Now())
			}
		}()
	}
	if !admin && (lim.maxOutstanding > 0 || lim.maxConcurrent > 0) {
		n := g.outstanding.Add(1)
		defer g.outstanding.Add(-1)
		if lim.maxOutstanding > 0 && n > int64(lim.maxOutstanding) {
			w.Header().Set("X-FUNCTION-SCALEOUT", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		g.semMu.Lock()
		sem := g.sem
		g.semMu.Unlock()
		if sem != nil {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-r.Context().Done():
				return
			}
		}
	}
	g.next.ServeHTTP(w, r)
}

// errBodyTooSlow is the read error of a body that arrives below the minimum data rate.
var errBodyTooSlow = errors.New("request body arrives below the minimum data rate")

// minRateBody enforces the minimum body data rate with read deadlines: before each read the
// connection's read deadline is set to the moment the average rate since the first read would
// fall below the minimum (never earlier than the grace period, never later than the request's
// ReadTimeout), so a dribbling client is cut by the server's own deadline.
type minRateBody struct {
	rc          io.ReadCloser
	ctl         *http.ResponseController
	rate        float64
	grace       time.Duration
	readTimeout time.Duration
	reqStart    time.Time
	start       time.Time
	n           int64
	noDeadline  bool // the connection does not support deadlines (HTTP/2 via some proxies)
	eof         bool
}

func (b *minRateBody) Read(p []byte) (int, error) {
	if b.start.IsZero() {
		b.start = time.Now()
	}
	if !b.noDeadline && b.rate > 0 {
		d := b.start.Add(max(b.grace, time.Duration(float64(b.n+1)/b.rate*float64(time.Second))))
		if b.readTimeout > 0 {
			if end := b.reqStart.Add(b.readTimeout); end.Before(d) {
				d = end
			}
		}
		if err := b.ctl.SetReadDeadline(d); err != nil {
			b.noDeadline = true
		}
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) {
		return n, fmt.Errorf("%w (%d bytes in %s): %w", errBodyTooSlow, b.n, time.Since(b.start).Round(time.Millisecond), err)
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (b *minRateBody) Close() error { return b.rc.Close() }

// server is the host's own HTTP listener (HTTPAddr).
type server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// startServer listens on addr (before any trigger starts, so a taken port is reported at once).
func (h *Host) startServer(addr string) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ConfigError{Where: "HTTPAddr / setting AZBIND_HTTP_ADDR", Problem: fmt.Sprintf("cannot listen on %q", addr), Fix: "choose a free address such as :7071", Err: err}
	}
	o := h.opts.HTTP
	maxHeader := o.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = defaultMaxHeaderBytes
	}
	s := &server{ln: ln, done: make(chan error, 1), srv: &http.Server{
		Handler:           h.Handler(),
		ReadHeaderTimeout: durOr(o.ReadHeaderTimeout, defaultReadHeaderTimeout),
		ReadTimeout:       durOr(o.ReadTimeout, defaultReadTimeout),
		WriteTimeout:      durOr(o.WriteTimeout, defaultWriteTimeout),
		IdleTimeout:       durOr(o.IdleTimeout, defaultIdleTimeout),
		MaxHeaderBytes:    maxHeader,
		ErrorLog:          slog.NewLogLogger(h.logger.Handler(), slog.LevelDebug),
	}}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	h.mu.Lock()
	h.addr = ln.Addr().String()
	h.mu.Unlock()
	h.logger.Info("host listening", slog.String("address", ln.Addr().String()))
	return s, nil
}

// stop lets requests in flight finish within timeout, then closes the listener.
func (s *server) stop(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	return errors.Join(err, <-s.done)
}

// Addr returns the address the host's own HTTP server listens on ("" when it has none), once
// Run has started it.
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}
