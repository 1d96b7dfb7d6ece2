package timer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// options is the host.json `extensions.timers` section (azbind's; Functions reads the same
// periods from the `singleton` section).
type options struct {
	// ListenerLockPeriod is the listener lock's lease period (15 s to 60 s; default 60 s, the
	// real listenerLockPeriod), renewed at half of it.
	ListenerLockPeriod time.Duration `binding:"listenerLockPeriod"`
	// ListenerLockRecoveryPollingInterval is how often a host without the lock tries to take it
	// (default 60 s, the real listenerLockRecoveryPollingInterval).
	ListenerLockRecoveryPollingInterval time.Duration `binding:"listenerLockRecoveryPollingInterval"`
}

func (o *options) Defaults() {
	o.ListenerLockPeriod = time.Minute
	o.ListenerLockRecoveryPollingInterval = time.Minute
}

func (o *options) Validate() error {
	if o.ListenerLockPeriod < 15*time.Second || o.ListenerLockPeriod > time.Minute {
		return &driver.ConfigError{Where: "host.json: extensions.timers", Field: "listenerLockPeriod", Problem: fmt.Sprintf("%v is outside the range of a blob lease", o.ListenerLockPeriod), Fix: "use 00:00:15 to 00:01:00"}
	}
	if o.ListenerLockRecoveryPollingInterval < time.Second {
		return &driver.ConfigError{Where: "host.json: extensions.timers", Field: "listenerLockRecoveryPollingInterval", Problem: fmt.Sprintf("%v is too short", o.ListenerLockRecoveryPollingInterval), Fix: "use at least 00:00:01"}
	}
	return nil
}

type trigger struct {
	name         string
	sched        *Schedule
	runOnStartup bool
	useMonitor   bool
	storage      driver.HostStorage
	leaser       driver.Leaser
	clock        driver.Clock
	log          *slog.Logger
	statusKey    string
	lockKey      string
	period       time.Duration
	retry        time.Duration
}

// StatusKey is the status blob's name in azure-webjobs-hosts, as StorageScheduleMonitor's.
func StatusKey(hostID, function string) string {
	return "timers/" + hostID + "/Host.Functions." + function + "/status"
}

// LockKey is the listener lock's blob name in azure-webjobs-hosts, as SingletonListener's.
func LockKey(hostID, function string) string {
	return "locks/" + hostID + "/Host.Functions." + function + ".Listener"
}

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	expr, err := bc.Spec.String("schedule")
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(expr) == "" {
		return nil, bc.Errorf("schedule", `set it to an NCRONTAB expression ("0 */5 * * * *"), a TimeSpan ("00:05:00") or a %setting%`, "is required")
	}
	loc, err := zoneFrom(bc)
	if err != nil {
		return nil, err
	}
	sched, err := ParseSchedule(expr, loc)
	if err != nil {
		return nil, bc.Errorf("schedule", "check it with `azbind timer next '<schedule>'`", "%w", err)
	}
	runOnStartup, err := boolProp(bc, "runOnStartup", false)
	if err != nil {
		return nil, err
	}
	useMonitor, err := boolProp(bc, "useMonitor", true)
	if err != nil {
		return nil, err
	}
	log := bc.Host.Logger.With("function", bc.Function, "trigger", "timerTrigger")
	if useMonitor && sched.frequent(bc.Host.Clock.Now()) {
		log.Debug("UseMonitor changed to false based on schedule frequency.")
		useMonitor = false
	}
	opts, err := driver.Section[options](ctx, bc)
	if err != nil {
		return nil, err
	}
	st, err := bc.Host.DurableStorage("the timer trigger (its status blob and listener lock)")
	if err != nil {
		return nil, err
	}
	leaser, ok := st.(driver.Leaser)
	if !ok {
		return nil, &driver.ConfigError{Where: "host storage", Problem: "the timer trigger needs leases, and the host storage cannot lease keys", Fix: "use the default host storage (AzureWebJobsStorage) or one that implements driver.Leaser"}
	}
	return &trigger{
		name: bc.Function, sched: sched, runOnStartup: runOnStartup, useMonitor: useMonitor,
		storage: st, leaser: leaser, clock: bc.Host.Clock, log: log,
		statusKey: StatusKey(bc.Host.HostID, bc.Function), lockKey: LockKey(bc.Host.HostID, bc.Function),
		period: opts.ListenerLockPeriod, retry: opts.ListenerLockRecoveryPollingInterval,
	}, nil
}

