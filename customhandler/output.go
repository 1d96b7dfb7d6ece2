package customhandler

import (
	"os"
	"sync/atomic"
	"time"
)

// outputPipe carries one of the handler's output streams (stdout or stderr) into a lineLog. It
// counts the bytes it has taken from the pipe and the bytes it has logged, so the end of an
// invocation can wait for what the handler wrote before it answered (settle): a line printed
// during the only invocation in flight is then logged with that invocation's function and id,
// whatever the scheduling of the reading goroutine.
type outputPipe struct {
	r        *os.File
	log      *lineLog
	read     atomic.Int64 // bytes taken from the pipe
	logged   atomic.Int64 // bytes handed to log (lines emitted)
	finished chan struct{}
}

// newOutputPipe returns the pipe and the write end to give the child (close it after Start).
func newOutputPipe(l *lineLog) (*outputPipe, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return &outputPipe{r: r, log: l, finished: make(chan struct{})}, w, nil
}

func (o *outputPipe) run() {
	defer close(o.finished)
	buf := make([]byte, 32<<10)
	for {
		n, err := o.r.Read(buf)
		if n > 0 {
			o.read.Add(int64(n))
			_, _ = o.log.Write(buf[:n])
			o.logged.Add(int64(n))
		}
		if err != nil {
			o.log.flush()
			return
		}
	}
}

// settle waits, at most max, until every byte in the pipe now has been logged. Where the
// platform cannot say how many bytes wait in a pipe (pending reports an error), it returns at once.
func (o *outputPipe) settle(max time.Duration) {
	var target int64 = -1
	for range 4 { // a snapshot the reader did not move through
		r1 := o.read.Load()
		p, err := pending(o.r)
		if err != nil {
			return
		}
		if o.read.Load() == r1 {
			target = r1 + int64(p)
			break
		}
	}
	if target < 0 || o.logged.Load() >= target {
		return
	}
	deadline := time.Now().Add(max)
	for o.logged.Load() < target && time.Now().Before(deadline) {
		select {
		case <-o.finished:
			return
		case <-time.After(50 * time.Microsecond):
		}
	}
}

// close waits until deadline for the reader to reach the end of the stream (a grandchild that
// keeps the pipe open would hold it forever), then closes the read end and waits for the reader.
func (o *outputPipe) close(deadline time.Time) {
	t := time.NewTimer(time.Until(deadline))
	select {
	case <-o.finished:
	case <-t.C:
	}
	t.Stop()
	_ = o.r.Close()
	<-o.finished
}
