package servicebus

import "github.com/azbind/azbind/extension/driver"

// setExtras offers the invocation's actions to the handler by type. Until the runtime offers
// per-event values by type (driver.Event.Extras), handlers reach them with ActionsFrom(ctx) and
// SessionFrom(ctx).
func setExtras(ev *driver.Event, acts *MessageActions, sess *SessionActions) {}
