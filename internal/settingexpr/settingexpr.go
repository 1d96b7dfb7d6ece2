// Package settingexpr expands %name% tokens from app settings, left to right, as the WebJobs
// name resolver's ResolveWholeString does (checklist C5). It has no dependencies, so that the
// connection resolver (package connection) and the binding expressions (extension/expr) share
// one implementation without depending on each other.
package settingexpr

import (
	"strconv"
	"strings"
	"unicode/utf16"
)

// Errors makes the errors Resolve returns: Syntax for an unclosed '%', Unresolved for a token
// whose setting lookup reports missing. Each takes a message already formatted.
type Errors struct {
	Syntax     func(msg string) error
	Unresolved func(msg string) error
}

// Resolve replaces every %name% token of s with lookup(name). The error texts are the real
// resolver's: "The '%' at position N does not have a closing '%'" and "'%name%' does not
// resolve to a value." (positions count UTF-16 code units from 0, as .NET does).
func Resolve(s string, lookup func(name string) (string, bool), mk Errors) (string, error) {
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
			return "", mk.Syntax("The '%' at position " + strconv.Itoa(utf16Pos(s[:start])) + " does not have a closing '%'")
		}
		end += start + 1
		name := s[start+1 : end]
		var v string
		ok := false
		if lookup != nil {
			v, ok = lookup(name)
		}
		if !ok {
			return "", mk.Unresolved("'%" + name + "%' does not resolve to a value.")
		}
		b.WriteString(s[i:start])
		b.WriteString(v)
		i = end + 1
	}
	return b.String(), nil
}

// utf16Pos is the length of s in UTF-16 code units.
func utf16Pos(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}
