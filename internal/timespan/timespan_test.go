package timespan

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

const (
	sec  = time.Second
	mins = time.Minute
	hour = time.Hour
	day  = 24 * time.Hour
)

// Cases from .NET's TimeSpan.Parse documentation (the "String to Parse → TimeSpan" example table
// of System.TimeSpan.Parse and its remarks: "24:00:00" is 24 days; "000000006" is 6 days;
// "12.12:12:12.12345678" overflows), plus the limits of TimeSpan and of time.Duration.
func TestParseDotNetDocumentedCases(t *testing.T) {
	ok := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"14", 14 * day},
		{"1:2:3", hour + 2*mins + 3*sec},
		{"0:0:0.250", 250 * time.Millisecond},
		{"10.20:30:40.50", 10*day + 20*hour + 30*mins + 40*sec + 500*time.Millisecond},
		{"99.23:59:59.9999999", 99*day + 23*hour + 59*mins + 59*sec + 999999900},
		{"0023:0059:0059.0099", 23*hour + 59*mins + 59*sec + 9900*time.Microsecond},
		{"23:0:0", 23 * hour},
		{"24:00:00", 24 * day}, // hours out of range: read as d:hh:mm, as .NET documents
		{"0:59:0", 59 * mins},
		{"10:0", 10 * hour},
		{"0:10", 10 * mins},
		{"10:20:0", 10*hour + 20*mins},
		{"0.12:00", 12 * hour},
		{"10.12:00", 10*day + 12*hour},
		{"000000006", 6 * day},
		{"00:05:00", 5 * mins},
		{"  00:00:30  ", 30 * sec},
		{"-00:00:01", -sec},
		{"-1", -day}, // functionTimeout "-1": minus one day, which the host reads as "no limit"
		{"1:02:03:04", day + 2*hour + 3*mins + 4*sec},
		{"1:02:03:04.5", day + 2*hour + 3*mins + 4*sec + 500*time.Millisecond},
		{"10:20:.5", 10*hour + 20*mins + 500*time.Millisecond}, // app-compat hh:mm:.ff
		{"00:00:00.00000005", 100},                             // rounded to 1 tick
		{"106751.23:47:16.8547758", time.Duration(math.MaxInt64 / 100 * 100)},
		// Go durations with units are azbind's own extension.
		{"90s", 90 * sec},
		{"1m30s", 90 * sec},
		{"250ms", 250 * time.Millisecond},
	}
	for _, tc := range ok {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	bad := []struct {
		in   string
		kind error
	}{
		{"", ErrSyntax},
		{"   ", ErrSyntax},
		{"0:60:0", ErrRange},
		{"0:0:60", ErrRange},
		{"30:00", ErrRange},
		{"10:", ErrSyntax},
		{":10", ErrSyntax},
		{"10:20:", ErrSyntax},
		{".123", ErrSyntax},
		{"10.", ErrSyntax},
		{"10.12", ErrSyntax},
		{"12.12:12:12.12345678", ErrRange},
		{"1.2.3", ErrSyntax},
		{"1:2:3:4:5:6", ErrSyntax},
		{"+00:00:01", ErrSyntax},
		{"- 00:00:01", ErrSyntax},
		{"00;00;01", ErrSyntax},
		{"10675200", ErrRange},
		{"10675199.02:48:05.4775808", ErrRange},
		{"99999999999999999999", ErrRange},
		// Valid .NET values that a time.Duration cannot hold: an error, never a wrapped value.
		{"213503.23:34:35", ErrRange},
		{"10675199.02:48:05.4775807", ErrRange},
		{"106752", ErrRange},
		{"-106752", ErrRange},
		{"100000000h", ErrRange},
		{"5 minutes", ErrSyntax},
		{"1x", ErrSyntax},
	}
	for _, tc := range bad {
		got, err := Parse(tc.in)
		if err == nil || !errors.Is(err, tc.kind) {
			t.Errorf("Parse(%q) = %v, %v; want an error wrapping %v", tc.in, got, err, tc.kind)
			continue
		}
		if !strings.Contains(err.Error(), "'"+tc.in+"'") {
			t.Errorf("Parse(%q) error %q does not quote the input", tc.in, err)
		}
	}
}

func TestParseTicksMaxValue(t *testing.T) {
	// TimeSpan.MaxValue round-trips in ticks even though time.Duration cannot hold it.
	ticks, err := ParseTicks("10675199.02:48:05.4775807")
	if err != nil || ticks != math.MaxInt64 {
		t.Fatalf("ParseTicks(MaxValue) = %d, %v", ticks, err)
	}
	if _, err := ToDuration(ticks, "x"); !errors.Is(err, ErrRange) {
		t.Fatalf("ToDuration(MaxValue) = %v; want ErrRange", err)
	}
}

func TestFromMilliseconds(t *testing.T) {
	if d, err := FromMilliseconds(1500); err != nil || d != 1500*time.Millisecond {
		t.Errorf("FromMilliseconds(1500) = %v, %v", d, err)
	}
	for _, f := range []float64{1e20, -1e20, math.Inf(1), math.NaN()} {
		d, err := FromMilliseconds(f)
		if !errors.Is(err, ErrRange) {
			t.Errorf("FromMilliseconds(%g) = %v, %v; want ErrRange", f, d, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * mins:                            "00:05:00",
		-sec:                                "-00:00:01",
		day + 2*hour + 500*time.Millisecond: "1.02:00:00.5000000",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q; want %q", d, got, want)
		}
		if back, err := Parse(Format(d)); err != nil || back != d {
			t.Errorf("Parse(Format(%v)) = %v, %v", d, back, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"00:05:00", "1.02:03:04.5", "24:00:00", "-1", "90s", "10675199.02:48:05.4775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !(errors.Is(err, ErrSyntax) || errors.Is(err, ErrRange)) {
				t.Fatalf("Parse(%q): error %v is not a *Error wrapping ErrSyntax/ErrRange", s, err)
			}
			return
		}
		neg := strings.HasPrefix(strings.TrimSpace(s), "-")
		if d < 0 && !neg {
			t.Fatalf("Parse(%q) = %v: negative without a minus sign", s, d)
		}
	})
}
