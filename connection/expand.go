package connection

import "fmt"

// expandSettings replaces %name% tokens with the settings' values, left to right, as the
// WebJobs name resolver's ResolveWholeString does (checklist C5), with its error texts. A token
// whose setting is missing or empty is an error.
//
// TODO: use extension/expr.ResolveSettings once it is implemented (it is a stub on main today).
func expandSettings(s string, settings *Settings) (string, error) {
	var out []byte
	i := 0
	for i < len(s) {
		start := indexByteFrom(s, '%', i)
		if start < 0 {
			out = append(out, s[i:]...)
			break
		}
		end := indexByteFrom(s, '%', start+1)
		if end < 0 {
			return "", fmt.Errorf("The '%%' at position %d does not have a closing '%%'", start)
		}
		name := s[start+1 : end]
		v, ok := settings.Get(name)
		if !ok || v == "" {
			return "", fmt.Errorf("'%%%s%%' does not resolve to a value.", name)
		}
		out = append(out, s[i:start]...)
		out = append(out, v...)
		i = end + 1
	}
	return string(out), nil
}

func indexByteFrom(s string, c byte, from int) int {
	for j := from; j < len(s); j++ {
		if s[j] == c {
			return j
		}
	}
	return -1
}
