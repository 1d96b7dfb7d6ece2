package amqppeer_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/internal/amqppeer"
)

// peer is the one amqp-peer of this test package; every test creates its own entities on it.
var peer *amqppeer.Peer

func TestMain(m *testing.M) {
	p, err := amqppeer.Launch(nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "amqppeer tests: %v\n", err)
		os.Exit(1)
	}
	peer = p
	code := m.Run()
	if os.Getenv("AMQPPEER_DUMP_LOG") != "" {
		if b, err := os.ReadFile(p.LogFile); err == nil {
			os.Stderr.Write(b)
		}
	}
	if err := p.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "amqppeer tests: stopping %v: %v\n", p, err)
	}
	os.Exit(code)
}

var entitySeq atomic.Int64

// name returns a unique entity name for the test.
func name(t *testing.T) string {
	t.Helper()
	n := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(n) > 30 {
		n = n[len(n)-30:]
	}
	return fmt.Sprintf("%s-%d", strings.Trim(n, "-"), entitySeq.Add(1))
}

// ctx returns a context that ends with the test (at most 30 s).
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func create(t *testing.T, cfg amqppeer.Config) {
	t.Helper()
	if err := peer.CreateEntities(ctx(t), cfg); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond every 20 ms until it returns "" or the timeout passes, then fails with the
// last message.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	t.Helper()
	return context.WithTimeout(context.Background(), d)
}
