package timer

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A port of NCrontab 3.3.3 (the version the WebJobs timer extension references), kept faithful
// to its quirks: fields are ANDed (day of month and day of week must both match), ranges given
// backwards are swapped ("10-5" is 5-10), a step of 0 or less means every value, names match by
// case-insensitive prefix ("J" is January, "Ju" June), and occurrences are computed on wall-clock
// fields with no notion of a time zone (schedule.go adds the DST rules of CronSchedule).

type fieldKind int

const (
	kindSecond fieldKind = iota
	kindMinute
	kindHour
	kindDay
	kindMonth
	kindDayOfWeek
)

var fieldImpls = [...]struct {
	name     string
	min, max int
	names    []string
}{
	kindSecond:    {"Second", 0, 59, nil},
	kindMinute:    {"Minute", 0, 59, nil},
	kindHour:      {"Hour", 0, 23, nil},
	kindDay:       {"Day", 1, 31, nil},
	kindMonth:     {"Month", 1, 12, []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}},
	kindDayOfWeek: {"DayOfWeek", 0, 6, []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}},
}

// cronField is one parsed field: a bit per allowed value.
type cronField struct {
	kind     fieldKind
	bits     uint64
	minSet   int // smallest value set (maxInt when none)
	maxSet   int // largest value set (-1 when none)
	min, max int
}

const nilValue = -1

func (f *cronField) first() int {
	if f.maxSet < 0 {
		return nilValue
	}
	return f.minSet
}

// next returns the first value ≥ start that is set, or nilValue.
func (f *cronField) next(start int) int {
	if start < f.minSet {
		return f.minSet
	}
	for v := start; v <= f.maxSet; v++ {
		if f.contains(v) {
			return v
		}
	}
	return nilValue
}

func (f *cronField) contains(v int) bool {
	return v >= f.min && v <= f.max && f.bits&(1<<uint(v-f.min)) != 0
}

// format writes the field as NCrontab's ToString does: "*" for every value, else ranges and
// single values separated by commas.
func (f *cronField) format(b *strings.Builder) {
	next := f.first()
	count := 0
	for next != nilValue {
		first, last := next, next
		for {
			last = next
			next = f.next(last + 1)
			if next-last != 1 {
				break
			}
		}
		if count == 0 && first == f.min && last == f.max {
			b.WriteByte('*')
			return
		}
		if count > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(b, first)
		if first != last {
			fmt.Fprintf(b, "-%d", last)
		}
		count++
	}
}

var errCron = errors.New("invalid crontab field")

func parseField(kind fieldKind, s string) (*cronField, error) {
	impl := fieldImpls[kind]
	f := &cronField{kind: kind, minSet: int(^uint(0) >> 1), maxSet: -1, min: impl.min, max: impl.max}
	if s == "" {
		return f, nil
	}
	if err := f.parse(s); err != nil {
		return nil, fmt.Errorf("'%s' is not a valid [%s] crontab field expression: %w", s, impl.name, err)
	}
	return f, nil
}

func (f *cronField) parse(s string) error {
	if s == "" {
		return fmt.Errorf("%w: a crontab field value cannot be empty", errCron)
	}
	if i := strings.IndexByte(s, ','); i > 0 {
		for part := range strings.SplitSeq(s, ",") {
			if err := f.parse(part); err != nil {
				return err
			}
		}
		return nil
	}
	every, hasEvery := 0, false
	if i := strings.IndexByte(s, '/'); i > 0 {
		n, err := dotnetInt(s[i+1:])
		if err != nil {
			return err
		}
		every, hasEvery, s = n, true, s[:i]
	}
	if s == "*" {
		if !hasEvery {
			every = 1
		}
		return f.accumulate(-1, -1, every)
	}
	if i := strings.IndexByte(s, '-'); i > 0 {
		first, err := f.value(s[:i])
		if err != nil {
			return err
		}
		last, err := f.value(s[i+1:])
		if err != nil {
			return err
		}
		if !hasEvery {
			every = 1
		}
		return f.accumulate(first, last, every)
	}
	v, err := f.value(s)
	if err != nil {
		return err
	}
	if !hasEvery {
		return f.accumulate(v, v, 1)
	}
	return f.accumulate(v, f.max, every)
}

