package customhandler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/google/uuid"
)

// Options configure a Worker. AppDir and Config are required.
type Options struct {
	AppDir string
	Config *Config
	// Settings are the app settings; the ones that are not already in the environment (the
	// local.settings.json Values) are exported to the handler process, as Core Tools does.
	Settings *connection.Settings
	Logger   *slog.Logger // default slog.Default()
	// FunctionTimeout is host.json's functionTimeout (0: 30 min; <0: unbounded). A request to the
	// handler times out after FunctionTimeout + 1 min, as in Functions.
	FunctionTimeout time.Duration
	// ReadyTimeout bounds how long a started process may take to answer GET / (default 30 s,
	// HttpWorkerProcess's InitializationTimeout).
	ReadyTimeout time.Duration
	// RestartBackoff is the first wait before restarting a process that exited (default 200 ms;
	// doubling to 10 s while it keeps failing, reset after a minute of healthy running).
	RestartBackoff time.Duration
}

// HostVersion is the Functions host version azbind reports to handlers
// (X-Azure-Functions-HostVersion, User-Agent Azure-Functions-Host/<version>).
const HostVersion = "4.0.0"

// ErrClosed is the error of an invocation that reaches a closed Worker.
var ErrClosed = errors.New("custom handler worker closed")

// Worker runs one custom handler process: it starts it on a free loopback port, waits until it
// answers, restarts it with back-off when it exits, and forwards invocations to it (Handler).
type Worker struct {
	opts   Options
	cfg    *Config
	log    *slog.Logger
	port   int
	id     string
	base   string // http://127.0.0.1:<port>
	client *http.Client

	mu       sync.Mutex
	readyCh  chan struct{} // closed while the current process answers
	goneCh   chan struct{} // closed when the process readyCh belongs to has exited
	proc     *os.Process
	closed   bool
	inflight map[string]string // invocation id -> function name
	outs     []*outputPipe     // the current process's stdout and stderr
	stop     chan struct{}
	done     chan struct{}
}

// Start starts the handler process and returns once it answers GET / (any HTTP status), or
// with an error naming what failed (the program could not start, it exited, it did not answer
// within ReadyTimeout). Close stops it.
func Start(ctx context.Context, opts Options) (*Worker, error) {
	if opts.Config == nil {
		return nil, errors.New("customhandler.Start: Options.Config is nil: load it with LoadConfig")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = 200 * time.Millisecond
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("custom handler: no free loopback port: %w", err)
	}
	w := &Worker{opts: opts, cfg: opts.Config, log: opts.Logger.With(slog.String("component", "customHandler")),
		port: port, id: uuid.NewString(), base: "http://127.0.0.1:" + strconv.Itoa(port),
		readyCh: make(chan struct{}), goneCh: make(chan struct{}), inflight: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	timeout := time.Duration(0) // unbounded (int.MaxValue ms in Functions)
	switch ft := opts.FunctionTimeout; {
	case ft == 0:
		timeout = 31 * time.Minute
	case ft > 0:
		timeout = ft + time.Minute
	}
	w.client = &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, wn := range w.cfg.Warnings {
		w.log.Warn("custom handler configuration", slog.String("problem", wn))
	}
	first := make(chan error, 1)
	go w.supervise(first)
	select {
	case err := <-first:
		if err != nil {
			w.Close(context.Background())
			return nil, err
		}
		return w, nil
	case <-ctx.Done():
		w.Close(context.Background())
		return nil, ctx.Err()
	}
}

// Port is the loopback port the handler listens on (FUNCTIONS_CUSTOMHANDLER_PORT).
func (w *Worker) Port() int { return w.port }

// PID is the current handler process's id (0 while none runs).
func (w *Worker) PID() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.proc == nil {
		return 0
	}
	return w.proc.Pid
}

// Close stops the handler process (SIGTERM, then SIGKILL after ctx's deadline or 5 s) and the
// restarts. Invocations still waiting for a process fail with ErrClosed.
func (w *Worker) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	close(w.stop)
	p := w.proc
	w.mu.Unlock()
	if p != nil {
		_ = terminate(p)
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	if p != nil {
		_ = kill(p)
	}
	<-w.done
	w.client.CloseIdleConnections()
	return nil
}

