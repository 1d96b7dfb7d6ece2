package expr

import "github.com/azbind/azbind/internal/settingexpr"

// ResolveSettings replaces every %name% in s with lookup(name), left to right ("%%" is not an
// escape: the real system has none, so it looks up the empty name). Errors (wrapping ErrSyntax /
// ErrUnresolved) use the real texts: "'%name%' does not resolve to a value." and "The '%' at
// position i does not have a closing '%'". Substituted values are not scanned again.
func ResolveSettings(s string, lookup func(name string) (string, bool)) (string, error) {
	return settingexpr.Resolve(s, lookup, settingexpr.Errors{
		Syntax:     func(msg string) error { return &Error{Msg: msg, Kind: ErrSyntax} },
		Unresolved: func(msg string) error { return &Error{Msg: msg, Kind: ErrUnresolved} },
	})
}

// SettingNames returns the names of the %name% tokens in s, in order, and a syntax error for an
// unclosed '%'.
func SettingNames(s string) ([]string, error) {
	var names []string
	_, err := ResolveSettings(s, func(n string) (string, bool) { names = append(names, n); return "", true })
	return names, err
}
