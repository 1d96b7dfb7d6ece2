package timer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// TimerInfo is the timer trigger's value, as Functions' TimerInfo: a handler takes it (or
// *TimerInfo, or nothing). It serialises as Functions hands it to custom handlers and
// out-of-process workers: {"Schedule":{"AdjustForDST":true},"ScheduleStatus":{…}|null,"IsPastDue":false}.
type TimerInfo struct {
	Schedule ScheduleInfo `json:"Schedule"`
	// ScheduleStatus is the status before this invocation (Last: the previous run, Next: this
	// occurrence); nil when useMonitor is false.
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	// IsPastDue is true for the one catch-up run after missed occurrences.
	IsPastDue bool `json:"IsPastDue"`
}

// ScheduleInfo is what Functions serialises of the TimerSchedule: AdjustForDST is true for
// cron schedules (they follow the wall clock), false for TimeSpans (absolute time).
type ScheduleInfo struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

// ScheduleStatus is the timer's status blob
// (azure-webjobs-hosts/timers/<hostId>/Host.Functions.<Name>/status), byte-compatible with
// Functions': Newtonsoft ISO dates with the zone's offset ("2026-12-07T15:35:00.1234567+00:00");
// the zero time is .NET's default DateTime ("0001-01-01T00:00:00").
type ScheduleStatus struct {
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

type statusJSON struct {
	Last        netTime `json:"Last"`
	Next        netTime `json:"Next"`
	LastUpdated netTime `json:"LastUpdated"`
}

// MarshalJSON writes Newtonsoft's IsoDateFormat for local DateTimes.
func (s ScheduleStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(statusJSON{netTime(s.Last), netTime(s.Next), netTime(s.LastUpdated)})
}

// UnmarshalJSON reads what Functions or azbind wrote (ISO 8601 with or without offset).
func (s *ScheduleStatus) UnmarshalJSON(b []byte) error {
	var j statusJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = ScheduleStatus{Last: time.Time(j.Last), Next: time.Time(j.Next), LastUpdated: time.Time(j.LastUpdated)}
	return nil
}

// netTime is a time.Time in Newtonsoft's ISO form.
type netTime time.Time

const netLayout = "2006-01-02T15:04:05.9999999-07:00"

func (t netTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() || tt.Year() < 1 {
		return []byte(`"0001-01-01T00:00:00+00:00"`), nil
	}
	return []byte(`"` + tt.Format(netLayout) + `"`), nil
}

func (t *netTime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*t = netTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if strings.HasPrefix(s, "0001-01-01T00:00:00") {
		*t = netTime{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04:05"} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = netTime(v)
			return nil
		}
	}
	return fmt.Errorf("timer status: %q is not an ISO 8601 time", s)
}
