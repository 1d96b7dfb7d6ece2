package expr

import (
	"strings"
)

// ResolveSettings replaces every %name% in s with lookup(name), left to right ("%%" is not an
// escape: the real system has none, so it looks up the empty name). Errors (wrapping ErrSyntax /
// ErrUnresolved) use the real texts: "'%name%' does not resolve to a value." and "The '%' at
// position i does not have a closing '%'". Substituted values are not scanned again.
func ResolveSettings(s string, lookup func(name string) (string, bool)) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		start := strings.IndexByte(s[i:], '%')
		if start < 0 {
			b.WriteString(s[i:])
			break
		}
		start += i
		end := strings.IndexByte(s[start+1:], '%')
		if end < 0 {
			return "", syntaxErr("The '%%' at position %d does not have a closing '%%'", pos(s, start))
		}
		end += start + 1
		name := s[start+1 : end]
		var v string
		ok := false
		if lookup != nil {
			v, ok = lookup(name)
		}
		if !ok {
			return "", unresolvedErr("'%%%s%%' does not resolve to a value.", name)
		}
		b.WriteString(s[i:start])
		b.WriteString(v)
		i = end + 1
	}
	return b.String(), nil
}

// SettingNames returns the names of the %name% tokens in s, in order, and a syntax error for an
// unclosed '%'.
func SettingNames(s string) ([]string, error) {
	var names []string
	_, err := ResolveSettings(s, func(n string) (string, bool) { names = append(names, n); return "", true })
	return names, err
}
