// Package timespan parses durations the way the Azure Functions host reads them: .NET's
// TimeSpan.Parse with the invariant culture ("[ws][-]{ d | [d.]hh:mm[:ss[.ff]] }[ws]", also
// "d:hh:mm[:ss[.ff]]"), with every overflow reported as an error instead of a wrapped value.
//
// .NET keeps a TimeSpan in 100 ns ticks and accepts up to 10675199.02:48:05.4775807; a Go
// time.Duration counts nanoseconds and ends at 106751.23:47:16.854775807. Values that .NET accepts
// but time.Duration cannot hold are an error from Parse (ErrRange), never a truncated or negative
// duration. ParseTicks returns the .NET value itself.
//
// Parse also accepts Go duration strings with units ("90s", "1m30s", "250ms"): azbind's own
// extension, unambiguous because a .NET TimeSpan never contains a letter.
package timespan

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Errors wrapped by every parse error: ErrSyntax for text that is not a TimeSpan, ErrRange for a
// component or total outside its range (.NET's OverflowException), or a value too large for a Go
// time.Duration.
var (
	ErrSyntax = errors.New("not a valid TimeSpan")
	ErrRange  = errors.New("TimeSpan out of range")
)

// .NET's limits.
const (
	maxDays     = 10675199
	maxHours    = 23
	maxMinutes  = 59
	maxSeconds  = 59
	maxFraction = 9999999
	fracDigits  = 7

	TicksPerSecond = int64(10_000_000)
	ticksPerMinute = 60 * TicksPerSecond
	ticksPerHour   = 60 * ticksPerMinute
	ticksPerDay    = 24 * ticksPerHour

	// MaxTicks is TimeSpan.MaxValue.Ticks (10675199.02:48:05.4775807).
	MaxTicks = int64(math.MaxInt64)
	// MaxDuration is the longest time.Duration, written as a TimeSpan.
	MaxDuration = "106751.23:47:16.8547758"
)

// Error is a parse error. Its text names the input and what is wrong (callers add the fix); it
// unwraps to ErrSyntax or ErrRange.
type Error struct {
	Input string
	Kind  error  // ErrSyntax or ErrRange
	Msg   string // the problem, without the input
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns ErrSyntax or ErrRange.
func (e *Error) Unwrap() error { return e.Kind }

func syntaxErr(s string) error {
	return &Error{Input: s, Kind: ErrSyntax, Msg: fmt.Sprintf("String '%s' was not recognized as a valid TimeSpan", s)}
}

func rangeErr(s string) error {
	return &Error{Input: s, Kind: ErrRange, Msg: fmt.Sprintf("The TimeSpan string '%s' could not be parsed because at least one of the numeric components is out of range or contains too many digits (hours 0–23, minutes and seconds 0–59, at most 7 fraction digits, days up to %d)", s, maxDays)}
}

// token is a number or a separator of a TimeSpan string.
type token struct {
	num      int64
	zeros    int  // leading zeros of a number
	digits   int  // digits of a number, leading zeros included
	overflow bool // more than .NET's 28-bit number limit
	sep      string
	isNum    bool
}

func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		if c := s[i]; c >= '0' && c <= '9' {
			t := token{isNum: true}
			j := i
			for j < len(s) && s[j] == '0' {
				j++
			}
			t.zeros = j - i
			for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				if !t.overflow {
					t.num = t.num*10 + int64(s[j]-'0')
					if t.num&^0x0FFFFFFF != 0 {
						t.overflow = true
					}
				}
			}
			t.digits = j - i
			out = append(out, t)
			i = j
			continue
		}
		j := i
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		out = append(out, token{sep: s[i:j]})
		i = j
	}
	return out
}

// pattern is one way of reading numbers: the separators between (and around) them and which
// component each number is.
type pattern struct {
	seps  []string // len(comps)+1: before the first number, between, after the last
	comps string   // one letter per number: d h m s f
}

