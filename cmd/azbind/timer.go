package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/azbind/azbind/timer"
)

func init() {
	commands["timer"] = command{
		summary: "explain a timerTrigger schedule: its next occurrences (timer next SCHEDULE)",
		run:     runTimer,
	}
}

const timerUsage = `usage: azbind timer next SCHEDULE [--from RFC3339] [--count N] [--tz ZONE]

Prints the next N (default 5) occurrences of a timerTrigger schedule after --from (default: now),
one RFC 3339 timestamp with its offset per line, as the timer trigger computes them: an NCRONTAB
expression ("0 */5 * * * *"; 5 fields are minutes, hours, days, months, days of week) or a
TimeSpan ("00:05:00", "1.00:00:00"). Cron follows the wall clock of --tz (default: the
WEBSITE_TIME_ZONE or TZ environment variable, else UTC) with Functions' DST rules. An invalid
schedule exits 1 with Functions' error text. Quote the schedule: it contains spaces and '*'.
`

func runTimer(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "next" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, timerUsage)
			return 0
		}
		fmt.Fprint(stderr, timerUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind timer next", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "start after this RFC 3339 time (default: now)")
	count := fs.Int("count", 5, "number of occurrences")
	tz := fs.String("tz", "", "time zone: IANA name or Windows id (default: WEBSITE_TIME_ZONE, TZ, UTC)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, timerUsage)
		return 2
	}
	if *count < 1 || *count > 10000 {
		fmt.Fprintln(stderr, "azbind timer next: --count: must be between 1 and 10000")
		return 2
	}
	zone := *tz
	if zone == "" {
		zone = os.Getenv("WEBSITE_TIME_ZONE")
	}
	if zone == "" {
		zone = os.Getenv("TZ")
	}
	loc, err := timer.LoadLocation(zone)
	if err != nil {
		fmt.Fprintf(stderr, "azbind timer next: --tz: %v\n", err)
		return 2
	}
	now := time.Now()
	if *from != "" {
		if now, err = time.Parse(time.RFC3339Nano, *from); err != nil {
			fmt.Fprintf(stderr, "azbind timer next: --from: %q is not an RFC 3339 time (e.g. 2026-03-08T01:30:00-08:00)\n", *from)
			return 2
		}
	}
	s, err := timer.ParseSchedule(pos[0], loc)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	occ := s.Occurrences(now, *count)
	for _, o := range occ {
		fmt.Fprintln(stdout, o.Format(time.RFC3339))
	}
	if len(occ) < *count {
		fmt.Fprintf(stderr, "azbind timer next: the schedule has no further occurrence before the year 10000\n")
	}
	return 0
}
