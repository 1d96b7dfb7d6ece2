// Package timer is the timerTrigger connector: Azure Functions' timer trigger on azbind's
// contract, with Functions' schedules, status blob and listener lock, and one run per
// occurrence across hosts.
//
// # Schedules
//
// The function.json `schedule` is resolved for %setting% by the loader, then parsed as Functions'
// TimerSchedule.Create does: as NCRONTAB first — 5 fields (minutes hours days months
// days-of-week) or 6 with a leading seconds field (any count other than 5 is parsed with
// seconds, so only 6 succeeds) — with NCrontab 3.3.3's rules (names by prefix, backwards ranges
// swapped, day of month AND day of week), then as a .NET TimeSpan ("hh:mm[:ss]", "d.hh:mm:ss", a
// bare number of days). Anything else fails at load with Functions' text: "The schedule
// expression '{x}' was not recognized as a valid cron expression or timespan string." azbind
// also rejects a zero or negative TimeSpan, which Functions would fire without pause.
// `azbind timer next SCHEDULE` prints the next occurrences.
//
// # Time zones and DST
//
// Cron follows the wall clock of WEBSITE_TIME_ZONE, else TZ (IANA names, or common Windows ids
// such as "Pacific Standard Time"), else the process's local zone. DST is CronSchedule's: a time
// skipped at spring-forward runs that much later (02:30 → 03:30); on fall-back day a
// point-in-time schedule ("0 30 1 * * *") runs once, in the first copy of the hour, while an
// interval schedule (a "*", "/" or "-" in the seconds, minutes or hours field) runs through both
// copies. A TimeSpan adds absolute time.
//
// # Options
//
// runOnStartup (default false) runs once when the host takes the listener lock. useMonitor
// (default true; switched off, with Functions' Debug line "UseMonitor changed to false based on
// schedule frequency.", for TimeSpans under a minute and "X * * * * *" crons that fire more than
// once a minute) enables the past-due check and TimerInfo.ScheduleStatus. host.json
// extensions.timers may set listenerLockPeriod (15 s–1 min, default 1 min) and
// listenerLockRecoveryPollingInterval (default 1 min), Functions' singleton defaults.
//
// # Status blob, past due, binding data
//
// The status is azure-webjobs-hosts/timers/<hostId>/Host.Functions.<Name>/status in host storage
// (AzureWebJobsStorage, required), Functions' JSON with Newtonsoft ISO dates, so an app moved
// between Functions and azbind keeps its schedule state. At start (with useMonitor) the status is
// checked as ScheduleMonitor.CheckPastDueAsync does: a changed schedule rewrites it; when an
// occurrence was missed, one catch-up run with IsPastDue = true follows (instead of, not in
// addition to, runOnStartup). Errors in the function never stop the schedule. Binding data:
// TimerTrigger (the invocation time, "MM/dd/yyyy HH:mm:ss", as Functions) and azbind's
// OccurrenceTime (RFC 3339, the occurrence the run is for: a key for idempotent handlers).
//
// The handler takes TimerInfo (or *TimerInfo, or nothing); custom handlers receive its JSON,
// {"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":…,"Next":…,"LastUpdated":…}|null,"IsPastDue":false}.
//
// # One run per occurrence (better than Functions)
//
// A host runs the schedule only while it holds the listener lock
// locks/<hostId>/Host.Functions.<Name>.Listener, a lease on host storage (driver.HoldLease:
// renewed at half its period; hosts without it retry every recovery interval). That alone is
// Functions' guarantee, which a lost lease breaks (azure-webjobs-sdk#2840): the old holder may
// not notice in time and run an occurrence the new holder runs too. azbind also records every
// occurrence in the status blob before invoking — Last = the occurrence, with If-Match on the
// ETag the host last saw — and a host whose write is refused re-reads the status and skips an
// occurrence that is recorded. Of any number of hosts that believe they hold the lock, exactly
// one starts each occurrence. The status is written for every run, also when useMonitor is false
// (then it is only the claim: no past-due check, and TimerInfo.ScheduleStatus is null).
//
// A run killed halfway (its host crashes, or is killed, after recording the occurrence) is not
// run again: delivery is at most once per occurrence. The occurrence counts as started; the next
// one runs on schedule on whichever host takes the lock, and if more occurrences were missed
// while no host held it, one past-due run follows (useMonitor). This is chosen over Functions'
// at-least-once (a killed run shows up as past due on restart, and a lost lease double-runs)
// because double runs are the complaint users have with timers, and the next occurrence is a
// timer's natural retry. A handler that must finish every occurrence can key its own
// bookkeeping by OccurrenceTime. When the occurrence cannot be recorded (storage failing), it is
// skipped with an ERROR log ("Function '{n}' failed to update the timer trigger status.").
package timer
