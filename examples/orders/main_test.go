package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/azbind/azbind/internal/emulator"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestDemo runs the whole demo (README's "run it" command) against its own Azurite and checks
// what it reports, and that its output carries no account key.
func TestDemo(t *testing.T) {
	var buf syncBuf
	if err := run(slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, buf.b.String())
	}
	out := buf.b.String()
	for _, want := range []string{
		`message="Dear Ada Lovelace, your order o-1001 ships in 1 parcel(s)."`,
		`message="Dear ken, your order o-1005 ships in 1 parcel(s)."`,
		`queue=orders-poison message="{\"id\":\"o-1004\"`,
		`table=OrderStatus region=us order=o-1002 status=notified parcels=1`,
		"all orders handled; done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %s", want)
		}
	}
	if strings.Contains(out, emulator.DevAccountKey) {
		t.Error("demo output contains the account key")
	}
}