// zoneFrom reads WEBSITE_TIME_ZONE, then TZ, from the app settings; neither: the process's
// local zone (as Functions' DateTimeOffset.Now).
func zoneFrom(bc *driver.BindContext) (*time.Location, error) {
	for _, key := range []string{"WEBSITE_TIME_ZONE", "TZ"} {
		if v, ok := bc.Host.Settings.Get(key); ok && strings.TrimSpace(v) != "" {
			loc, err := LoadLocation(strings.TrimSpace(v))
			if err != nil {
				return nil, &driver.ConfigError{Where: "setting " + key, Problem: err.Error(), Fix: "use an IANA zone name (America/New_York) or a Windows zone id (Eastern Standard Time)"}
			}
			return loc, nil
		}
	}
	return time.Local, nil
}

func boolProp(bc *driver.BindContext, key string, def bool) (bool, error) {
	v, ok := bc.Spec.Prop(key)
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, nil
		}
	}
	return false, bc.Errorf(key, "use true or false", "must be a boolean, got %v", v)
}

// BindingData implements driver.BindingDataContract: TimerTriggerBinding's TimerTrigger (the
// invocation time, "MM/dd/yyyy HH:mm:ss") and azbind's OccurrenceTime (the occurrence the run is
// for, RFC 3339: a key for idempotent handlers).
func (t *trigger) BindingData() []string { return []string{"TimerTrigger", "OccurrenceTime"} }

// Run implements driver.Trigger: the listener lock decides which host runs the schedule; a host
// without it retries every listenerLockRecoveryPollingInterval.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	t.log.Debug(fmt.Sprintf("The '%s' timer is using the schedule '%s' and the local time zone: '%s'", t.name, t.sched, t.sched.loc))
	var occ strings.Builder
	for _, o := range t.sched.Occurrences(t.clock.Now(), 5) {
		occ.WriteString("\n" + o.Format(time.RFC3339))
	}
	t.log.Info(fmt.Sprintf("The next 5 occurrences of the '%s' schedule (%s) will be:%s", t.name, t.sched, occ.String()))
	for {
		held, err := driver.HoldLease(ctx, t.leaser, t.clock, t.lockKey, t.period)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, driver.ErrConflict) {
				t.log.Warn("timer trigger: could not take the listener lock; retrying", "lock", t.lockKey, "error", err)
			}
			if driver.Sleep(ctx, t.clock, t.retry) != nil {
				return nil
			}
			continue
		}
		t.log.Debug("timer trigger: holding the listener lock", "lock", t.lockKey)
		t.lead(ctx, held, exec)
		lost := !held.Held()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = held.Release(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if lost {
			t.log.Warn("timer trigger: lost the listener lock; another host may run the schedule", "lock", t.lockKey)
		}
	}
}

type runKind int

const (
	scheduled runKind = iota
	pastDue
	startup
)