func (w *Worker) env() []string {
	env := os.Environ()
	inEnv := map[string]bool{}
	for _, kv := range env {
		if i := strings.IndexByte(kv, '='); i > 0 {
			inEnv[connection.NormalizeKey(kv[:i])] = true
		}
	}
	for _, s := range w.opts.Settings.All() {
		if !inEnv[connection.NormalizeKey(s.Key)] {
			env = append(env, s.Key+"="+s.Value)
		}
	}
	p := strconv.Itoa(w.port)
	return append(env, "FUNCTIONS_CUSTOMHANDLER_PORT="+p, "FUNCTIONS_HTTPWORKER_PORT="+p,
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+w.id, "FUNCTIONS_HTTPWORKER_ID="+w.id,
		"FUNCTIONS_APP_ROOT_PATH="+w.opts.AppDir)
}

// supervise starts the process, and restarts it whenever it exits, until Close. The first
// start's outcome goes to first.
func (w *Worker) supervise(first chan<- error) {
	defer close(w.done)
	backoff := w.opts.RestartBackoff
	for attempt := 0; ; attempt++ {
		started := time.Now()
		wasReady, err := w.runOnce(first)
		if first != nil {
			if !wasReady {
				first <- err
				return
			}
			first = nil
		}
		w.mu.Lock()
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return
		}
		if time.Since(started) > time.Minute {
			backoff = w.opts.RestartBackoff
		}
		w.log.Warn("custom handler process exited; restarting", slog.String("error", err.Error()), slog.Duration("after", backoff))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-w.stop:
			t.Stop()
			return
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// runOnce runs one process until it exits; once it answers, it reports nil on first (a nil
// channel after the first start). It returns whether the process became ready, and why it ended.
func (w *Worker) runOnce(first chan<- error) (bool, error) {
	cmd := exec.Command(w.cfg.Executable, w.cfg.args()...)
	cmd.Dir = w.cfg.WorkingDirectory
	cmd.Env = w.env()
	outs, ends, err := w.outputPipes()
	if err != nil {
		return false, fmt.Errorf("custom handler: cannot make the pipes for %s's output: %w", w.cfg.Executable, err)
	}
	cmd.Stdout, cmd.Stderr = ends[0], ends[1]
	cmd.WaitDelay = 2 * time.Second
	setProcAttr(cmd)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		closeAll(outs, ends)
		return false, ErrClosed
	}
	if err := cmd.Start(); err != nil {
		w.mu.Unlock()
		closeAll(outs, ends)
		return false, fmt.Errorf("custom handler: cannot start %s: %w: check host.json %s.description.defaultExecutablePath", w.cfg.Executable, err, w.cfg.Section)
	}
	for i := range ends {
		_ = ends[i].Close() // the child has its copies
		go outs[i].run()
	}
	w.proc = cmd.Process
	w.outs = outs
	w.mu.Unlock()
	pid := cmd.Process.Pid
	w.log.Info("custom handler process started", slog.Int("pid", pid), slog.String("executable", w.cfg.Executable), slog.Int("port", w.port))

	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		w.processGone() // at once: new invocations wait for the next process, not for the pipes to drain
		grace := time.Now().Add(cmd.WaitDelay)
		for _, o := range outs {
			o.close(grace)
		}
		close(exited)
	}()
	readyErr := w.awaitReady(exited)
	if readyErr == nil {
		w.mu.Lock()
		close(w.readyCh)
		w.mu.Unlock()
		w.log.Info("custom handler ready", slog.Int("pid", pid), slog.Int("port", w.port))
		if first != nil {
			first <- nil
		}
	} else {
		_ = kill(cmd.Process)
	}
	<-exited
	w.client.CloseIdleConnections() // (kept-alive connections to the dead process)
	w.processGone()                 // again: it may have become ready just as it exited
	w.mu.Lock()
	w.proc = nil
	w.outs = nil
	w.mu.Unlock()
	if readyErr != nil {
		return false, readyErr
	}
	return true, fmt.Errorf("custom handler: Language Worker Process exited. Pid=%d: %v", pid, exitText(waitErr))
}

