package extension

import (
	"context"

	"github.com/azbind/azbind/extension/driver"
)

// manualTrigger is Functions' built-in trigger of a function that runs only when asked:
// POST /admin/functions/<Name> {"input": "…"} with the master key (the handler receives input,
// as a string or decoded from JSON into its parameter type). Its Run only waits for the host to
// stop. {"type": "manualTrigger", "direction": "in", "name": "input"}.
func init() {
	driver.Register(driver.Extension{Name: "manual", Bindings: []driver.BindingType{{
		Type:       "manualTrigger",
		NewTrigger: func(context.Context, *driver.BindContext) (driver.Trigger, error) { return manualTrigger{}, nil },
	}}})
}

type manualTrigger struct{}

func (manualTrigger) Run(ctx context.Context, _ driver.Executor) error {
	<-ctx.Done()
	return nil
}

// ManualTrigger returns a manualTrigger binding named name (see POST /admin/functions/<Name>).
func ManualTrigger(name string) *BindingSpec {
	return &BindingSpec{Type: "manualTrigger", Name: name, Direction: DirIn, Properties: map[string]any{}}
}
