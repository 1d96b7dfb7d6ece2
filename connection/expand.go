package connection

import (
	"errors"

	"github.com/azbind/azbind/internal/settingexpr"
)

// expandSettings replaces %name% tokens with the settings' values, left to right, as the WebJobs
// name resolver's ResolveWholeString does (checklist C5), with its error texts. A token whose
// setting is missing or empty is an error (the real resolver checks string.IsNullOrEmpty).
func expandSettings(s string, settings *Settings) (string, error) {
	return settingexpr.Resolve(s, func(name string) (string, bool) {
		v, ok := settings.Get(name)
		return v, ok && v != ""
	}, settingexpr.Errors{Syntax: errors.New, Unresolved: errors.New})
}
