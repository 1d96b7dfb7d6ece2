package servicebus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// Errors of MessageActions and SessionActions; test with errors.Is.
var (
	// ErrAlreadySettled: the message was settled before (by the handler); nothing was sent.
	ErrAlreadySettled = errors.New("servicebus: message already settled")
	// ErrNotThisInvocation: the message is not one of this invocation's messages.
	ErrNotThisInvocation = errors.New("servicebus: message does not belong to this invocation")
	// ErrInvocationEnded: the invocation that received the actions has returned; the trigger
	// settled its messages.
	ErrInvocationEnded = errors.New("servicebus: the invocation has ended")
	// ErrLockLost: the message's lock (or its session's lock) expired or was lost while the
	// handler ran; the message will be delivered again, and settling it is no longer possible.
	ErrLockLost = errors.New("servicebus: message lock lost")
)

// settler is what both *azservicebus.Receiver and *azservicebus.SessionReceiver offer.
type settler interface {
	CompleteMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.CompleteMessageOptions) error
	AbandonMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.AbandonMessageOptions) error
	DeferMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeferMessageOptions) error
	DeadLetterMessage(ctx context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error
}

// Settlement is how a message was settled.
type Settlement string

// The settlements.
const (
	Completed    Settlement = "completed"
	Abandoned    Settlement = "abandoned"
	DeadLettered Settlement = "deadlettered"
	Deferred     Settlement = "deferred"
)

// MessageActions lets a handler settle its messages itself (the Functions
// ServiceBusMessageActions): complete, abandon (with properties to modify), dead-letter (with a
// reason and description), defer, and renew the lock. A message the handler settled is not
// settled again by the trigger, whatever the handler returns. A handler gets it as a parameter of
// type *servicebus.MessageActions (the trigger offers it by type), or with ActionsFrom(ctx).
//
// Every method takes the message to act on; nil means the invocation's message (single
// dispatch). The methods are safe for concurrent use; each message is settled at most once.
type MessageActions struct {
	s       settler
	renew   func(ctx context.Context, m *azservicebus.ReceivedMessage) error // nil: session lock
	timeout time.Duration

	mu      sync.Mutex
	msgs    []*azservicebus.ReceivedMessage
	state   map[*azservicebus.ReceivedMessage]Settlement // "" pending, set once settled
	busy    map[*azservicebus.ReceivedMessage]bool
	lost    map[*azservicebus.ReceivedMessage]bool
	ended   bool
	renewMu sync.Mutex
}

func newActions(s settler, renew func(context.Context, *azservicebus.ReceivedMessage) error, timeout time.Duration, msgs []*azservicebus.ReceivedMessage) *MessageActions {
	return &MessageActions{s: s, renew: renew, timeout: timeout, msgs: msgs,
		state: map[*azservicebus.ReceivedMessage]Settlement{}, busy: map[*azservicebus.ReceivedMessage]bool{}, lost: map[*azservicebus.ReceivedMessage]bool{}}
}

// Complete removes the message for good.
func (a *MessageActions) Complete(ctx context.Context, m *azservicebus.ReceivedMessage) error {
	return a.settle(ctx, m, Completed, func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		return a.s.CompleteMessage(ctx, m, nil)
	})
}

// Abandon releases the lock now: the message is delivered again at once, its delivery count
// increased (dead-lettered by the service once it reaches the entity's maxDeliveryCount).
// propertiesToModify (may be nil) are set on its application properties.
func (a *MessageActions) Abandon(ctx context.Context, m *azservicebus.ReceivedMessage, propertiesToModify map[string]any) error {
	return a.settle(ctx, m, Abandoned, func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		return a.s.AbandonMessage(ctx, m, &azservicebus.AbandonMessageOptions{PropertiesToModify: propertiesToModify})
	})
}

// DeadLetterOptions are the optional parts of a dead-lettering.
type DeadLetterOptions struct {
	Reason             string
	Description        string
	PropertiesToModify map[string]any
}

// DeadLetter moves the message to the entity's dead-letter queue with the reason and
// description (o may be nil).
func (a *MessageActions) DeadLetter(ctx context.Context, m *azservicebus.ReceivedMessage, o *DeadLetterOptions) error {
	opts := &azservicebus.DeadLetterOptions{}
	if o != nil {
		if o.Reason != "" {
			opts.Reason = &o.Reason
		}
		if o.Description != "" {
			opts.ErrorDescription = &o.Description
		}
		opts.PropertiesToModify = o.PropertiesToModify
	}
	return a.settle(ctx, m, DeadLettered, func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		return a.s.DeadLetterMessage(ctx, m, opts)
	})
}

// Defer sets the message aside: the trigger never receives it again; a receiver gets it by its
// sequence number (ReceiveDeferredMessages).
func (a *MessageActions) Defer(ctx context.Context, m *azservicebus.ReceivedMessage, propertiesToModify map[string]any) error {
	return a.settle(ctx, m, Deferred, func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
		return a.s.DeferMessage(ctx, m, &azservicebus.DeferMessageOptions{PropertiesToModify: propertiesToModify})
	})
}

// RenewLock renews the message's lock (in a session, the session's lock) and returns when it
// now expires.
func (a *MessageActions) RenewLock(ctx context.Context, m *azservicebus.ReceivedMessage) (time.Time, error) {
	m, err := a.own(m)
	if err != nil {
		return time.Time{}, err
	}
	if a.renew == nil {
		return time.Time{}, errors.New("servicebus: a session message's lock is its session's: use SessionActions.RenewLock")
	}
	a.renewMu.Lock()
	defer a.renewMu.Unlock()
	if err := a.renew(ctx, m); err != nil {
		if isLockLost(err) {
			a.markLost(m)
			return time.Time{}, fmt.Errorf("%w: message %s: %w", ErrLockLost, m.MessageID, err)
		}
		return time.Time{}, err
	}
	if m.LockedUntil == nil {
		return time.Time{}, nil
	}
	return *m.LockedUntil, nil
}