// awaitReady polls GET / until any HTTP response (HttpWorkerProcess: only a socket error means
// "not yet"), the process exits, or ReadyTimeout passes.
func (w *Worker) awaitReady(exited <-chan struct{}) error {
	deadline := time.NewTimer(w.opts.ReadyTimeout)
	defer deadline.Stop()
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	delay := 5 * time.Millisecond
	for {
		resp, err := c.Get(w.base + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-exited:
			t.Stop()
			return fmt.Errorf("custom handler %s exited before it answered on port %d (it must listen on FUNCTIONS_CUSTOMHANDLER_PORT): see its output above", w.cfg.Executable, w.port)
		case <-deadline.C:
			t.Stop()
			return fmt.Errorf("custom handler %s did not answer GET http://127.0.0.1:%d/ within %v: it must listen on 127.0.0.1 at FUNCTIONS_CUSTOMHANDLER_PORT", w.cfg.Executable, w.port, w.opts.ReadyTimeout)
		case <-w.stop:
			t.Stop()
			return ErrClosed
		case <-t.C:
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// processGone marks the current process as no longer answering: if it was ready, new
// invocations wait for the next one, and those that found it gone (awaitRestart) are woken.
func (w *Worker) processGone() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.readyCh:
		w.readyCh = make(chan struct{})
		close(w.goneCh)
		w.goneCh = make(chan struct{})
	default:
	}
}

// awaitRestart is called when a request to the process that was ready (ready) found nothing
// listening: the request never reached the handler, so it is safe to send again. It waits for
// that process to be seen gone and the next one to answer, at most ReadyTimeout for each, and
// reports whether to send again.
func (w *Worker) awaitRestart(ctx context.Context, ready chan struct{}) bool {
	w.mu.Lock()
	cur, gone := w.readyCh, w.goneCh
	w.mu.Unlock()
	if cur == ready { // still the same process: wait until it is seen gone
		t := time.NewTimer(w.opts.ReadyTimeout)
		defer t.Stop()
		select {
		case <-gone:
		case <-t.C:
			return false // alive but not listening: fail with the dial error
		case <-ctx.Done():
			return false
		case <-w.stop:
			return false
		}
	}
	_, err := w.waitReady(ctx)
	return err == nil
}

// waitReady blocks until a process answers (invocations during a restart wait, rather than
// fail and burn their delivery count), ctx ends, or the worker closes.
// It returns the ready channel of the process it waited for.
func (w *Worker) waitReady(ctx context.Context) (chan struct{}, error) {
	w.mu.Lock()
	ch, closed := w.readyCh, w.closed
	w.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	select {
	case <-ch:
		return ch, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the custom handler process to be ready: %w", ctx.Err())
	case <-w.stop:
		return nil, ErrClosed
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// outputPipes makes the stdout and stderr pipes: the readers and the write ends for the child.
func (w *Worker) outputPipes() ([]*outputPipe, []*os.File, error) {
	var outs []*outputPipe
	var ends []*os.File
	for _, l := range []*lineLog{
		{w: w, stream: "stdout", level: slog.LevelInfo},
		{w: w, stream: "stderr", level: slog.LevelError},
	} {
		o, end, err := newOutputPipe(l)
		if err != nil {
			closeAll(outs, ends)
			return nil, nil, err
		}
		outs, ends = append(outs, o), append(ends, end)
	}
	return outs, ends, nil
}

func closeAll(outs []*outputPipe, ends []*os.File) {
	for _, o := range outs {
		_ = o.r.Close()
	}
	for _, f := range ends {
		_ = f.Close()
	}
}

// lineLog writes the handler's output to the host log, a record per line, naming the function
// when exactly one invocation is in flight (the only case where the line is known to be its).
type lineLog struct {
	w      *Worker
	stream string
	level  slog.Level
	mu     sync.Mutex
	buf    []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a very long line without newline: emit in pieces
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineLog) emit(line string) {
	attrs := []slog.Attr{slog.String("stream", l.stream), slog.String("line", line)}
	l.w.mu.Lock()
	if len(l.w.inflight) == 1 {
		for id, fn := range l.w.inflight {
			attrs = append(attrs, slog.String("function", fn), slog.String("invocation_id", id))
		}
	}
	l.w.mu.Unlock()
	l.w.log.LogAttrs(context.Background(), l.level, "custom handler output", attrs...)
}
