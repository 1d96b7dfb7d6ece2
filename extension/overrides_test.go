package extension_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
)

// A host declared through the Go API without host.json still honours AzureFunctionsJobHost__…
// settings (they override host.json defaults, whether or not a file exists), as an app folder
// host does.
func TestHostOverridesWithoutHostJSON(t *testing.T) {
	name, q := newQueue(t)
	run(t, opts(map[string]string{"AzureFunctionsJobHost__extensions__memory__maxDeliveries": "1"}), "overridden",
		extension.Action(func(ctx context.Context, s string) error { return errors.New("fails") }), trig(name))
	q.Send([]byte("x"))
	waitFor(t, "dead-lettered after one delivery (extensions.memory.maxDeliveries from the setting)", func() bool { return len(q.Dead()) == 1 })
}

// A wrong type in such a setting is a load error naming the setting.
func TestHostOverrideWrongTypeWithoutHostJSON(t *testing.T) {
	name, _ := newQueue(t)
	err := buildErr(t, opts(map[string]string{"AzureFunctionsJobHost__functionTimeout": "soon"}), "badtimeout",
		extension.Action(func(ctx context.Context, s string) error { return nil }), trig(name))
	if !errors.Is(err, extension.ErrInvalidConfig) || !strings.Contains(err.Error(), "AzureFunctionsJobHost__functionTimeout") {
		t.Errorf("err = %v, want ErrInvalidConfig naming the setting", err)
	}
}