// The invariant culture's patterns: "c" ([-][d.]hh:mm:ss[.fffffff]) first, then the culture's
// own "g" form whose day separator is ':' (which is why "24:00:00" parses as 24 days, as
// .NET documents), and the app-compat forms "hh:mm:.ff" and "d.hh:mm:.ff".
var patterns = map[int][]pattern{
	1: {{[]string{"", ""}, "d"}},
	2: {{[]string{"", ":", ""}, "hm"}},
	3: {
		{[]string{"", ":", ":", ""}, "hms"},
		{[]string{"", ".", ":", ""}, "dhm"},
		{[]string{"", ":", ":.", ""}, "hmf"},
		{[]string{"", ":", ":", ""}, "dhm"}, // "g": d:hh:mm
	},
	4: {
		{[]string{"", ":", ":", ".", ""}, "hmsf"},
		{[]string{"", ".", ":", ":", ""}, "dhms"},
		{[]string{"", ".", ":", ":.", ""}, "dhmf"},
		{[]string{"", ":", ":", ":", ""}, "dhms"}, // "g": d:hh:mm:ss
	},
	5: {
		{[]string{"", ".", ":", ":", ".", ""}, "dhmsf"},
		{[]string{"", ":", ":", ":", ".", ""}, "dhmsf"}, // "g": d:hh:mm:ss.ff
	},
}

// ParseTicks parses s as .NET's TimeSpan.Parse(s, CultureInfo.InvariantCulture) does and
// returns its value in 100 ns ticks.
func ParseTicks(s string) (int64, error) {
	body := strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(body, "-") {
		neg, body = true, body[1:]
	}
	if body == "" {
		return 0, syntaxErr(s)
	}
	toks := tokenize(body)
	var nums []token
	var seps []string
	expectNum := true
	for _, t := range toks {
		if t.isNum {
			if expectNum {
				seps = append(seps, "")
			}
			nums = append(nums, t)
			expectNum = true
			continue
		}
		seps = append(seps, t.sep)
		expectNum = false
	}
	if expectNum {
		seps = append(seps, "")
	}
	// Now seps[i] precedes nums[i]; seps[len(nums)] follows the last number.
	if len(seps) != len(nums)+1 {
		return 0, syntaxErr(s)
	}
	sawRange := false
	for _, p := range patterns[len(nums)] {
		if !sameSeps(p.seps, seps) {
			continue
		}
		ticks, err := compose(p.comps, nums)
		if err != nil {
			sawRange = true
			continue
		}
		if neg {
			ticks = -ticks
		}
		return ticks, nil
	}
	if sawRange {
		return 0, rangeErr(s)
	}
	return 0, syntaxErr(s)
}

