package extension_test

import (
	"context"
	"testing"

	"github.com/azbind/azbind/extension"
)

// crash the host at build.
func TestBatchHandlerWithoutParams(t *testing.T) {
	name, q := newQueue(t)
	th := run(t, opts(nil), "batchnoparam", extension.Reflect(func(ctx context.Context) error { return nil }),
		trig(name, "cardinality", "many"))
	_ = th
	q.Send([]byte("x"))
	waitFor(t, "acknowledged", func() bool { return len(q.Acked()) == 1 })
}
