package servicebus

import (
	"context"
	"errors"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension/driver"
)

// sessionWorker holds one session at a time (the trigger runs MaxConcurrentSessions of them):
// it accepts the next session with messages, dispatches its messages — at most
// MaxConcurrentCallsPerSession at once, so in order with the default 1 — renews the session lock
// meanwhile, and releases the session after SessionIdleTimeout without a message.
func (t *trigger) sessionWorker(ctx context.Context, exec driver.Executor) {
	var bo backoff
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, t.opts.ClientRetryOptions.TryTimeout)
		sr, err := t.acceptNextSession(actx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var e *azservicebus.Error
			if errors.As(err, &e) && e.Code == azservicebus.CodeTimeout || errors.Is(err, context.DeadlineExceeded) {
				bo.reset()
				t.receiveOK()
				continue // no session has messages
			}
			t.receiveError(err)
			bo.wait(ctx)
			continue
		}
		bo.reset()
		t.receiveOK()
		t.st.sessionsAccepted.Add(1)
		t.runSession(ctx, exec, sr)
		t.st.sessionsReleased.Add(1)
	}
}

func (t *trigger) runSession(ctx context.Context, exec driver.Executor, sr *azservicebus.SessionReceiver) {
	defer func() {
		if ctx.Err() != nil && (t.shutdownAbandons.Load() > 0 || t.creditAtStop.Load()) {
			time.Sleep(releaseGrace) // see Run
		}
		t.closeReceiver(sr)
	}()
	sess := &SessionActions{r: sr}
	rctx, cancel := context.WithCancel(context.Background())
	renewDone := make(chan struct{})
	go func() { defer close(renewDone); t.renewSession(rctx, sess) }()
	defer func() { cancel(); <-renewDone }()
	idle := t.opts.SessionIdleTimeout
	if t.batch {
		t.batchLoop(ctx, exec, sr, sr, nil, sess, &idle)
		return
	}
	t.singleLoop(ctx, exec, sr, sr, nil, sess, t.opts.MaxConcurrentCallsPerSession, 0, &idle)
}

// renewSession renews the session's lock while the trigger holds the session.
func (t *trigger) renewSession(ctx context.Context, sess *SessionActions) {
	for {
		remaining := time.Until(sess.LockedUntil())
		wait := max(remaining-min(10*time.Second, remaining/2), 0)
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-tm.C:
		}
		rctx, cancel := context.WithTimeout(ctx, t.opts.ClientRetryOptions.TryTimeout)
		_, err := sess.RenewLock(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(err, ErrLockLost) {
				t.st.locksLost.Add(1)
				t.log.Error("session lock lost: its messages in hand cannot be settled and come back to the next receiver of the session",
					"session_id", sess.SessionID(), "error", err)
				sess.Release()
				return
			}
			t.st.renewalErrors.Add(1)
			t.log.Warn("renewing the session lock failed; retrying", "session_id", sess.SessionID(), "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		t.st.renewals.Add(1)
	}
}

// batchLoop receives batches of up to MaxMessageBatchSize messages and runs one invocation per
// batch, one batch at a time (as the Functions batch listener). With MinMessageBatchSize > 1 the
// received messages wait until the minimum is reached or MaxBatchWaitTime has passed since the
// first of them. Locks are not renewed for batches (as Functions).
func (t *trigger) batchLoop(ctx context.Context, exec driver.Executor, rc receiver, s settler,
	renew func(context.Context, *azservicebus.ReceivedMessage, *azservicebus.RenewMessageLockOptions) error,
	sess *SessionActions, idle *time.Duration) {
	var renewFn func(context.Context, *azservicebus.ReceivedMessage) error
	if renew != nil {
		renewFn = func(ctx context.Context, m *azservicebus.ReceivedMessage) error { return renew(ctx, m, nil) }
	}
	var bo backoff
	for {
		if sess != nil && sess.isReleased() {
			return
		}
		var (
			cached []*azservicebus.ReceivedMessage
			first  time.Time
			stop   bool
		)
		for len(cached) < t.opts.MaxMessageBatchSize {
			if len(cached) > 0 && (len(cached) >= t.opts.MinMessageBatchSize || time.Since(first) >= t.opts.MaxBatchWaitTime) {
				break
			}
			rctx, cancel := ctx, context.CancelFunc(func() {})
			switch {
			case len(cached) > 0:
				rctx, cancel = context.WithDeadline(ctx, first.Add(t.opts.MaxBatchWaitTime))
			case idle != nil:
				rctx, cancel = context.WithTimeout(ctx, *idle)
			}
			msgs, err := rc.ReceiveMessages(rctx, t.opts.MaxMessageBatchSize-len(cached), nil)
			timedOut := rctx.Err() != nil
			cancel()
			if len(msgs) > 0 {
				if len(cached) == 0 {
					first = time.Now()
				}
				cached = append(cached, msgs...)
				t.st.received.Add(int64(len(msgs)))
				bo.reset()
				t.receiveOK()
				continue
			}
			if ctx.Err() != nil {
				stop = true
				break
			}
			if timedOut {
				if len(cached) > 0 {
					break // maxBatchWaitTime: dispatch what there is
				}
				if idle != nil {
					stop = true // idle session
					break
				}
				continue
			}
			if err != nil {
				if sess != nil && isSessionLost(err) {
					stop = true
					break
				}
				t.receiveError(err)
				if sess == nil && isClosed(err) {
					stop = true // the caller opens a new receiver
					break
				}
			}
			bo.wait(ctx) // an error, or the SDK recovered the link: nothing received
		}
		if ctx.Err() != nil {
			// The stop may leave credit on the link: see singleLoop.
			t.creditAtStop.Store(true)
		}
		if len(cached) > 0 {
			// Also when stopping before the batch is full: the handler gets what was received (in
			// the drain), so that a stop costs no delivery attempt for messages no handler started.
			acts := newActions(s, renewFn, t.opts.ClientRetryOptions.TryTimeout, cached)
			res := t.execute(ctx, exec, cached, acts, sess)
			t.settle(s, acts, res)
		}
		if stop || ctx.Err() != nil {
			return
		}
	}
}
