package route

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// constraint is one inline constraint of a parameter ({id:int}, {n:range(1,9)}).
type constraint struct {
	text string // as written, for messages and Key
	ok   func(v string) bool
}

// constraintNames are the constraints ASP.NET Core's DefaultInlineConstraintResolver knows that
// this package implements.
var constraintNames = []string{"int", "long", "bool", "guid", "alpha", "datetime", "double", "float", "decimal",
	"min(n)", "max(n)", "range(min,max)", "length(n)", "length(min,max)", "minlength(n)", "maxlength(n)", "required", "regex(expression)"}

// parseConstraint parses one constraint at the start of s (after its ':') and returns it with the
// number of bytes it used. Arguments end at the first ')' followed by ':', '=', a final '?' or
// the end.
func parseConstraint(s string) (constraint, int, error) {
	n := strings.IndexAny(s, ":(=")
	if n < 0 {
		n = len(s)
	}
	name := s[:n]
	if n == len(s) && strings.HasSuffix(name, "?") {
		name = name[:len(name)-1]
		n--
	}
	used := n
	var args string
	hasArgs := false
	if n < len(s) && s[n] == '(' {
		hasArgs = true
		end := -1
		for i := n + 1; i < len(s); i++ {
			if s[i] != ')' {
				continue
			}
			rest := s[i+1:]
			if rest == "" || rest == "?" || rest[0] == ':' || rest[0] == '=' {
				end = i
				break
			}
		}
		if end < 0 {
			return constraint{}, 0, fmt.Errorf("the constraint %q has no closing ')'", s)
		}
		args = s[n+1 : end]
		used = end + 1
	}
	text := s[:used]
	c, err := makeConstraint(strings.ToLower(name), args, hasArgs)
	if err != nil {
		return constraint{}, 0, fmt.Errorf("constraint %q: %w", text, err)
	}
	c.text = text
	return c, used, nil
}

func intArgs(args string, want ...int) ([]int64, error) {
	parts := strings.Split(args, ",")
	if !containsInt(want, len(parts)) {
		return nil, fmt.Errorf("takes %s argument(s), got %d", joinInts(want), len(parts))
	}
	out := make([]int64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("argument %q is not an integer", strings.TrimSpace(p))
		}
		out[i] = v
	}
	return out, nil
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}

func joinInts(list []int) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " or ")
}

func makeConstraint(name, args string, hasArgs bool) (constraint, error) {
	noArgs := func(f func(string) bool) (constraint, error) {
		if hasArgs {
			return constraint{}, fmt.Errorf("takes no arguments")
		}
		return constraint{ok: f}, nil
	}
	switch name {
	case "int":
		return noArgs(func(v string) bool { _, err := strconv.ParseInt(v, 10, 32); return err == nil })
	case "long":
		return noArgs(func(v string) bool { _, err := strconv.ParseInt(v, 10, 64); return err == nil })
	case "bool":
		return noArgs(func(v string) bool { return strings.EqualFold(v, "true") || strings.EqualFold(v, "false") })
	case "guid":
		return noArgs(isGUID)
	case "alpha":
		return noArgs(func(v string) bool {
			for i := 0; i < len(v); i++ {
				if c := v[i] | 0x20; c < 'a' || c > 'z' {
					return false
				}
			}
			return true
		})
	case "datetime":
		return noArgs(isDateTime)
	case "double", "float":
		return noArgs(func(v string) bool {
			_, err := strconv.ParseFloat(v, 64)
			return err == nil && !strings.ContainsAny(v, "_xXpP")
		})
	case "decimal":
		return noArgs(isDecimal)
	case "required":
		return noArgs(func(v string) bool { return v != "" })
	case "min", "max":
		a, err := intArgs(args, 1)
		if err != nil {
			return constraint{}, err
		}
		n, isMin := a[0], name == "min"
		return constraint{ok: func(v string) bool {
			x, err := strconv.ParseInt(v, 10, 64)
			return err == nil && (isMin && x >= n || !isMin && x <= n)
		}}, nil
	case "range":
		a, err := intArgs(args, 2)
		if err != nil {
			return constraint{}, err
		}
		if a[0] > a[1] {
			return constraint{}, fmt.Errorf("the minimum %d is greater than the maximum %d", a[0], a[1])
		}
		return constraint{ok: func(v string) bool {
			x, err := strconv.ParseInt(v, 10, 64)
			return err == nil && x >= a[0] && x <= a[1]
		}}, nil
	case "length", "minlength", "maxlength":
		want := []int{1}
		if name == "length" {
			want = []int{1, 2}
		}
		a, err := intArgs(args, want...)
		if err != nil {
			return constraint{}, err
		}
		for _, x := range a {
			if x < 0 {
				return constraint{}, fmt.Errorf("a length cannot be negative")
			}
		}
		lo, hi := a[0], a[0]
		switch {
		case len(a) == 2:
			hi = a[1]
			if lo > hi {
				return constraint{}, fmt.Errorf("the minimum length %d is greater than the maximum %d", lo, hi)
			}
		case name == "minlength":
			hi = 1 << 62
		case name == "maxlength":
			lo = 0
		}
		return constraint{ok: func(v string) bool {
			n := int64(utf8.RuneCountInString(v))
			return n >= lo && n <= hi
		}}, nil
	case "regex":
		if !hasArgs || args == "" {
			return constraint{}, fmt.Errorf("needs a regular expression: regex(^[a-z]+$)")
		}
		// ASP.NET Core matches case-insensitively and unanchored (write ^…$ to anchor).
		re, err := regexp.Compile("(?i)" + args)
		if err != nil {
			return constraint{}, fmt.Errorf("is not a regular expression Go's regexp accepts (RE2 syntax; no lookaround or backreferences): %w", err)
		}
		return constraint{ok: re.MatchString}, nil
	}
	return constraint{}, fmt.Errorf("unknown constraint %q: use one of %s", name, strings.Join(constraintNames, ", "))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f') {
			return false
		}
	}
	return true
}

// isGUID accepts .NET Guid.TryParse's N, D, B and P formats.
func isGUID(v string) bool {
	switch len(v) {
	case 32:
		return isHex(v)
	case 38:
		if !(v[0] == '{' && v[37] == '}' || v[0] == '(' && v[37] == ')') {
			return false
		}
		v = v[1:37]
	case 36:
	default:
		return false
	}
	if v[8] != '-' || v[13] != '-' || v[18] != '-' || v[23] != '-' {
		return false
	}
	return isHex(v[:8]) && isHex(v[9:13]) && isHex(v[14:18]) && isHex(v[19:23]) && isHex(v[24:])
}

// isDecimal accepts .NET decimal.TryParse's invariant number style: sign, digits, one '.', no
// exponent.
func isDecimal(v string) bool {
	s := strings.TrimSpace(v)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// dateLayouts are the forms of .NET DateTime.TryParse (invariant culture) that a path segment
// can carry (no '/').
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02",
	"2006-01-02T15:04:05.9999999", "15:04:05", "15:04", "January 2, 2006", "2 January 2006", "Jan 2, 2006", "2 Jan 2006", "Mon, 02 Jan 2006 15:04:05 MST"}

func isDateTime(v string) bool {
	for _, l := range dateLayouts {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}
