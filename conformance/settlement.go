package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// HandlerSettlement: the handler's own settlement wins over the trigger's, whatever the handler
// returns afterwards (Service Bus: settled messages are skipped by auto-completion, reference §3.5).
func testHandlerSettlement(t *testing.T, e *env) {
	sh, ok := e.h.(SettlementHarness)
	if !ok {
		t.Fatalf("harness %T declares HandlerSettlement but is not a SettlementHarness", e.h)
	}
	src, ok := e.newSource().(SettlementSource)
	if !ok {
		t.Fatalf("harness %T declares HandlerSettlement but its sources are not SettlementSources", e.h)
	}
	// Each item says what the handler does with it, delivery by delivery.
	type plan struct {
		name  string
		first Decision // first delivery
		later Decision // any later delivery
		want  int      // deliveries
	}
	reason := "conformance: " + t.Name()
	plans := []plan{
		{"complete", Decision{Settle: Complete}, Decision{Err: errors.New("delivered again after Complete")}, 1},
		{"complete then fail", Decision{Settle: Complete, Err: errInjected}, Decision{Err: errors.New("delivered again after Complete")}, 1},
		{"abandon then succeed", Decision{Settle: Abandon}, Decision{}, 2},
		{"dead-letter then succeed", Decision{Settle: DeadLetter, Reason: reason}, Decision{}, 1},
		{"defer then succeed", Decision{Settle: Defer}, Decision{}, 1},
		{"auto", Decision{}, Decision{}, 1},
	}
	payloadOf := func(i int) []byte {
		return fmt.Appendf(nil, `{"test":%q,"n":%d,"plan":%q}`, t.Name(), i, plans[i].name)
	}
	var rec recorder
	e.start("settlement", sh.SettlingHandler(func(ctx context.Context, p []byte) Decision {
		rec.add(p, nil)
		for i := range plans {
			if bytes.Equal(p, payloadOf(i)) {
				if rec.count(p) == 1 {
					return plans[i].first
				}
				return plans[i].later
			}
		}
		return Decision{Err: fmt.Errorf("unexpected payload %q", p)}
	}), e.hostOptions(), src.Trigger("item"))
	for i := range plans {
		if err := src.Send(e.ctx, payloadOf(i)); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("every item settled", func() (bool, error) {
		n, err := src.Pending(e.ctx)
		if err != nil {
			return false, err
		}
		dl, err := src.DeadLettered(e.ctx)
		if err != nil {
			return false, err
		}
		df, err := src.Deferred(e.ctx)
		return n == 0 && len(dl) >= 1 && len(df) >= 1 && rec.count(payloadOf(2)) >= 2, err
	})
	for i, p := range plans {
		if c := rec.count(payloadOf(i)); c != p.want {
			t.Errorf("%s: delivered %d time(s), want %d", p.name, c, p.want)
		}
	}
	dl, _ := src.DeadLettered(e.ctx)
	if len(dl) != 1 || !bytes.Equal(dl[0].Payload, payloadOf(3)) || dl[0].Reason != reason {
		t.Errorf("dead-lettered = %q, want exactly the dead-lettered item with reason %q", dl, reason)
	}
	df, _ := src.Deferred(e.ctx)
	if len(df) != 1 || !slices.ContainsFunc(df, func(b []byte) bool { return bytes.Equal(b, payloadOf(4)) }) {
		t.Errorf("deferred = %q, want exactly the deferred item", df)
	}
}
