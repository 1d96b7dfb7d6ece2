package timer

import "github.com/azbind/azbind/extension/driver"

func init() {
	driver.Register(driver.Extension{
		Name: "timers",
		Bindings: []driver.BindingType{
			{Type: "timerTrigger", NewTrigger: newTrigger},
		},
	})
}

// Trigger declares a timerTrigger for the Go API (Host.Func): schedule is an NCRONTAB
// expression, a TimeSpan or a %setting%; props may add "runOnStartup" and "useMonitor".
func Trigger(name, schedule string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn("timerTrigger", name, driver.DirIn, "schedule", schedule, props...)
}
