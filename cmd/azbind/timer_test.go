package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTimerNext(t *testing.T) {
	var out, errb bytes.Buffer
	// CronScheduleTests.PointInTime_OutOfDST through the CLI: once on fall-back day.
	code := run([]string{"timer", "next", "0 30 1 * * *", "--from", "2018-11-03T00:00:00-07:00", "--count", "3", "--tz", "Pacific Standard Time"}, &out, &errb)
	want := "2018-11-03T01:30:00-07:00\n2018-11-04T01:30:00-07:00\n2018-11-05T01:30:00-08:00\n"
	if code != 0 || out.String() != want {
		t.Fatalf("exit %d, out %q (stderr %q), want %q", code, out.String(), errb.String(), want)
	}
	out.Reset()
	if code := run([]string{"timer", "next", "00:00:15", "--from", "2026-01-01T00:00:00Z", "--count", "2"}, &out, &errb); code != 0 || out.String() != "2026-01-01T00:00:15Z\n2026-01-01T00:00:30Z\n" {
		t.Fatalf("timespan: exit %d, %q", code, out.String())
	}
	out.Reset()
	errb.Reset()
	code = run([]string{"timer", "next", "every minute"}, &out, &errb)
	if code != 1 || strings.TrimSpace(errb.String()) != "The schedule expression 'every minute' was not recognized as a valid cron expression or timespan string." || out.Len() != 0 {
		t.Fatalf("invalid: exit %d, stderr %q", code, errb.String())
	}
}