func sameSeps(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// compose checks each component against its range and adds them up with overflow checks.
func compose(comps string, nums []token) (int64, error) {
	var total int64
	for i, c := range comps {
		t := nums[i]
		if t.overflow {
			return 0, ErrRange
		}
		var add int64
		switch c {
		case 'd':
			if t.num > maxDays {
				return 0, ErrRange
			}
			add = t.num * ticksPerDay
		case 'h':
			if t.num > maxHours {
				return 0, ErrRange
			}
			add = t.num * ticksPerHour
		case 'm':
			if t.num > maxMinutes {
				return 0, ErrRange
			}
			add = t.num * ticksPerMinute
		case 's':
			if t.num > maxSeconds {
				return 0, ErrRange
			}
			add = t.num * TicksPerSecond
		case 'f':
			f, ok := fraction(t)
			if !ok {
				return 0, ErrRange
			}
			add = f
		}
		if total > MaxTicks-add {
			return 0, ErrRange
		}
		total += add
	}
	return total, nil
}

// fraction normalizes a fraction token to ticks: up to 7 digits are exact; more digits are
// rounded when they start with zeros (".00000005" is 1 tick) and out of range otherwise, as
// .NET does.
func fraction(t token) (int64, bool) {
	if t.num == 0 {
		return 0, true
	}
	if t.zeros == 0 && t.num > maxFraction {
		return 0, false
	}
	n := t.digits
	switch {
	case n == fracDigits:
		return t.num, true
	case n < fracDigits:
		v := t.num
		for range fracDigits - n {
			v *= 10
		}
		return v, true
	}
	v := math.Round(float64(t.num) / math.Pow10(n-fracDigits))
	return int64(v), true
}

// maxDurationTicks is the largest tick count a time.Duration can hold.
const maxDurationTicks = int64(math.MaxInt64 / 100)

// ToDuration converts ticks to a time.Duration, or fails with ErrRange when the value is beyond
// ±106751 days.
func ToDuration(ticks int64, input string) (time.Duration, error) {
	if ticks > maxDurationTicks || ticks < -maxDurationTicks {
		return 0, &Error{Input: input, Kind: ErrRange, Msg: fmt.Sprintf("The TimeSpan '%s' is longer than azbind can represent (at most %s, about 292 years)", input, MaxDuration)}
	}
	return time.Duration(ticks) * 100, nil
}

// Parse parses a .NET TimeSpan (see ParseTicks) or a Go duration with units ("90s") and returns
// it as a time.Duration. Out-of-range values are an error wrapping ErrRange.
func Parse(s string) (time.Duration, error) {
	if t := strings.TrimSpace(s); t != "" && strings.IndexFunc(t, isLetter) >= 0 {
		d, err := time.ParseDuration(t)
		if err != nil {
			if strings.Contains(err.Error(), "invalid duration") && !strings.Contains(err.Error(), "unit") && looksNumeric(t) {
				return 0, &Error{Input: s, Kind: ErrRange, Msg: fmt.Sprintf("The duration '%s' is longer than azbind can represent (at most %s, about 292 years)", s, MaxDuration)}
			}
			return 0, &Error{Input: s, Kind: ErrSyntax, Msg: fmt.Sprintf("'%s' is neither a TimeSpan ([d.]hh:mm[:ss[.fffffff]]) nor a Go duration (\"90s\")", s)}
		}
		return d, nil
	}
	ticks, err := ParseTicks(s)
	if err != nil {
		return 0, err
	}
	return ToDuration(ticks, s)
}

func isLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == 'µ' || r == 'μ'
}

// looksNumeric reports whether a Go duration string consists only of numbers with known units,
// so that a ParseDuration failure means overflow rather than a typo.
func looksNumeric(s string) bool {
	s = strings.TrimLeft(s, "+-")
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return false
		}
		s = s[i:]
		matched := false
		for _, u := range []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"} {
			if strings.HasPrefix(s, u) {
				// "ms" before "m" and "s": try the longest unit first.
				matched = true
				s = s[len(u):]
				break
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// FromMilliseconds converts a number of milliseconds (a JSON number where a duration is
// expected) to a time.Duration, or fails with ErrRange when it is not finite or too large.
func FromMilliseconds(ms float64) (time.Duration, error) {
	ns := ms * float64(time.Millisecond)
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return 0, &Error{Input: fmt.Sprint(ms), Kind: ErrRange, Msg: fmt.Sprintf("%s milliseconds is longer than azbind can represent (at most %s, about 292 years)", formatNumber(ms), MaxDuration)}
	}
	return time.Duration(ns), nil
}

func formatNumber(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	return fmt.Sprintf("%g", f)
}

// Format writes d as a .NET "c" TimeSpan: [-][d.]hh:mm:ss[.fffffff].
func Format(d time.Duration) string {
	var b strings.Builder
	ticks := int64(d / 100)
	if ticks < 0 {
		b.WriteByte('-')
		ticks = -ticks
	}
	days := ticks / ticksPerDay
	ticks %= ticksPerDay
	if days > 0 {
		fmt.Fprintf(&b, "%d.", days)
	}
	fmt.Fprintf(&b, "%02d:%02d:%02d", ticks/ticksPerHour, ticks%ticksPerHour/ticksPerMinute, ticks%ticksPerMinute/TicksPerSecond)
	if f := ticks % TicksPerSecond; f != 0 {
		fmt.Fprintf(&b, ".%07d", f)
	}
	return b.String()
}
