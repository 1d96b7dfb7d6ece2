package connection

import "github.com/azbind/azbind/extension/expr"

// expandSettings replaces %name% tokens with the settings' values, left to right, as the WebJobs
// name resolver's ResolveWholeString does (checklist C5), with its error texts. A token whose
// setting is missing or empty is an error (the real resolver checks string.IsNullOrEmpty).
func expandSettings(s string, settings *Settings) (string, error) {
	return expr.ResolveSettings(s, func(name string) (string, bool) {
		v, ok := settings.Get(name)
		return v, ok && v != ""
	})
}
