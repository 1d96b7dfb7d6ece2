package extension_test

import (
	"context"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{Name: "panickyfactory", Bindings: []driver.BindingType{
		{Type: "panickyFactoryIn", NewInput: func(context.Context, *driver.BindContext) (driver.Input, error) {
			var m map[string]int
			//lint:ignore SA5000 deliberate: the factory panics like a buggy connector
			m["boom"] = 1 // a connector bug on odd input
			return nil, nil
		}},
	}})
}

// A binding factory that panics is a load error naming the binding, not a crash of Host.Run
// (as a panicking Trigger.Run already is).
func TestPanickingFactoryIsLoadError(t *testing.T) {
	name, _ := newQueue(t)
	err := buildErr(t, opts(nil), "factory", extension.Reflect(func(ctx context.Context, s string, v any) error { return nil }),
		trig(name), extension.Binding("panickyFactoryIn", "v", extension.DirIn, nil))
	if !strings.Contains(err.Error(), "bindings[1]") || !strings.Contains(err.Error(), "panic") {
		t.Errorf("err = %v, want a load error naming bindings[1] and the panic", err)
	}
}