// lead runs the schedule while held is held (TimerListener.StartAsync and its timer).
func (t *trigger) lead(ctx context.Context, held *driver.HeldLease, exec driver.Executor) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-held.Lost():
			cancel()
		case <-lctx.Done():
		}
	}()
	now := t.now()
	st, etag, err := t.read(lctx)
	if err != nil {
		if lctx.Err() == nil {
			t.log.Warn("timer trigger: could not read the timer status; retrying", "key", t.statusKey, "error", err)
		}
		_ = driver.Sleep(lctx, t.clock, t.retry)
		return
	}
	isPastDue := false
	if t.useMonitor {
		if st == nil {
			t.log.Debug(fmt.Sprintf("Function '%s' initial status: Last='(null)', Next='(null)', LastUpdated='(null)'", t.name))
		} else {
			t.log.Debug(fmt.Sprintf("Function '%s' initial status: Last='%s', Next='%s', LastUpdated='%s'", t.name, iso(st.Last), iso(st.Next), iso(st.LastUpdated)))
		}
		st, etag, isPastDue = t.checkPastDue(lctx, now, st, etag)
	}
	if st == nil || (!t.useMonitor && st.Next.Before(now)) {
		// No status, or without the monitor (no catch-up): start from now. The stored status,
		// if any, is still the base of the next conditional write.
		next, _ := t.sched.Next(now)
		st = &ScheduleStatus{Next: next}
	}
	switch {
	case isPastDue:
		t.log.Info(fmt.Sprintf("Function '%s' is past due on startup. Executing now.", t.name))
		st, etag = t.claimAndRun(lctx, exec, pastDue, st.Next, st, etag)
	case t.runOnStartup:
		t.log.Info(fmt.Sprintf("Function '%s' is configured to run on startup. Executing now.", t.name))
		st, etag = t.claimAndRun(lctx, exec, startup, time.Time{}, st, etag)
	}
	for lctx.Err() == nil {
		if st.Next.IsZero() {
			<-lctx.Done()
			return
		}
		if d := st.Next.Sub(t.clock.Now()); d > 0 {
			t.log.Debug(fmt.Sprintf("Timer for '%s' started with interval '%s'.", t.name, d))
			if driver.Sleep(lctx, t.clock, d) != nil {
				return
			}
		}
		st, etag = t.claimAndRun(lctx, exec, scheduled, st.Next, st, etag)
	}
}

// claimAndRun records the occurrence in the status blob with a conditional write (If-Match the
// ETag this host last read or wrote) and only then invokes the function: of hosts that both
// believe they hold the lock, only one records an occurrence, and a host that finds it recorded
// skips it. It returns the status and ETag to continue from.
func (t *trigger) claimAndRun(ctx context.Context, exec driver.Executor, kind runKind, occ time.Time, st *ScheduleStatus, etag string) (*ScheduleStatus, string) {
	before := *st
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return st, etag
		}
		now := t.now()
		last := now
		if kind == scheduled && occ.After(now) {
			last = occ // fired early (clock skew): record the scheduled time
		}
		next, _ := t.sched.Next(last)
		claim := &ScheduleStatus{Last: last, Next: next, LastUpdated: last}
		newTag, err := t.write(ctx, claim, etag)
		if err == nil {
			t.invoke(ctx, exec, kind, occ, &before, now)
			return claim, newTag
		}
		if !errors.Is(err, driver.ErrConflict) {
			t.log.Error(fmt.Sprintf("Function '%s' failed to update the timer trigger status.", t.name), "error", err,
				"detail", "the occurrence is not run, since it could not be recorded (at most once)")
			st.Next = next
			return st, etag
		}
		// Another host wrote the status since this one read it.
		cur, curTag, rerr := t.read(ctx)
		if rerr == nil && cur == nil && attempt < 3 {
			etag = "" // deleted meanwhile: create it
			continue
		}
		if rerr != nil || cur == nil || attempt >= 3 {
			if ctx.Err() == nil {
				t.log.Warn("timer trigger: could not record the occurrence; skipping it", "occurrence", iso(occ), "error", errors.Join(err, rerr))
			}
			st.Next = next
			return st, etag
		}
		if kind != scheduled || !cur.Last.Before(occ) {
			t.log.Debug("timer trigger: the occurrence was recorded by another host; not running it", "occurrence", iso(occ))
			if cur.Next.IsZero() || !cur.Next.After(occ) {
				cur.Next = next
			}
			return cur, curTag
		}
		etag = curTag
	}
}

