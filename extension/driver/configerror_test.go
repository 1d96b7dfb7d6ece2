package driver_test

import (
	"errors"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// A problem's final '.' (Functions' texts end with one) is dropped before the fix, as the
// validate report does (extension.Problem), so that `azbind start` and `azbind validate` print
// the same line: "…timespan string: check it…", not "…timespan string.: check it…".
func TestConfigErrorDropsFinalPeriodBeforeFix(t *testing.T) {
	cause := errors.New("The schedule expression 'x' was not recognized as a valid cron expression or timespan string.")
	err := (&driver.BindContext{}).Errorf("schedule", "check it", "%w", cause)
	want := "schedule: The schedule expression 'x' was not recognized as a valid cron expression or timespan string: check it"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if !errors.Is(err, cause) {
		t.Error("the cause is not wrapped")
	}
	if got := (&driver.ConfigError{Field: "f", Problem: "ends with a period."}).Error(); got != "f: ends with a period." {
		t.Errorf("without a fix the period stays: %q", got)
	}
}