func (f *cronField) value(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: a crontab field value cannot be empty", errCron)
	}
	if s[0] >= '0' && s[0] <= '9' {
		return dotnetInt(s)
	}
	impl := fieldImpls[f.kind]
	if impl.names == nil {
		return 0, fmt.Errorf("%w: '%s' is not a valid [%s] crontab field value. It must be a numeric value between %d and %d (all inclusive)", errCron, s, impl.name, impl.min, impl.max)
	}
	for i, n := range impl.names {
		if len(s) <= len(n) && strings.EqualFold(n[:len(s)], s) {
			return i + impl.min, nil
		}
	}
	return 0, fmt.Errorf("%w: '%s' is not a known value name. Use one of the following: %s", errCron, s, strings.Join(impl.names, ", "))
}

func (f *cronField) accumulate(start, end, interval int) error {
	impl := fieldImpls[f.kind]
	if start == end {
		if start < 0 {
			if interval <= 1 {
				f.minSet, f.maxSet = f.min, f.max
				f.bits = (1 << uint(f.max-f.min+1)) - 1
				return nil
			}
			start, end = f.min, f.max
		} else {
			if start < f.min {
				return f.below(impl.name, start)
			}
			if start > f.max {
				return f.above(impl.name, start)
			}
		}
	} else {
		if start > end {
			start, end = end, start
		}
		if start < 0 {
			start = f.min
		} else if start < f.min {
			return f.below(impl.name, start)
		}
		if end < 0 {
			end = f.max
		} else if end > f.max {
			return f.above(impl.name, end)
		}
	}
	if interval < 1 {
		interval = 1
	}
	v := start
	for ; v <= end; v += interval {
		f.bits |= 1 << uint(v-f.min)
	}
	if f.minSet > start {
		f.minSet = start
	}
	if last := v - interval; f.maxSet < last {
		f.maxSet = last
	}
	return nil
}

func (f *cronField) above(name string, v int) error {
	return fmt.Errorf("%w: %d is higher than the maximum allowable value for the [%s] field. Value must be between %d and %d (all inclusive)", errCron, v, name, f.min, f.max)
}

func (f *cronField) below(name string, v int) error {
	return fmt.Errorf("%w: %d is lower than the minimum allowable value for the [%s] field. Value must be between %d and %d (all inclusive)", errCron, v, name, f.min, f.max)
}

// dotnetInt parses like .NET's int.Parse with the invariant culture: surrounding white space
// (tab to carriage return, space), an optional sign, ASCII digits, and no overflow.
func dotnetInt(s string) (int, error) {
	t := strings.TrimFunc(s, func(r rune) bool { return r == ' ' || (r >= '\t' && r <= '\r') })
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg, t = t[0] == '-', t[1:]
	}
	if t == "" {
		return 0, fmt.Errorf("%w: '%s' is not a number", errCron, s)
	}
	n := int64(0)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: '%s' is not a number", errCron, s)
		}
		n = n*10 + int64(c-'0')
		if n > 1<<31 {
			return 0, fmt.Errorf("%w: '%s' is out of range", errCron, s)
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -(1<<31) {
		return 0, fmt.Errorf("%w: '%s' is out of range", errCron, s)
	}
	return int(n), nil
}

// crontab is a parsed NCrontab expression.
type crontab struct {
	seconds                           *cronField // nil for 5-field expressions (second 0)
	minutes, hours, days, months, dow *cronField
}