func (t *trigger) invoke(ctx context.Context, exec driver.Executor, kind runKind, occ time.Time, before *ScheduleStatus, now time.Time) {
	info := TimerInfo{Schedule: ScheduleInfo{AdjustForDST: t.sched.IsCron()}, IsPastDue: kind == pastDue}
	if t.useMonitor {
		info.ScheduleStatus = before
	}
	data, err := json.Marshal(info)
	if err != nil {
		t.log.Error("timer trigger: encode TimerInfo", "error", err)
		return
	}
	if kind == startup {
		occ = now
	}
	md := driver.MapMetadata{"TimerTrigger": now.In(t.sched.loc).Format("01/02/2006 15:04:05"), "OccurrenceTime": occ.Format(time.RFC3339Nano)}
	attrs := []any{"occurrence", iso(occ)}
	switch kind {
	case pastDue:
		attrs = append(attrs, "UnscheduledInvocationReason", "IsPastDue", "OriginalSchedule", iso(occ))
	case startup:
		attrs = []any{"UnscheduledInvocationReason", "RunOnStartup"}
	}
	t.log.Debug("timer trigger: invoking", attrs...)
	id := "timer:" + t.name + "@" + iso(occ)
	if kind == startup {
		id = "timer:" + t.name + "@startup"
	}
	// Errors never stop the schedule; the runtime logs the failure.
	_ = exec.Execute(ctx, &driver.Event{Data: json.RawMessage(data), Metadata: md, ID: id})
}

// checkPastDue is ScheduleMonitor.CheckPastDueAsync: it writes an initial status, or a new one
// when the schedule changed, and reports whether an occurrence was missed.
func (t *trigger) checkPastDue(ctx context.Context, now time.Time, st *ScheduleStatus, etag string) (*ScheduleStatus, string, bool) {
	var recorded time.Time
	if st == nil {
		next, _ := t.sched.Next(now)
		st = &ScheduleStatus{Next: next, LastUpdated: now}
		etag = t.bestEffort(ctx, st, etag)
		recorded = next
	} else {
		var expected, lastUpdated time.Time
		switch {
		case !st.Last.IsZero():
			expected, _ = t.sched.Next(st.Last)
			lastUpdated = st.Last
		case !st.LastUpdated.IsZero():
			expected, _ = t.sched.Next(st.LastUpdated)
			lastUpdated = st.LastUpdated
		default:
			expected, _ = t.sched.Next(now)
			lastUpdated = now
		}
		if !st.Next.Equal(expected) {
			if now.After(expected) {
				expected, _ = t.sched.Next(now)
				lastUpdated = now
			}
			st = &ScheduleStatus{Next: expected, LastUpdated: lastUpdated}
			etag = t.bestEffort(ctx, st, etag)
		}
		recorded = st.Next
	}
	return st, etag, !recorded.IsZero() && now.After(recorded)
}

func (t *trigger) bestEffort(ctx context.Context, st *ScheduleStatus, etag string) string {
	tag, err := t.write(ctx, st, etag)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Error(fmt.Sprintf("Function '%s' failed to update the timer trigger status.", t.name), "error", err)
		}
		if cur, curTag, rerr := t.read(ctx); rerr == nil && cur != nil {
			return curTag
		}
		return etag
	}
	return tag
}

func (t *trigger) read(ctx context.Context) (*ScheduleStatus, string, error) {
	rec, err := t.storage.Get(ctx, t.statusKey)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var st ScheduleStatus
	if err := json.Unmarshal(rec.Data, &st); err != nil {
		t.log.Warn("timer trigger: the timer status is not valid JSON; starting afresh", "key", t.statusKey, "error", err)
		return nil, rec.ETag, nil
	}
	st.Last, st.Next, st.LastUpdated = st.Last.In(t.sched.loc), st.Next.In(t.sched.loc), st.LastUpdated.In(t.sched.loc)
	return &st, rec.ETag, nil
}

// write stores st conditionally: If-Match etag, or only if absent when etag is "".
func (t *trigger) write(ctx context.Context, st *ScheduleStatus, etag string) (string, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	cond := driver.Cond{IfMatch: etag, IfNoneMatch: etag == ""}
	return t.storage.Put(ctx, t.statusKey, driver.Record{Data: data}, cond)
}

// now is the clock's time in the schedule's zone, at the 100 ns precision the status keeps.
func (t *trigger) now() time.Time { return t.clock.Now().Truncate(100).In(t.sched.loc) }

func iso(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.Format(netLayout)
}
