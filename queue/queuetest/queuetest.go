// Package queuetest holds test helpers for code that uses Azure Queue Storage through azbind: fresh
// queue names, sending raw message text, peeking, counting, and reading a poison queue. They work
// against any account (tests use Azurite from internal/emulator).
package queuetest

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"
)

// Env is a queue account for tests.
type Env struct {
	Service *azqueue.ServiceClient
	// ConnectionString is the account's connection string (a secret outside emulators: never log it).
	ConnectionString string
}

// New connects to the account of connStr.
func New(connStr string) (*Env, error) {
	svc, err := azqueue.NewServiceClientFromConnectionString(connStr, nil)
	if err != nil {
		return nil, fmt.Errorf("queuetest: %w", err)
	}
	return &Env{Service: svc, ConnectionString: connStr}, nil
}

var seq atomic.Int64

// QueueName returns a fresh, valid, unused queue name derived from the test's name. The queue is
// not created.
func (e *Env) QueueName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	return fmt.Sprintf("t%s-%d-%d", base, time.Now().UnixNano()%1e6, seq.Add(1))
}

// NewQueue creates a fresh queue and returns its name; the queue and its poison queue are deleted
// when the test ends.
func (e *Env) NewQueue(t testing.TB) string {
	t.Helper()
	name := e.QueueName(t)
	if _, err := e.Service.CreateQueue(context.Background(), name, nil); err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	e.Cleanup(t, name)
	return name
}

// Cleanup deletes name and name-poison when the test ends (missing queues are fine).
func (e *Env) Cleanup(t testing.TB, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Service.DeleteQueue(ctx, name, nil)
		e.Service.DeleteQueue(ctx, name+"-poison", nil)
	})
}

// Queue returns a client for name.
func (e *Env) Queue(name string) *azqueue.QueueClient { return e.Service.NewQueueClient(name) }

// SendRaw enqueues text exactly as given.
func (e *Env) SendRaw(t testing.TB, queue, text string) string {
	t.Helper()
	resp, err := e.Queue(queue).EnqueueMessage(context.Background(), text, nil)
	if err != nil {
		t.Fatalf("enqueue to %s: %v", queue, err)
	}
	if len(resp.Messages) == 0 || resp.Messages[0].MessageID == nil {
		t.Fatalf("enqueue to %s: no message id returned", queue)
	}
	return *resp.Messages[0].MessageID
}

// Send enqueues body base64-encoded (the default messageEncoding) and returns the message id.
func (e *Env) Send(t testing.TB, queue string, body []byte) string {
	t.Helper()
	return e.SendRaw(t, queue, base64.StdEncoding.EncodeToString(body))
}

// Peek returns the text of up to 32 visible messages, without changing them. A missing queue
// has no messages.
func (e *Env) Peek(t testing.TB, queue string) []string {
	t.Helper()
	resp, err := e.Queue(queue).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: ptr(int32(32))})
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			return nil
		}
		t.Fatalf("peek %s: %v", queue, err)
	}
	var out []string
	for _, m := range resp.Messages {
		out = append(out, deref(m.MessageText))
	}
	return out
}

// PeekDecoded is Peek with base64 decoding (a message that does not decode fails the test).
func (e *Env) PeekDecoded(t testing.TB, queue string) []string {
	t.Helper()
	var out []string
	for _, s := range e.Peek(t, queue) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("message %q in %s is not base64: %v", s, queue, err)
		}
		out = append(out, string(b))
	}
	return out
}

// Count returns the approximate number of messages in queue, visible or not (0 when missing).
func (e *Env) Count(t testing.TB, queue string) int {
	t.Helper()
	resp, err := e.Queue(queue).GetProperties(context.Background(), nil)
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			return 0
		}
		t.Fatalf("properties of %s: %v", queue, err)
	}
	if resp.ApproximateMessagesCount == nil {
		return 0
	}
	return int(*resp.ApproximateMessagesCount)
}

// Poison returns the texts of the visible messages of queue's poison queue.
func (e *Env) Poison(t testing.TB, queue string) []string {
	t.Helper()
	return e.Peek(t, queue+"-poison")
}

// Receive dequeues and deletes messages from queue until n were read or timeout passes, and
// returns their texts (fewer than n on timeout).
func (e *Env) Receive(t testing.TB, queue string, n int, timeout time.Duration) []string {
	t.Helper()
	ctx := context.Background()
	q := e.Queue(queue)
	var out []string
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		resp, err := q.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: ptr(int32(min(32, n-len(out)))), VisibilityTimeout: ptr(int32(30))})
		if err != nil && !queueerror.HasCode(err, queueerror.QueueNotFound) {
			t.Fatalf("dequeue %s: %v", queue, err)
		}
		if len(resp.Messages) == 0 {
			time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
			continue
		}
		for _, m := range resp.Messages {
			out = append(out, deref(m.MessageText))
			if _, err := q.DeleteMessage(ctx, deref(m.MessageID), deref(m.PopReceipt), nil); err != nil {
				t.Fatalf("delete from %s: %v", queue, err)
			}
		}
	}
	return out
}

// WaitFor polls cond every 20 ms until it is true, failing the test with what after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
