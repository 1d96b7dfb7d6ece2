package blob

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
)

// The internal queue azure-webjobs-blobtrigger-<hostId> is shared by every blob-triggered
// function of a host (SharedBlobQueueListener): one queue.Listener per host and queue account
// dispatches each message to the function named by its FunctionId.

type dispatchKey struct {
	hostID  string
	account string // queue service
}

type dispatcher struct {
	key      dispatchKey
	listener *queue.Listener
	started  time.Time

	mu  sync.Mutex
	fns map[string]*fnReg
	reg chan struct{} // closed and replaced on every registration

	stop      context.CancelFunc
	quit      chan struct{} // closed when the last function leaves, before the listener stops
	done      chan struct{}
	closeOnce sync.Once
}

// holdLimit bounds how long a message for a function that stopped on this host (while others
// keep the listener running) is held before it is given back to the queue.
var holdLimit = time.Minute

type fnReg struct {
	t    *trigger
	exec driver.Executor
	wg   sync.WaitGroup
	mu   sync.Mutex
	gone bool
}

// acquireDispatcher registers t's function with the host's dispatcher for iq, starting it if
// needed. The returned release unregisters it after every invocation it dispatched has
// finished; the last one out stops the listener first, so that no message is received for a
// function that is already gone.
func acquireDispatcher(t *trigger, iq *azqueue.QueueClient, exec driver.Executor) (*dispatcher, func()) {
	key := dispatchKey{hostID: t.hostID, account: accountKey(t.qsvc.URL())}
	d, _, release := t.state.dispatchers.acquire(key, func() *dispatcher {
		d := &dispatcher{key: key, fns: map[string]*fnReg{}, reg: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
		poison := t.qsvc.NewQueueClient(PoisonQueueName)
		thr := t.opts.newBatchThreshold()
		d.listener = queue.NewListener(iq, poison, queue.ListenerOptions{
			BatchSize:          t.opts.batchSize(),
			NewBatchThreshold:  &thr,
			MaxPollingInterval: t.opts.MaxPollingInterval,
			MaxDequeueCount:    t.opts.PoisonBlobThreshold,
			Encoding:           queue.Base64,
			Logger:             t.hostLog.With("trigger", "blobTrigger"),
			Hub:                t.state.hub,
		}, d.handle)
		ctx, cancel := context.WithCancel(context.Background())
		d.stop = cancel
		go func() {
			defer close(d.done)
			_ = d.listener.Run(ctx)
		}()
		return d
	})
	r := d.register(t, exec)
	return d, func() {
		release()
		d.unregister(r)
	}
}

// Close gives held messages back, stops receiving and waits until every received message is
// settled (the listener's Run returns).
func (d *dispatcher) Close() error {
	d.closeOnce.Do(func() {
		close(d.quit)
		d.stop()
		<-d.done
	})
	return nil
}

func (d *dispatcher) register(t *trigger, exec driver.Executor) *fnReg {
	r := &fnReg{t: t, exec: exec}
	d.mu.Lock()
	d.fns[t.fnID] = r
	close(d.reg)
	d.reg = make(chan struct{})
	d.mu.Unlock()
	return r
}

// unregister stops dispatching to r and waits for its invocations in flight. r stays in fns,
// marked gone, until the function registers again: messages for it are then held, not failed.
func (d *dispatcher) unregister(r *fnReg) {
	r.mu.Lock()
	r.gone = true
	r.mu.Unlock()
	r.wg.Wait()
}

// lookup finds the function of a message. Shortly after start it waits a little for functions
// that are still registering, so that a restart does not fail their queued work.
func (d *dispatcher) lookup(ctx context.Context, fnID string) *fnReg {
	deadline := time.Now().Add(2 * time.Second)
	for {
		d.mu.Lock()
		r, reg, started := d.fns[fnID], d.reg, d.started
		d.mu.Unlock()
		if r != nil || time.Since(started) > 10*time.Second || time.Now().After(deadline) {
			return r
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-reg:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		t.Stop()
	}
}

func (d *dispatcher) handle(ctx context.Context, qm *queue.Message) driver.Result {
	m, err := DecodeMessage(string(qm.Body))
	if err != nil {
		return driver.Result{Status: driver.Failed, Err: fmt.Errorf("blob trigger: message %s: %w", qm.ID, err)}
	}
	var hold <-chan time.Time
	for {
		r := d.lookup(ctx, m.FunctionID)
		if r == nil {
			return driver.Result{Status: driver.Failed, Err: fmt.Errorf("blob trigger: message %s is for function %s, which does not run on this host", qm.ID, m.FunctionID)}
		}
		r.mu.Lock()
		if !r.gone {
			r.wg.Add(1)
			r.mu.Unlock()
			defer r.wg.Done()
			return r.t.process(ctx, r.exec, m, qm.DequeueCount)
		}
		r.mu.Unlock()
		// The function stopped on this host while others keep the listener running (a host
		// stopping its functions one by one). Failing the message would release it at once and
		// receive it again, burning its dequeue count to the poison queue within a second: hold
		// it (the listener keeps it invisible) until the function registers again, or give it
		// back when the listener stops or after holdLimit.
		d.mu.Lock()
		again, reg := d.fns[m.FunctionID] != r, d.reg
		d.mu.Unlock()
		if again {
			continue
		}
		if hold == nil {
			t := time.NewTimer(holdLimit)
			defer t.Stop()
			hold = t.C
		}
		select {
		case <-reg:
		case <-d.quit:
			return driver.Result{Status: driver.Cancelled}
		case <-hold:
			return driver.Result{Status: driver.Cancelled}
		case <-ctx.Done():
			return driver.Result{Status: driver.Cancelled}
		}
	}
}