// parseCrontab parses expr as NCrontab does with IncludingSeconds = seconds.
func parseCrontab(expr string, seconds bool) (*crontab, error) {
	tokens := strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' })
	want := 5
	if seconds {
		want = 6
	}
	if len(tokens) != want {
		if seconds {
			return nil, fmt.Errorf("%w: '%s' is an invalid crontab expression. It must contain 6 components of a schedule in the sequence of seconds, minutes, hours, days, months, and days of week", errCron, expr)
		}
		return nil, fmt.Errorf("%w: '%s' is an invalid crontab expression. It must contain 5 components of a schedule in the sequence of minutes, hours, days, months, and days of week", errCron, expr)
	}
	fields := make([]*cronField, 6)
	offset := 1
	if seconds {
		offset = 0
	}
	for i, tok := range tokens {
		f, err := parseField(fieldKind(i+offset), tok)
		if err != nil {
			return nil, err
		}
		fields[i+offset] = f
	}
	return &crontab{seconds: fields[0], minutes: fields[1], hours: fields[2], days: fields[3], months: fields[4], dow: fields[5]}, nil
}

// String is NCrontab's CrontabSchedule.ToString: the normalised expression.
func (c *crontab) String() string {
	var b strings.Builder
	if c.seconds != nil {
		c.seconds.format(&b)
		b.WriteByte(' ')
	}
	for i, f := range []*cronField{c.minutes, c.hours, c.days, c.months, c.dow} {
		if i > 0 {
			b.WriteByte(' ')
		}
		f.format(&b)
	}
	return b.String()
}

var secondZero = &cronField{kind: kindSecond, bits: 1, minSet: 0, maxSet: 0, min: 0, max: 59}

// maxWall is .NET's DateTime.MaxValue, the end of NCrontab's search (as a wall-clock time).
var maxWall = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)

// next is NCrontab's TryGetNextOccurrence on wall-clock times (their Location is ignored; the
// result is in UTC as a wall clock). It returns end when the next occurrence is not before end,
// and ok false when there is none before the year 10000.
func (c *crontab) next(base, end time.Time) (time.Time, bool) {
	seconds := c.seconds
	if seconds == nil {
		seconds = secondZero
	}
	for {
		baseYear, bm, baseDay := base.Date()
		baseMonth := int(bm)
		baseHour, baseMinute, baseSecond := base.Clock()
		endYear, em, endDay := end.Date()
		endMonth := int(em)

		year, month, day, hour, minute := baseYear, baseMonth, baseDay, baseHour, baseMinute
		second := seconds.next(baseSecond + 1)
		if second == nilValue {
			second = seconds.first()
			minute++
		}
		minute = c.minutes.next(minute)
		if minute == nilValue {
			second = seconds.first()
			minute = c.minutes.first()
			hour++
		} else if minute > baseMinute {
			second = seconds.first()
		}
		hour = c.hours.next(hour)
		if hour == nilValue {
			minute = c.minutes.first()
			hour = c.hours.first()
			day++
		} else if hour > baseHour {
			second = seconds.first()
			minute = c.minutes.first()
		}
		day = c.days.next(day)
	retryDayMonth:
		if day == nilValue {
			second = seconds.first()
			minute = c.minutes.first()
			hour = c.hours.first()
			day = c.days.first()
			month++
		} else if day > baseDay {
			second = seconds.first()
			minute = c.minutes.first()
			hour = c.hours.first()
		}
		month = c.months.next(month)
		if month == nilValue {
			second = seconds.first()
			minute = c.minutes.first()
			hour = c.hours.first()
			day = c.days.first()
			month = c.months.first()
			year++
		} else if month > baseMonth {
			second = seconds.first()
			minute = c.minutes.first()
			hour = c.hours.first()
			day = c.days.first()
		}
		if year > 9999 {
			return time.Time{}, false
		}
		dateChanged := day != baseDay || month != baseMonth || year != baseYear
		if day > 28 && dateChanged && day > daysIn(year, month) {
			if year >= endYear && month >= endMonth && day >= endDay {
				return end, true
			}
			day = nilValue
			goto retryDayMonth
		}
		nextTime := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
		if !nextTime.Before(wallOf(end)) {
			return end, true
		}
		if c.dow.contains(int(nextTime.Weekday())) {
			return nextTime, true
		}
		base = time.Date(year, time.Month(month), day, 23, 59, 59, 0, time.UTC)
	}
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// wallOf returns t's wall clock as a UTC time.
func wallOf(t time.Time) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return time.Date(y, m, d, hh, mm, ss, t.Nanosecond(), time.UTC)
}
