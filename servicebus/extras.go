package servicebus

import (
	"reflect"

	"github.com/azbind/azbind/extension/driver"
)

// extraTypes are the per-invocation values a serviceBusTrigger handler takes by type
// (driver.BindingType.Extras): *MessageActions always, *SessionActions with sessions.
var extraTypes = []reflect.Type{reflect.TypeFor[*MessageActions](), reflect.TypeFor[*SessionActions]()}

// setExtras offers the invocation's actions to the handler by type.
func setExtras(ev *driver.Event, acts *MessageActions, sess *SessionActions) {
	ev.Extras = []any{acts}
	if sess != nil {
		ev.Extras = append(ev.Extras, sess)
	}
}
