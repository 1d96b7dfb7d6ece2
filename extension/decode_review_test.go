package extension_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// Decode reports field types it cannot fill as errors naming the field; it never panics (a panic
// in a binding factory would crash Host.Run).
func TestDecodeOddFieldsDoNotPanic(t *testing.T) {
	var withMap struct {
		Labels map[string]string `binding:"labels"`
	}
	var withUnexported struct {
		queue string `binding:"queue"`
	}
	var withIface struct {
		S fmt.Stringer `binding:"s"`
	}
	for _, tc := range []struct {
		name  string
		v     any
		props map[string]any
		field string
	}{
		{"map[string]string", &withMap, map[string]any{"labels": map[string]any{"a": 1.0}}, "labels"},
		{"unexported", &withUnexported, map[string]any{"queue": "q"}, "queue"},
		{"interface", &withIface, map[string]any{"s": "text"}, "s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("DecodeMap panicked: %v", r)
					}
				}()
				err = driver.DecodeMap(tc.props, tc.v, "fn/function.json: bindings[0]")
			}()
			if err == nil || !errors.Is(err, extension.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("err = %v, want ErrInvalidConfig naming %q", err, tc.field)
			}
		})
	}
}

// DecodeConfig errors name the host.json section (extensions.<name>.<field>), as documented.
func TestDecodeConfigErrorNamesSection(t *testing.T) {
	name, _ := newQueue(t)
	o := opts(nil)
	o.HostConfig = &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": "lots"}}}
	err := buildErr(t, o, "badconfig", extension.Action(func(context.Context, string) error { return nil }), trig(name))
	if !strings.Contains(err.Error(), "extensions.memory") || !strings.Contains(err.Error(), "maxDeliveries") {
		t.Errorf("err = %v, want it to name extensions.memory and maxDeliveries", err)
	}
}
