package settingexpr

import (
	"errors"
	"testing"
)

var (
	errSyntax     = errors.New("syntax")
	errUnresolved = errors.New("unresolved")
	mk            = Errors{
		Syntax:     func(m string) error { return errors.Join(errSyntax, errors.New(m)) },
		Unresolved: func(m string) error { return errors.Join(errUnresolved, errors.New(m)) },
	}
)

// The WebJobs name resolver's ResolveWholeString (checklist C5): left to right, values not
// scanned again, the real error texts, positions in UTF-16 code units.
func TestResolve(t *testing.T) {
	env := map[string]string{"A": "x%B%", "B": "b", "": "empty"}
	lookup := func(n string) (string, bool) { v, ok := env[n]; return v, ok }
	for _, c := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"%A%-%B%", "x%B%-b", ""},
		{"%%", "empty", ""},
		{"%C%", "", "unresolved\n'%C%' does not resolve to a value."},
		{"é😀%A", "", "syntax\nThe '%' at position 3 does not have a closing '%'"},
	} {
		got, err := Resolve(c.in, lookup, mk)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
