package timer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Ported from NCrontab 3.3.3 NCrontab.Tests/CrontabScheduleTests.cs (atifaziz/NCrontab, the
// version Microsoft.Azure.WebJobs.Extensions references) and from
// Azure/azure-webjobs-sdk-extensions @2e7550f7 test/WebJobs.Extensions.Tests/Extensions/Timers/
// Scheduling/{CronScheduleTests,TimerScheduleTests}.cs and Listener/TimerListenerTests.cs.

func wall(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"02/01/2006 15:04:05", "2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05"} {
		if w, err := time.Parse(layout, s); err == nil {
			return w
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func mustCrontab(t *testing.T, expr string, seconds bool) *crontab {
	t.Helper()
	c, err := parseCrontab(expr, seconds)
	if err != nil {
		t.Fatalf("parse %q: %v", expr, err)
	}
	return c
}

// CrontabScheduleTests.Formatting, AllTimeString, SixPartAllTimeString.
func TestNCrontabFormatting(t *testing.T) {
	for _, tc := range []struct {
		want, expr string
		seconds    bool
	}{
		{"* * * * *", "* * * * *", false},
		{"* * * * * *", "* * * * * *", true},
		{"* 1-3 * * *", "* 1-2,3 * * *", false},
		{"* * * 1,3,5,7,9,11 *", "* * * */2 *", false},
		{"10,25,40 * * * *", "10-40/15 * * * *", false},
		{"* * * 1,3,8 1-2,5", "* * * Mar,Jan,Aug Fri,Mon-Tue", false},
		{"1 * 1-3 * * *", "1 * 1-2,3 * * *", true},
		{"22 * * * 1,3,5,7,9,11 *", "22 * * * */2 *", true},
		{"33 10,25,40 * * * *", "33 10-40/15 * * * *", true},
		{"55 * * * 1,3,8 1-2,5", "55 * * * Mar,Jan,Aug Fri,Mon-Tue", true},
	} {
		if got := mustCrontab(t, tc.expr, tc.seconds).String(); got != tc.want {
			t.Errorf("%q: String() = %q, want %q", tc.expr, got, tc.want)
		}
	}
	if _, err := parseCrontab("* * * * *", true); err == nil {
		t.Error("CannotParseWhenSecondsRequired: 5 fields parsed with seconds")
	}
	if _, err := parseCrontab("", false); err == nil {
		t.Error("CannotParseEmptyString")
	}
}

// CrontabScheduleTests.Evaluations.
func TestNCrontabEvaluations(t *testing.T) {
	for _, tc := range []struct {
		start, expr, next string
		seconds           bool
	}{
		{"01/01/2003 00:00:00", "* * * * *", "01/01/2003 00:01:00", false},
		{"01/01/2003 00:01:00", "* * * * *", "01/01/2003 00:02:00", false},
		{"01/01/2003 00:02:00", "* * * * *", "01/01/2003 00:03:00", false},
		{"01/01/2003 00:59:00", "* * * * *", "01/01/2003 01:00:00", false},
		{"01/01/2003 01:59:00", "* * * * *", "01/01/2003 02:00:00", false},
		{"01/01/2003 23:59:00", "* * * * *", "02/01/2003 00:00:00", false},
		{"31/12/2003 23:59:00", "* * * * *", "01/01/2004 00:00:00", false},
		{"28/02/2003 23:59:00", "* * * * *", "01/03/2003 00:00:00", false},
		{"28/02/2004 23:59:00", "* * * * *", "29/02/2004 00:00:00", false},
		{"01/01/2003 00:00:00", "45 * * * * *", "01/01/2003 00:00:45", true},
		{"01/01/2003 00:00:00", "45-47,48,49 * * * * *", "01/01/2003 00:00:45", true},
		{"01/01/2003 00:00:45", "45-47,48,49 * * * * *", "01/01/2003 00:00:46", true},
		{"01/01/2003 00:00:46", "45-47,48,49 * * * * *", "01/01/2003 00:00:47", true},
		{"01/01/2003 00:00:47", "45-47,48,49 * * * * *", "01/01/2003 00:00:48", true},
		{"01/01/2003 00:00:48", "45-47,48,49 * * * * *", "01/01/2003 00:00:49", true},
		{"01/01/2003 00:00:49", "45-47,48,49 * * * * *", "01/01/2003 00:01:45", true},
		{"01/01/2003 00:00:00", "2/5 * * * * *", "01/01/2003 00:00:02", true},
		{"01/01/2003 00:00:02", "2/5 * * * * *", "01/01/2003 00:00:07", true},
		{"01/01/2003 00:00:50", "2/5 * * * * *", "01/01/2003 00:00:52", true},
		{"01/01/2003 00:00:52", "2/5 * * * * *", "01/01/2003 00:00:57", true},
		{"01/01/2003 00:00:57", "2/5 * * * * *", "01/01/2003 00:01:02", true},
		{"24/02/2021 09:50:35", "* 0-1 10 * * *", "24/02/2021 10:00:00", true},
		{"01/01/2003 00:00:00", "45 * * * *", "01/01/2003 00:45:00", false},
		{"01/01/2003 00:00:00", "45-47,48,49 * * * *", "01/01/2003 00:45:00", false},
		{"01/01/2003 00:45:00", "45-47,48,49 * * * *", "01/01/2003 00:46:00", false},
		{"01/01/2003 00:46:00", "45-47,48,49 * * * *", "01/01/2003 00:47:00", false},
		{"01/01/2003 00:47:00", "45-47,48,49 * * * *", "01/01/2003 00:48:00", false},
		{"01/01/2003 00:48:00", "45-47,48,49 * * * *", "01/01/2003 00:49:00", false},
		{"01/01/2003 00:49:00", "45-47,48,49 * * * *", "01/01/2003 01:45:00", false},
		{"01/01/2003 00:00:00", "2/5 * * * *", "01/01/2003 00:02:00", false},
		{"01/01/2003 00:02:00", "2/5 * * * *", "01/01/2003 00:07:00", false},
		{"01/01/2003 00:50:00", "2/5 * * * *", "01/01/2003 00:52:00", false},
		{"01/01/2003 00:52:00", "2/5 * * * *", "01/01/2003 00:57:00", false},
		{"01/01/2003 00:57:00", "2/5 * * * *", "01/01/2003 01:02:00", false},
		{"24/02/2021 09:50:35", "* * 10 * * *", "24/02/2021 10:00:00", true},
		{"24/02/2021 09:50:35", "* 55 * * * *", "24/02/2021 09:55:00", true},
		{"01/01/2003 00:00:30", "3 45 * * * *", "01/01/2003 00:45:03", true},
		{"01/01/2003 00:00:30", "6 45-47,48,49 * * * *", "01/01/2003 00:45:06", true},
		{"01/01/2003 00:45:30", "6 45-47,48,49 * * * *", "01/01/2003 00:46:06", true},
		{"01/01/2003 00:46:30", "6 45-47,48,49 * * * *", "01/01/2003 00:47:06", true},
		{"01/01/2003 00:47:30", "6 45-47,48,49 * * * *", "01/01/2003 00:48:06", true},
		{"01/01/2003 00:48:30", "6 45-47,48,49 * * * *", "01/01/2003 00:49:06", true},
		{"01/01/2003 00:49:30", "6 45-47,48,49 * * * *", "01/01/2003 01:45:06", true},
		{"01/01/2003 00:00:30", "9 2/5 * * * *", "01/01/2003 00:02:09", true},
		{"01/01/2003 00:02:30", "9 2/5 * * * *", "01/01/2003 00:07:09", true},
		{"01/01/2003 00:50:30", "9 2/5 * * * *", "01/01/2003 00:52:09", true},
		{"01/01/2003 00:52:30", "9 2/5 * * * *", "01/01/2003 00:57:09", true},
		{"01/01/2003 00:57:30", "9 2/5 * * * *", "01/01/2003 01:02:09", true},
		{"20/12/2003 10:00:00", " * 3/4 * * *", "20/12/2003 11:00:00", false},
		{"20/12/2003 00:30:00", " * 3   * * *", "20/12/2003 03:00:00", false},
		{"20/12/2003 01:45:00", "30 3   * * *", "20/12/2003 03:30:00", false},
		{"07/01/2003 00:00:00", "30  *  1 * *", "01/02/2003 00:30:00", false},
		{"01/02/2003 00:30:00", "30  *  1 * *", "01/02/2003 01:30:00", false},
		{"01/01/2003 00:00:00", "10  * 22    * *", "22/01/2003 00:10:00", false},
		{"01/01/2003 00:00:00", "30 23 19    * *", "19/01/2003 23:30:00", false},
		{"01/01/2003 00:00:00", "30 23 21    * *", "21/01/2003 23:30:00", false},
		{"01/01/2003 00:01:00", " *  * 21    * *", "21/01/2003 00:00:00", false},
		{"10/07/2003 00:00:00", " *  * 30,31 * *", "30/07/2003 00:00:00", false},
		{"28/02/2002 23:59:59", "* * * 3 *", "01/03/2002 00:00:00", false},
		{"29/02/2004 23:59:59", "* * * 3 *", "01/03/2004 00:00:00", false},
		{"31/03/2002 23:59:59", "* * * 4 *", "01/04/2002 00:00:00", false},
		{"30/04/2002 23:59:59", "* * * 5 *", "01/05/2002 00:00:00", false},
		{"01/01/2000 00:00:00", "0 0 15,30,31 * *", "15/01/2000 00:00:00", false},
		{"15/01/2000 00:00:00", "0 0 15,30,31 * *", "30/01/2000 00:00:00", false},
		{"30/01/2000 00:00:00", "0 0 15,30,31 * *", "31/01/2000 00:00:00", false},
		{"31/01/2000 00:00:00", "0 0 15,30,31 * *", "15/02/2000 00:00:00", false},
		{"15/02/2000 00:00:00", "0 0 15,30,31 * *", "15/03/2000 00:00:00", false},
		{"15/03/2000 00:00:00", "0 0 15,30,31 * *", "30/03/2000 00:00:00", false},
		{"30/03/2000 00:00:00", "0 0 15,30,31 * *", "31/03/2000 00:00:00", false},
		{"31/03/2000 00:00:00", "0 0 15,30,31 * *", "15/04/2000 00:00:00", false},
		{"15/04/2000 00:00:00", "0 0 15,30,31 * *", "30/04/2000 00:00:00", false},
		{"30/04/2000 00:00:00", "0 0 15,30,31 * *", "15/05/2000 00:00:00", false},
		{"15/05/2000 00:00:00", "0 0 15,30,31 * *", "30/05/2000 00:00:00", false},
		{"30/05/2000 00:00:00", "0 0 15,30,31 * *", "31/05/2000 00:00:00", false},
		{"31/05/2000 00:00:00", "0 0 15,30,31 * *", "15/06/2000 00:00:00", false},
		{"15/06/2000 00:00:00", "0 0 15,30,31 * *", "30/06/2000 00:00:00", false},
		{"30/06/2000 00:00:00", "0 0 15,30,31 * *", "15/07/2000 00:00:00", false},
		{"15/07/2000 00:00:00", "0 0 15,30,31 * *", "30/07/2000 00:00:00", false},
		{"30/07/2000 00:00:00", "0 0 15,30,31 * *", "31/07/2000 00:00:00", false},
		{"31/07/2000 00:00:00", "0 0 15,30,31 * *", "15/08/2000 00:00:00", false},
		{"15/08/2000 00:00:00", "0 0 15,30,31 * *", "30/08/2000 00:00:00", false},
		{"30/08/2000 00:00:00", "0 0 15,30,31 * *", "31/08/2000 00:00:00", false},
		{"31/08/2000 00:00:00", "0 0 15,30,31 * *", "15/09/2000 00:00:00", false},
		{"15/09/2000 00:00:00", "0 0 15,30,31 * *", "30/09/2000 00:00:00", false},
		{"30/09/2000 00:00:00", "0 0 15,30,31 * *", "15/10/2000 00:00:00", false},
		{"15/10/2000 00:00:00", "0 0 15,30,31 * *", "30/10/2000 00:00:00", false},
		{"30/10/2000 00:00:00", "0 0 15,30,31 * *", "31/10/2000 00:00:00", false},
		{"31/10/2000 00:00:00", "0 0 15,30,31 * *", "15/11/2000 00:00:00", false},
		{"15/11/2000 00:00:00", "0 0 15,30,31 * *", "30/11/2000 00:00:00", false},
		{"30/11/2000 00:00:00", "0 0 15,30,31 * *", "15/12/2000 00:00:00", false},
		{"15/12/2000 00:00:00", "0 0 15,30,31 * *", "30/12/2000 00:00:00", false},
		{"30/12/2000 00:00:00", "0 0 15,30,31 * *", "31/12/2000 00:00:00", false},
		{"31/12/2000 00:00:00", "0 0 15,30,31 * *", "15/01/2001 00:00:00", false},
		{"01/12/2003 05:00:00", "10 * * 6 *", "01/06/2004 00:10:00", false},
		{"04/01/2003 00:00:00", " 1 2 3 * *", "03/02/2003 02:01:00", false},
		{"01/07/2002 05:00:00", "10 * * February,April-Jun *", "01/02/2003 00:10:00", false},
		{"01/01/2003 00:00:00", "0 12 1 6 *", "01/06/2003 12:00:00", false},
		{"11/09/1988 14:23:00", "* 12 1 6 *", "01/06/1989 12:00:00", false},
		{"11/03/1988 14:23:00", "* 12 1 6 *", "01/06/1988 12:00:00", false},
		{"11/03/1988 14:23:00", "* 2,4-8,15 * 6 *", "01/06/1988 02:00:00", false},
		{"11/03/1988 14:23:00", "20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *", "11/03/1988 15:20:00", false},
		{"26/06/2003 10:00:00", "30 6 * * 0", "29/06/2003 06:30:00", false},
		{"26/06/2003 10:00:00", "30 6 * * sunday", "29/06/2003 06:30:00", false},
		{"26/06/2003 10:00:00", "30 6 * * SUNDAY", "29/06/2003 06:30:00", false},
		{"19/06/2003 00:00:00", "1 12 * * 2", "24/06/2003 12:01:00", false},
		{"24/06/2003 12:01:00", "1 12 * * 2", "01/07/2003 12:01:00", false},
		{"01/06/2003 14:55:00", "15 18 * * Mon", "02/06/2003 18:15:00", false},
		{"02/06/2003 18:15:00", "15 18 * * Mon", "09/06/2003 18:15:00", false},
		{"09/06/2003 18:15:00", "15 18 * * Mon", "16/06/2003 18:15:00", false},
		{"16/06/2003 18:15:00", "15 18 * * Mon", "23/06/2003 18:15:00", false},
		{"23/06/2003 18:15:00", "15 18 * * Mon", "30/06/2003 18:15:00", false},
		{"30/06/2003 18:15:00", "15 18 * * Mon", "07/07/2003 18:15:00", false},
		{"01/01/2003 00:00:00", "* * * * Mon", "06/01/2003 00:00:00", false},
		{"01/01/2003 12:00:00", "45 16 1 * Mon", "01/09/2003 16:45:00", false},
		{"01/09/2003 23:45:00", "45 16 1 * Mon", "01/12/2003 16:45:00", false},
		{"01/01/2000 12:00:00", "1 12 29 2 *", "29/02/2000 12:01:00", false},
		{"29/02/2000 12:01:00", "1 12 29 2 *", "29/02/2004 12:01:00", false},
		{"29/02/2004 12:01:00", "1 12 29 2 *", "29/02/2008 12:01:00", false},
		{"01/01/2000 12:00:00", "1 12 28 2 *", "28/02/2000 12:01:00", false},
		{"28/02/2000 12:01:00", "1 12 28 2 *", "28/02/2001 12:01:00", false},
		{"28/02/2001 12:01:00", "1 12 28 2 *", "28/02/2002 12:01:00", false},
		{"28/02/2002 12:01:00", "1 12 28 2 *", "28/02/2003 12:01:00", false},
		{"28/02/2003 12:01:00", "1 12 28 2 *", "28/02/2004 12:01:00", false},
		{"29/02/2004 12:01:00", "1 12 28 2 *", "28/02/2005 12:01:00", false},
		{"01/01/2000 12:00:00", "40 14/1 * * *", "01/01/2000 14:40:00", false},
		{"01/01/2000 14:40:00", "40 14/1 * * *", "01/01/2000 15:40:00", false},
	} {
		c := mustCrontab(t, tc.expr, tc.seconds)
		got, ok := c.next(wall(t, tc.start), maxWall)
		if !ok || !got.Equal(wall(t, tc.next)) {
			t.Errorf("occurrence of <%s> after <%s> = %v (%v), want %s", tc.expr, tc.start, got, ok, tc.next)
		}
	}
}

// CrontabScheduleTests.FiniteOccurrences, DontLoopIndefinitely, GetNextOccurence and
// GetNextOccurrences_NextOccurrenceInvalidTime_ShouldStopAtLastValidTime.
func TestNCrontabFinite(t *testing.T) {
	for _, tc := range []struct {
		expr, start, end string
		seconds          bool
	}{
		{" *  * * * *  ", "01/01/2003 00:00:00", "01/01/2003 00:00:00", false},
		{" *  * * * *  ", "31/12/2002 23:59:59", "01/01/2003 00:00:00", false},
		{" *  * * * Mon", "31/12/2002 23:59:59", "01/01/2003 00:00:00", false},
		{" *  * * * Mon", "01/01/2003 00:00:00", "02/01/2003 00:00:00", false},
		{" *  * * * Mon", "01/01/2003 00:00:00", "02/01/2003 12:00:00", false},
		{"30 12 * * Mon", "01/01/2003 00:00:00", "06/01/2003 12:00:00", false},
		{" *  *  * * * *  ", "01/01/2003 00:00:00", "01/01/2003 00:00:00", true},
		{" *  *  * * * *  ", "31/12/2002 23:59:59", "01/01/2003 00:00:00", true},
		{" *  *  * * * Mon", "31/12/2002 23:59:59", "01/01/2003 00:00:00", true},
		{" *  *  * * * Mon", "01/01/2003 00:00:00", "02/01/2003 00:00:00", true},
		{" *  *  * * * Mon", "01/01/2003 00:00:00", "02/01/2003 12:00:00", true},
		{"10 30 12 * * Mon", "01/01/2003 00:00:00", "06/01/2003 12:00:10", true},
		{"* * 31 Feb *", "01/01/2001 00:00:00", "01/01/2010 00:00:00", false},
		{"* * * 31 Feb *", "01/01/2001 00:00:00", "01/01/2010 00:00:00", true},
		{"0 0 29 Feb Mon", "2017-01-01", "2017-12-31", false},
	} {
		c := mustCrontab(t, tc.expr, tc.seconds)
		if got, _ := c.next(wall(t, tc.start), wall(t, tc.end)); !got.Equal(wall(t, tc.end)) {
			t.Errorf("occurrence of <%s> after <%s> = %v, want the end %s", tc.expr, tc.start, got, tc.end)
		}
	}
	c := mustCrontab(t, "0 0 29 Feb Mon", false)
	if got, _ := c.next(wall(t, "9000-01-01"), wall(t, "9008-12-31")); !got.Equal(wall(t, "9008-02-29")) {
		t.Errorf("29 Feb Mon after 9000 = %v", got)
	}
	var last time.Time
	for o, ok := c.next(wall(t, "9988-01-01"), maxWall); ok && o.Before(maxWall); o, ok = c.next(o, maxWall) {
		last = o
	}
	if !last.Equal(wall(t, "9988-02-29")) {
		t.Errorf("last occurrence = %v, want 9988-02-29", last)
	}
	if _, ok := ParseScheduleMust(t, "0 0 0 30 2 *").Next(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("30 February has a next occurrence")
	}
}

func ParseScheduleMust(t *testing.T, expr string) *Schedule {
	t.Helper()
	s, err := ParseSchedule(expr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// CrontabScheduleTests.Bad*Field, OutOfRangeField, NonNumber*, plus the quirks of the port.
func TestNCrontabBadFields(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		seconds bool
	}{
		{"bad * * * * *", false}, {"bad * * * *", false}, {"* bad * * * *", true},
		{"* bad * * *", false}, {"* * bad * * *", true}, {"* * bad * *", false},
		{"* * * bad * *", true}, {"* * * bad *", false}, {"* * * * bad *", true},
		{"* * * * mon,bad,wed", false}, {"* * * * * mon,bad,wed", true},
		{"* 1,2,3,456,7,8,9 * * *", false}, {"* * 1,2,3,456,7,8,9 * * *", true},
		{"* 1,Z,3,4 * * *", false}, {"* * 1,Z,3,4 * * *", true},
		{"* 1/Z * * *", false}, {"* * 1/Z * * *", true},
		{"* 3-l2 * * *", false}, {"* * 3-l2 * * *", true},
		// the port's own: empty list item, 0 in a 1-based field, day of week 7, leading slash.
		{"* 1, * * *", false}, {"* * 0 * *", false}, {"* * * * 7", false}, {"/5 * * * *", false},
		{"* * * * * 99999999999", true},
	} {
		if _, err := parseCrontab(tc.expr, tc.seconds); err == nil || !errors.Is(err, errCron) {
			t.Errorf("%q parsed (err %v)", tc.expr, err)
		}
	}
	// Quirks kept from NCrontab: backwards ranges swap, a zero step means every value.
	for expr, want := range map[string]string{"10-5 * * * *": "5-10 * * * *", "*/0 * * * *": "* * * * *", "5/0 1 * * *": "5-59 1 * * *"} {
		if got := mustCrontab(t, expr, false).String(); got != want {
			t.Errorf("%q = %q, want %q", expr, got, want)
		}
	}
}

// CronScheduleTests.IsInterval_ReturnsExpectedValue and ToString_ReturnsExpectedValue.
func TestCronScheduleIsInterval(t *testing.T) {
	for expr, want := range map[string]bool{
		"* * * * * *": true, "0 * * * * *": true, "0 0 * * * *": true, "0 0-15 * * * *": true,
		"0 0 * * * 0": true, "0 0 1-3 * * 0": true, "0 0 0 * * *": false, "0 0 0 1 * *": false,
		"0 0 0 1 1 *": false, "0 0 0 * * 1": false, "* * * * *": true, "0 * * * *": true,
		"0-15 * * * *": true, "0 * * * 0": true, "0 1-3 * * 0": true, " 0 1 * * *": false,
		"0 0 * * *": false, "0 0 1 * *": false, "0 0 1 1 *": false, "0 0 * * 1": false,
	} {
		if got := ParseScheduleMust(t, expr).cronInterval; got != want {
			t.Errorf("IsInterval(%q) = %v, want %v", expr, got, want)
		}
	}
	if got := ParseScheduleMust(t, "0 59 11 * * 1-5").String(); got != "Cron: '0 59 11 * * 1-5'" {
		t.Errorf("String() = %q", got)
	}
	if got := ParseScheduleMust(t, "00:00:15").String(); got != "Constant: 00:00:15" {
		t.Errorf("String() = %q", got)
	}
}

// CronScheduleTests.GetNextOccurrence_ThreeDaySchedule_MultipleScheduleIterations and
// GetNextOccurrence_NowEqualToNext_ReturnsCorrectValue.
func TestCronScheduleIterations(t *testing.T) {
	s := ParseScheduleMust(t, "0 59 11 * * 1-5")
	now := time.Date(2015, 5, 23, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 5; i++ {
		next, _ := s.Next(now)
		if next.Weekday() != time.Weekday(i) || next.Hour() != 11 || next.Minute() != 59 {
			t.Fatalf("occurrence %d = %v", i, next)
		}
		now = next.Add(time.Second)
	}
	for _, expr := range []string{"0 * * * * *", "* * * * *"} {
		s := ParseScheduleMust(t, expr)
		a, _ := s.Next(time.Now())
		if b, _ := s.Next(a); !b.After(a) {
			t.Errorf("%q: next of an occurrence is not later: %v, %v", expr, a, b)
		}
	}
}

func pacific(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	return loc
}

func at(loc *time.Location, y int, mo time.Month, d, h, mi int, offsetHours int) time.Time {
	return time.Date(y, mo, d, h, mi, 0, 0, time.FixedZone("", offsetHours*3600)).In(loc)
}

// CronScheduleTests: Interval_IntoDST, PointInTime_IntoDST, PointInTime_WithinAmbiguousHour,
// Interval_OutOfDST, PointInTime_OutOfDST (Pacific time, 2018).
func TestCronScheduleDST(t *testing.T) {
	loc := pacific(t)
	type occ struct {
		mo      time.Month
		d, h, m int
		off     int
	}
	for _, tc := range []struct {
		name, expr string
		start      time.Time
		want       []occ
	}{
		{"Interval_IntoDST", "0 30 * * * *", time.Date(2018, 3, 11, 0, 0, 0, 0, loc),
			[]occ{{3, 11, 0, 30, -8}, {3, 11, 1, 30, -8}, {3, 11, 3, 30, -7}, {3, 11, 4, 30, -7}, {3, 11, 5, 30, -7}}},
		{"PointInTime_IntoDST", "0 30 1 * * *", time.Date(2018, 3, 10, 0, 0, 0, 0, loc),
			[]occ{{3, 10, 1, 30, -8}, {3, 11, 1, 30, -8}, {3, 12, 1, 30, -7}, {3, 13, 1, 30, -7}, {3, 14, 1, 30, -7}}},
		{"PointInTime_WithinAmbiguousHour", "0 */20 * * * *", time.Date(2018, 11, 4, 0, 30, 0, 0, loc),
			[]occ{{11, 4, 0, 40, -7}, {11, 4, 1, 0, -7}, {11, 4, 1, 20, -7}, {11, 4, 1, 40, -7}, {11, 4, 1, 0, -8}, {11, 4, 1, 20, -8}, {11, 4, 1, 40, -8}, {11, 4, 2, 0, -8}, {11, 4, 2, 20, -8}}},
		{"Interval_OutOfDST", "0 30 * * * *", time.Date(2018, 11, 4, 0, 0, 0, 0, loc),
			[]occ{{11, 4, 0, 30, -7}, {11, 4, 1, 30, -7}, {11, 4, 1, 30, -8}, {11, 4, 2, 30, -8}, {11, 4, 3, 30, -8}}},
		{"PointInTime_OutOfDST", "0 30 1 * * *", time.Date(2018, 11, 3, 0, 0, 0, 0, loc),
			[]occ{{11, 3, 1, 30, -7}, {11, 4, 1, 30, -7}, {11, 5, 1, 30, -8}, {11, 6, 1, 30, -8}, {11, 7, 1, 30, -8}}},
	} {
		s, err := ParseSchedule(tc.expr, loc)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Occurrences(tc.start, len(tc.want))
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %d occurrences", tc.name, len(got))
		}
		for i, w := range tc.want {
			if want := at(loc, 2018, w.mo, w.d, w.h, w.m, w.off); !got[i].Equal(want) {
				t.Errorf("%s[%d] = %s, want %s", tc.name, i, got[i].Format(time.RFC3339), want.Format(time.RFC3339))
			}
		}
	}
}

// TimerListenerTests.GetNextInterval_NextAfterDSTBegins / NextWithinDST / NextAfterDSTEnds:
// the interval from now to the next occurrence across the Pacific DST transitions of 2018.
func TestTimerListenerDSTIntervals(t *testing.T) {
	loc := pacific(t)
	dur := func(s string) time.Duration { d, _ := time.ParseDuration(s); return d }
	for _, tc := range []struct {
		now  time.Time
		expr string
		want time.Duration
	}{
		// entering DST (Friday before 3/11): a weekly cron loses the hour, a TimeSpan does not.
		{time.Date(2018, 3, 9, 18, 0, 0, 0, loc), "0 0 18 * * 5", 167 * time.Hour},
		{time.Date(2018, 3, 9, 18, 0, 0, 0, loc), "7.00:00:00", 168 * time.Hour},
		// next within the skipped hour
		{time.Date(2018, 3, 11, 1, 59, 0, 0, loc), "0 59 * * * *", time.Hour},
		{time.Date(2018, 3, 11, 1, 59, 0, 0, loc), "00:05:00", 5 * time.Minute},
		// exiting DST (CronTimerSchedulesExitingDST)
		{at(loc, 2018, 11, 4, 1, 31, -7), "0 30 * * * *", 59 * time.Minute},
		{at(loc, 2018, 11, 4, 1, 59, -7), "0 * * * * *", time.Minute},
		{at(loc, 2018, 11, 4, 1, 30, -7), "0 * * * * *", time.Minute},
		{at(loc, 2018, 11, 4, 1, 45, -7), "0 0,30 1-2 * * *", 15 * time.Minute},
		{at(loc, 2018, 11, 4, 1, 45, -8), "0 0,30 1-3 * * *", 15 * time.Minute},
		{at(loc, 2018, 11, 4, 1, 30, -7), "0 * 1-3 * * *", time.Minute},
		{at(loc, 2018, 11, 4, 0, 59, -7), "0 * * * * *", time.Minute},
		{at(loc, 2018, 11, 4, 1, 31, -8), "0 30 * * * *", 59 * time.Minute},
		{at(loc, 2018, 11, 2, 18, 0, -7), "0 0 18 * * 5", 169 * time.Hour},
		{at(loc, 2018, 11, 4, 1, 30, -7), "0 30 1 * * *", 25 * time.Hour},
		{at(loc, 2018, 11, 4, 0, 30, -7), "0 30 1 * * *", time.Hour},
		{at(loc, 2018, 11, 4, 1, 29, -7), "0 30 1 * * *", time.Minute},
		{at(loc, 2018, 11, 4, 1, 29, -8), "0 30 1 * * *", dur("24h1m")},
		{at(loc, 2018, 11, 4, 1, 31, -7), "0 30 1 * * *", dur("24h59m")},
	} {
		s, err := ParseSchedule(tc.expr, loc)
		if err != nil {
			t.Fatal(err)
		}
		next, _ := s.Next(tc.now)
		if got := next.Sub(tc.now); got != tc.want {
			t.Errorf("%q from %s: interval %v (next %s), want %v", tc.expr, tc.now.Format(time.RFC3339), got, next.Format(time.RFC3339), tc.want)
		}
	}
}

// TimerScheduleTests: Create_InvalidSchedule, Create_ConstantSchedule_ScheduleIntervalsAreValid,
// Create_CronSchedule (every 15 s), ShouldDisableScheduleMonitor_ReturnsExpectedValue.
func TestTimerSchedule(t *testing.T) {
	_, err := ParseSchedule("invalid", nil)
	var se *ScheduleError
	if !errors.As(err, &se) || err.Error() != "The schedule expression 'invalid' was not recognized as a valid cron expression or timespan string." {
		t.Fatalf("invalid: %v", err)
	}
	for expr, want := range map[string]time.Duration{"00:00:45": 45 * time.Second, "00:06:00": 6 * time.Minute, "12:00:00": 12 * time.Hour, "1.00:00": 24 * time.Hour, "5": 5 * 24 * time.Hour} {
		s := ParseScheduleMust(t, expr)
		occ := s.Occurrences(time.Date(2015, 5, 22, 9, 45, 0, 0, time.UTC), 5)
		for i := range 4 {
			if d := occ[i+1].Sub(occ[i]); d != want {
				t.Errorf("%q: delta %v, want %v", expr, d, want)
			}
		}
	}
	for _, bad := range []string{"00:00:00", "-00:01:00", "90s", "* * * *", "* * * * * * *", ""} {
		if _, err := ParseSchedule(bad, nil); !errors.As(err, &se) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	now := time.Date(2015, 5, 22, 9, 45, 0, 0, time.UTC)
	if next, _ := ParseScheduleMust(t, "*/15 * * * * *").Next(now); next.Sub(now) != 15*time.Second {
		t.Errorf("every 15 s: %v", next)
	}
	parse := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse("1/2/2006 3:04:05 PM", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		expr, now string
		want      bool
	}{
		{"* * * * * *", "", true}, {"*/5 * * * * *", "", true}, {"  */5    * *      * * *", "", true},
		{"10,20,45 * * * * *", "", true}, {"0 */5 * * * *", "", false}, {"0 30 * * * *", "", false},
		{"* 30 * * * *", "", false}, {"* */30 * * * *", "", false}, {"0 * * * * *", "", false},
		{"30 * * * * *", "", false}, {"* 1-5 * * * *", "", false},
		{"* */20 * * * *", "10/30/2020 12:00:00 AM", false}, {"* */20 * * * *", "10/30/2020 12:20:00 AM", false},
		{"* */20 * * * *", "10/30/2020 12:15:00 AM", false}, {"* */20 * * * *", "10/30/2020 12:19:30 AM", false},
		{"* * 12 * * Mon", "", false}, {"* 59 11 * * 1,2,3,4,5", "", false},
		{"00:00:59", "", true}, {"00:01:00", "", false},
	} {
		now := time.Now()
		if tc.now != "" {
			now = parse(tc.now)
		}
		if got := ParseScheduleMust(t, tc.expr).frequent(now); got != tc.want {
			t.Errorf("ShouldDisableScheduleMonitor(%q, %s) = %v, want %v", tc.expr, tc.now, got, tc.want)
		}
	}
}

// FuzzParseSchedule: parsing never panics, never hangs, and a parsed schedule's occurrences
// strictly increase; a cron expression's normal form parses to itself.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 */5 * * * *", "* * * * *", "00:00:15", "1.02:03:04", "5", "0 0 29 Feb Mon", "*/0 1-3,5 * JAN-mar sun", "0 30 1 * * *", "1,", "10-5/-3 * * * *"} {
		f.Add(s)
	}
	loc, _ := time.LoadLocation("America/Los_Angeles")
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSchedule(expr, loc)
		if err != nil {
			if !strings.Contains(err.Error(), "was not recognized") {
				t.Fatalf("error text: %v", err)
			}
			return
		}
		now := time.Date(2018, 11, 3, 23, 0, 0, 0, loc)
		prev := now
		for _, o := range s.Occurrences(now, 4) {
			if !o.After(prev) {
				t.Fatalf("%q: occurrence %v not after %v", expr, o, prev)
			}
			prev = o
		}
		if s.cron != nil {
			norm := s.cron.String()
			again, err := parseCrontab(norm, s.cron.seconds != nil)
			if err != nil || again.String() != norm {
				t.Fatalf("%q: normal form %q does not round-trip: %v", expr, norm, err)
			}
		}
	})
}
