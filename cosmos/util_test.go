package cosmos

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
)

// newTestTrigger builds the trigger of spec outside a host (for Run and configuration checks).
func newTestTrigger(t testing.TB, spec *driver.BindingSpec) (*trigger, error) {
	t.Helper()
	return newLoggedTrigger(t, spec, slog.New(slog.DiscardHandler))
}

func newLoggedTrigger(t testing.TB, spec *driver.BindingSpec, logger *slog.Logger) (*trigger, error) {
	t.Helper()
	s := settings()
	spec.Where = "test: " + t.Name()
	bc := &driver.BindContext{Function: "Direct", Spec: spec, Host: testhost.Services(t, extension.HostOptions{HostID: "direct",
		Settings: s, Connections: resolver(s), Storage: extension.NewMemoryStorage(), Logger: logger})}
	tr, err := newTrigger(context.Background(), bc)
	if err != nil {
		return nil, err
	}
	return tr.(*trigger), nil
}

// logCapture is a slog.Handler that keeps every record.
type logCapture struct {
	mu   sync.Mutex
	recs []string
	lvls []slog.Level
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.lvls = append(l.lvls, r.Level)
	l.mu.Unlock()
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

func (l *logCapture) has(level slog.Level, substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range l.recs {
		if l.lvls[i] == level && strings.Contains(r, substr) {
			return true
		}
	}
	return false
}

func (l *logCapture) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

func policyNoRetry() policy.RetryOptions { return policy.RetryOptions{MaxRetries: -1} }

func (l *logCapture) countLevel(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, lv := range l.lvls {
		if lv == level {
			n++
		}
	}
	return n
}

// An idle lease's polling backs off after a quiet minute (issue 24: 12 polls a minute per lease
// at the default 5 s), doubling up to 4 × feedPollDelay (30 s at most), and returns to
// feedPollDelay with the first change (the worker resets it).
func TestIdlePollBackoff(t *testing.T) {
	tm := timing{feedPollDelay: DefaultFeedPollDelay}
	var got []time.Duration
	d := tm.feedPollDelay
	for _, quiet := range []time.Duration{0, 30 * time.Second, 55 * time.Second, time.Minute, 65 * time.Second, 75 * time.Second, 95 * time.Second, 2 * time.Minute} {
		d = tm.nextPollDelay(d, quiet)
		got = append(got, d)
	}
	want := []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 10 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	for poll, cap := range map[time.Duration]time.Duration{time.Second: 4 * time.Second, 10 * time.Second: 30 * time.Second, time.Minute: time.Minute} {
		if c := (timing{feedPollDelay: poll}).idlePollDelay(); c != cap {
			t.Errorf("feedPollDelay %v: idle cap %v, want %v", poll, c, cap)
		}
	}
}
