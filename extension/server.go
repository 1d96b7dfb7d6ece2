package extension

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultMaxBody is Functions' default request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).
const defaultMaxBody = 100 << 20

// server is the host's own HTTP listener (HostOptions.HTTPAddr).
type server struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

// httpConfig returns the address to serve on ("" for none) and the body limit.
func (h *Host) httpConfig() (addr string, limit int64, err error) {
	addr = h.opts.HTTPAddr
	if addr == "" {
		addr, _ = h.settings.Get("AZBIND_HTTP_ADDR")
	}
	limit = h.opts.MaxRequestBodyBytes
	if limit <= 0 {
		limit = defaultMaxBody
		if v, ok := h.settings.Get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"); ok {
			n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if perr != nil || n <= 0 {
				return "", 0, &ConfigError{Where: "setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", Problem: fmt.Sprintf("%q is not a positive number of bytes", v), Fix: "give the limit in bytes, e.g. 104857600"}
			}
			limit = n
		}
	}
	return strings.TrimSpace(addr), limit, nil
}

// startServer listens on addr (before any trigger starts, so a taken port is reported at once).
func (h *Host) startServer(addr string, limit int64) (*server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ConfigError{Where: "HTTPAddr / setting AZBIND_HTTP_ADDR", Problem: fmt.Sprintf("cannot listen on %q", addr), Fix: "choose a free address such as :7071", Err: err}
	}
	handler := limitBody(h.services.Router.(http.Handler), limit)
	s := &server{ln: ln, done: make(chan error, 1), srv: &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(h.logger.Handler(), slog.LevelWarn)}}
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

// limitBody answers 413 for a declared length over limit and bounds every body at limit (a
// handler reading past it gets an *http.MaxBytesError and should answer 413).
func limitBody(next http.Handler, limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			http.Error(w, fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, limit), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// Addr returns the address the host's own HTTP server listens on ("" when it has none), once
// Run has started it.
func (h *Host) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}