// Settled reports how the handler settled m ("" when it did not).
func (a *MessageActions) Settled(m *azservicebus.ReceivedMessage) Settlement {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m == nil && len(a.msgs) == 1 {
		m = a.msgs[0]
	}
	return a.state[m]
}

func (a *MessageActions) own(m *azservicebus.ReceivedMessage) (*azservicebus.ReceivedMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return nil, ErrInvocationEnded
	}
	if m == nil {
		if len(a.msgs) != 1 {
			return nil, fmt.Errorf("servicebus: a batch invocation must name the message to act on: %w", ErrNotThisInvocation)
		}
		return a.msgs[0], nil
	}
	for _, x := range a.msgs {
		if x == m {
			return m, nil
		}
	}
	return nil, ErrNotThisInvocation
}

func (a *MessageActions) settle(ctx context.Context, m *azservicebus.ReceivedMessage, how Settlement, do func(context.Context, *azservicebus.ReceivedMessage) error) error {
	m, err := a.own(m)
	if err != nil {
		return err
	}
	a.mu.Lock()
	if a.state[m] != "" || a.busy[m] {
		prev := a.state[m]
		a.mu.Unlock()
		return fmt.Errorf("%w (%s): message %s", ErrAlreadySettled, prev, m.MessageID)
	}
	a.busy[m] = true
	a.mu.Unlock()
	err = do(ctx, m)
	a.mu.Lock()
	delete(a.busy, m)
	if err == nil {
		a.state[m] = how
	}
	a.mu.Unlock()
	if err != nil {
		if isLockLost(err) {
			a.markLost(m)
			return fmt.Errorf("%w: %s message %s: %w", ErrLockLost, how, m.MessageID, err)
		}
		return fmt.Errorf("servicebus: %s message %s: %w", how, m.MessageID, err)
	}
	return nil
}

func (a *MessageActions) markLost(m *azservicebus.ReceivedMessage) {
	a.mu.Lock()
	a.lost[m] = true
	a.mu.Unlock()
}

func (a *MessageActions) lockLost(m *azservicebus.ReceivedMessage) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost[m]
}

// end stops the handler's access (the invocation returned) and waits for settlements in flight.
// It returns the messages the handler did not settle.
func (a *MessageActions) end() []*azservicebus.ReceivedMessage {
	for {
		a.mu.Lock()
		if len(a.busy) == 0 {
			a.ended = true
			var out []*azservicebus.ReceivedMessage
			for _, m := range a.msgs {
				if a.state[m] == "" {
					out = append(out, m)
				}
			}
			a.mu.Unlock()
			return out
		}
		a.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
}

func isLockLost(err error) bool {
	var e *azservicebus.Error
	return errors.As(err, &e) && e.Code == azservicebus.CodeLockLost
}

// SessionActions gives a session handler its session (the Functions ServiceBusSessionMessageActions):
// the session's state, its lock, and releasing it. A handler gets it as a parameter of type
// *servicebus.SessionActions, or with SessionFrom(ctx). Safe for concurrent use.
type SessionActions struct {
	r        *azservicebus.SessionReceiver
	lockMu   sync.Mutex // the SDK's lock expiry is not synchronized: renew and read under lockMu
	mu       sync.Mutex
	released bool
}

// SessionID is the session's id.
func (s *SessionActions) SessionID() string { return s.r.SessionID() }

// LockedUntil is when the session's lock expires (the trigger renews it while it holds the session).
func (s *SessionActions) LockedUntil() time.Time {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	return s.r.LockedUntil()
}

// State returns the session's state (nil when none was set).
func (s *SessionActions) State(ctx context.Context) ([]byte, error) {
	b, err := s.r.GetSessionState(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("servicebus: session %s: get state: %w", s.r.SessionID(), err)
	}
	return b, nil
}

// SetState stores the session's state (nil clears it).
func (s *SessionActions) SetState(ctx context.Context, state []byte) error {
	if err := s.r.SetSessionState(ctx, state, nil); err != nil {
		return fmt.Errorf("servicebus: session %s: set state: %w", s.r.SessionID(), err)
	}
	return nil
}

// RenewLock renews the session's lock.
func (s *SessionActions) RenewLock(ctx context.Context) (time.Time, error) {
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if err := s.r.RenewSessionLock(ctx, nil); err != nil {
		if isLockLost(err) {
			return time.Time{}, fmt.Errorf("%w: session %s: %w", ErrLockLost, s.r.SessionID(), err)
		}
		return time.Time{}, fmt.Errorf("servicebus: session %s: renew lock: %w", s.r.SessionID(), err)
	}
	return s.r.LockedUntil(), nil
}

// Release lets the session go once the messages in hand are settled (Functions'
// ReleaseSession): the trigger takes no more of its messages and accepts another session.
func (s *SessionActions) Release() {
	s.mu.Lock()
	s.released = true
	s.mu.Unlock()
}

func (s *SessionActions) isReleased() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.released
}

type ctxKey int

const (
	actionsKey ctxKey = iota
	sessionKey
)

// ActionsFrom returns the MessageActions of the invocation running with ctx (nil outside a
// serviceBusTrigger invocation).
func ActionsFrom(ctx context.Context) *MessageActions {
	a, _ := ctx.Value(actionsKey).(*MessageActions)
	return a
}

// SessionFrom returns the SessionActions of the session-enabled invocation running with ctx (nil
// when the trigger does not use sessions).
func SessionFrom(ctx context.Context) *SessionActions {
	s, _ := ctx.Value(sessionKey).(*SessionActions)
	return s
}
