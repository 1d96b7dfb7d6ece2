package timer

import (
	"fmt"
	"strings"
	"time"

	"github.com/azbind/azbind/internal/timespan"
)

// Schedule is a parsed timerTrigger schedule: an NCRONTAB expression or a TimeSpan, with the
// time zone whose wall clock a cron expression follows.
type Schedule struct {
	expr         string
	cron         *crontab      // nil for a TimeSpan
	interval     time.Duration // for a TimeSpan
	loc          *time.Location
	cronInterval bool
}

// ScheduleError is the error of an expression that is neither a cron expression nor a TimeSpan;
// its text is Functions' exactly.
type ScheduleError struct {
	Expression string
	// Cron is NCrontab's reason the expression is not a cron expression (for diagnostics).
	Cron error
}

func (e *ScheduleError) Error() string {
	return fmt.Sprintf("The schedule expression '%s' was not recognized as a valid cron expression or timespan string.", e.Expression)
}

// ParseSchedule parses expr as Functions' TimerSchedule.Create does (after %setting%
// resolution): first as NCRONTAB — 5 fields are minutes, hours, days, months, days of week; any
// other count is parsed with a leading seconds field (CronSchedule.HasSeconds), so only 6 more
// succeed — then as a .NET TimeSpan ("hh:mm[:ss]", "d.hh:mm:ss", a bare number of days). Cron
// occurrences follow loc's wall clock (nil: UTC); a TimeSpan adds absolute time.
//
// Unlike Functions, a zero or negative TimeSpan is rejected (Functions would fire without pause).
func ParseSchedule(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	seconds := len(strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' })) != 5
	c, cerr := parseCrontab(expr, seconds)
	if cerr == nil {
		s := &Schedule{expr: expr, cron: c, loc: loc}
		s.cronInterval = c.isInterval()
		return s, nil
	}
	ticks, terr := timespan.ParseTicks(expr)
	if terr == nil {
		d, err := timespan.ToDuration(ticks, expr)
		if err != nil {
			return nil, &ScheduleError{Expression: expr, Cron: err}
		}
		if d <= 0 {
			return nil, &ScheduleError{Expression: expr, Cron: fmt.Errorf("a TimeSpan schedule must be positive")}
		}
		return &Schedule{expr: expr, interval: d, loc: loc}, nil
	}
	return nil, &ScheduleError{Expression: expr, Cron: cerr}
}

// isInterval is CronSchedule.IsInterval: any of the first fields (seconds, minutes, hours; or
// minutes, hours without seconds) of the normalised expression holds "*", "/" or "-".
func (c *crontab) isInterval() bool {
	parts := strings.Fields(c.String())
	n := 2
	if len(parts) == 6 {
		n = 3
	}
	for _, p := range parts[:n] {
		if strings.ContainsAny(p, "*/-") {
			return true
		}
	}
	return false
}

// Expression returns the expression as given.
func (s *Schedule) Expression() string { return s.expr }

// Location returns the time zone of the schedule.
func (s *Schedule) Location() *time.Location { return s.loc }

// IsCron reports whether the schedule is an NCRONTAB expression (false: a TimeSpan).
func (s *Schedule) IsCron() bool { return s.cron != nil }

// Interval returns a TimeSpan schedule's period (0 for cron).
func (s *Schedule) Interval() time.Duration { return s.interval }

// String is the schedule as Functions logs it: "Cron: '0 */5 * * * *'" (normalised, as
// NCrontab prints it) or "Constant: 00:05:00".
func (s *Schedule) String() string {
	if s.cron != nil {
		return fmt.Sprintf("Cron: '%s'", s.cron.String())
	}
	return "Constant: " + timespan.Format(s.interval)
}

// Next returns the first occurrence after now, in the schedule's time zone, and false when the
// schedule has none before the year 10000 (e.g. "0 0 30 2 *").
//
// DST follows CronSchedule.GetNextOccurrence: a wall-clock time skipped by spring-forward runs
// at the same wall time plus the gap (02:30 becomes 03:30); on fall-back day a point-in-time
// schedule ("0 30 1 * * *") runs once, in the first (daylight) copy of the hour, while an interval
// schedule ("0 */20 * * * *") runs through both copies. A TimeSpan schedule adds absolute time.
func (s *Schedule) Next(now time.Time) (time.Time, bool) {
	if s.cron == nil {
		return now.Add(s.interval).In(s.loc), true
	}
	now = now.In(s.loc)
	w, ok := s.cron.next(wallOf(now), maxWall)
	if !ok || !w.Before(maxWall) {
		return time.Time{}, false
	}
	next := s.fromWall(w)
	nowAmb, nextAmb := s.ambiguous(now), s.ambiguous(next)
	if !nowAmb && !nextAmb {
		return next, true
	}
	_, nowOff := now.Zone()
	_, nextOff := next.Zone()
	switch {
	case !s.cronInterval && nextAmb && nextOff != nowOff:
		// Point in time, now in daylight time, next in the repeated hour: run in the first copy.
		return next.Add(time.Duration(nextOff-nowOff) * time.Second).In(s.loc), true
	case !s.cronInterval && nextAmb:
		// Point in time and already in the second copy: it ran in the first; skip it.
		for s.wallAmbiguous(w) {
			if w, ok = s.cron.next(w, maxWall); !ok || !w.Before(maxWall) {
				return time.Time{}, false
			}
		}
		return s.fromWall(w), true
	case s.cronInterval && nextOff != nowOff:
		return next.Add(time.Duration(nextOff-nowOff) * time.Second).In(s.loc), true
	}
	return next, true
}

// Occurrences returns the next count occurrences after now.
func (s *Schedule) Occurrences(now time.Time, count int) []time.Time {
	var out []time.Time
	for range count {
		n, ok := s.Next(now)
		if !ok {
			break
		}
		out = append(out, n)
		now = n
	}
	return out
}

// frequent is TimerSchedule's rule for switching the monitor off: a TimeSpan under a minute, or
// a cron "X * * * * *" with more than one occurrence in the minute from now.
func (s *Schedule) frequent(now time.Time) bool {
	if s.cron == nil {
		return s.interval < time.Minute
	}
	parts := strings.Fields(s.cron.String())
	for _, p := range parts[1:] {
		if p != "*" {
			return false
		}
	}
	w := wallOf(now.In(s.loc))
	end := w.Add(time.Minute)
	n := 0
	for o, ok := s.cron.next(w, end); ok && o.Before(end); o, ok = s.cron.next(o, end) {
		if n++; n > 1 {
			return true
		}
	}
	return false
}

// fromWall converts a wall-clock time of the schedule's zone to an instant as .NET's
// new DateTimeOffset(localDateTime) does: an ambiguous time takes the later (standard) offset,
// a skipped (invalid) time the offset before the gap, which moves it forward by the gap.
func (s *Schedule) fromWall(w time.Time) time.Time {
	cands := s.instants(w)
	switch len(cands) {
	case 0:
		_, before := time.Unix(w.Unix()-86400, 0).In(s.loc).Zone()
		return time.Unix(w.Unix()-int64(before), int64(w.Nanosecond())).In(s.loc)
	case 1:
		return cands[0]
	}
	return cands[len(cands)-1]
}

// instants returns the instants whose wall clock in the zone is w, earliest first.
func (s *Schedule) instants(w time.Time) []time.Time {
	var out []time.Time
	seen := map[int]bool{}
	for _, probe := range []int64{-86400, 86400} {
		_, off := time.Unix(w.Unix()+probe, 0).In(s.loc).Zone()
		if seen[off] {
			continue
		}
		seen[off] = true
		t := time.Unix(w.Unix()-int64(off), int64(w.Nanosecond())).In(s.loc)
		if wallOf(t).Equal(w) {
			out = append(out, t)
		}
	}
	if len(out) == 2 && out[1].Before(out[0]) {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

func (s *Schedule) ambiguous(t time.Time) bool { return s.wallAmbiguous(wallOf(t.In(s.loc))) }

func (s *Schedule) wallAmbiguous(w time.Time) bool { return len(s.instants(w)) > 1 }
