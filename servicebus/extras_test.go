package servicebus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/amqppeer"
	"github.com/azbind/azbind/servicebus"
)

// A handler takes *MessageActions and *SessionActions as parameters (offered by type), beside
// the message; RenewLock works for a plain queue and is refused for a session message.
func TestActionsAsParameters(t *testing.T) {
	t.Parallel()
	q := newQueue(t, amqppeer.Queue{})
	done := make(chan error, 2)
	startHost(t, hostCfg{}, "Params", extension.Reflect(func(ctx context.Context, m *azservicebus.ReceivedMessage, a *servicebus.MessageActions, s *servicebus.SessionActions) error {
		if a == nil || s != nil {
			done <- errors.New("want MessageActions and no SessionActions")
			return nil
		}
		before := *m.LockedUntil
		until, err := a.RenewLock(ctx, m)
		if err == nil && !until.After(before.Add(-time.Second)) {
			err = errors.New("RenewLock did not move the lock")
		}
		if err == nil {
			err = a.Complete(ctx, m)
		}
		done <- err
		return nil
	}), servicebus.Trigger("m", q))
	send(t, q, "x")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("not delivered")
	}
	wantCounts(t, q, amqppeer.Counts{})

	sq := newQueue(t, amqppeer.Queue{RequiresSession: true})
	startHost(t, hostCfg{ext: map[string]any{"sessionIdleTimeout": "00:00:00.5"}}, "SessionParams", extension.Reflect(func(ctx context.Context, b []byte, a *servicebus.MessageActions, s *servicebus.SessionActions) error {
		if a == nil || s == nil || s.SessionID() != "S1" {
			done <- errors.New("want MessageActions and SessionActions of S1")
			return nil
		}
		if _, err := a.RenewLock(ctx, nil); err == nil {
			done <- errors.New("RenewLock of a session message succeeded")
			return nil
		}
		done <- nil
		return nil
	}), servicebus.Trigger("b", sq, map[string]any{"isSessionsEnabled": true}))
	sendSession(t, sq, "S1", "y")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("not delivered")
	}
	wantCounts(t, sq, amqppeer.Counts{})
}
