package timer_test

import (
	"fmt"
	"time"

	"github.com/azbind/azbind/timer"
)

// The next occurrences of an NCRONTAB schedule in a time zone, across the end of DST: the
// point-in-time 01:30 runs once on fall-back day.
func ExampleParseSchedule() {
	loc, err := timer.LoadLocation("America/Los_Angeles")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := timer.ParseSchedule("0 30 1 * * *", loc)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range s.Occurrences(time.Date(2018, 11, 3, 12, 0, 0, 0, loc), 3) {
		fmt.Println(t.Format(time.RFC3339))
	}
	_, err = timer.ParseSchedule("every day", nil)
	fmt.Println(err)
	// Output:
	// 2018-11-04T01:30:00-07:00
	// 2018-11-05T01:30:00-08:00
	// 2018-11-06T01:30:00-08:00
	// The schedule expression 'every day' was not recognized as a valid cron expression or timespan string.
}
