package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/extension/driver"
	"github.com/google/uuid"
)

// Defaults of the trigger's timing properties (reference §3.4).
const (
	DefaultFeedPollDelay           = 5 * time.Second
	DefaultLeaseAcquireInterval    = 13 * time.Second
	DefaultLeaseRenewInterval      = 17 * time.Second
	DefaultLeaseExpirationInterval = 60 * time.Second
	// DefaultLeaseContainerName is the lease container's name when leaseContainerName is unset.
	DefaultLeaseContainerName = "leases"
	// scaleTarget is the documents one instance is sized for when maxItemsPerInvocation is unset.
	scaleTarget = 100
)

type triggerConfig struct {
	DatabaseName                    string `binding:"databaseName,required"`
	ContainerName                   string `binding:"containerName,required"`
	LeaseConnection                 string `binding:"leaseConnection"`
	LeaseDatabaseName               string `binding:"leaseDatabaseName"`
	LeaseContainerName              string `binding:"leaseContainerName"`
	LeaseContainerPrefix            string `binding:"leaseContainerPrefix"`
	CreateLeaseContainerIfNotExists bool   `binding:"createLeaseContainerIfNotExists"`
	LeasesContainerThroughput       int    `binding:"leasesContainerThroughput"`
	FeedPollDelay                   any    `binding:"feedPollDelay"`
	LeaseAcquireInterval            any    `binding:"leaseAcquireInterval"`
	LeaseExpirationInterval         any    `binding:"leaseExpirationInterval"`
	LeaseRenewInterval              any    `binding:"leaseRenewInterval"`
	MaxItemsPerInvocation           int    `binding:"maxItemsPerInvocation"`
	StartFromBeginning              bool   `binding:"startFromBeginning"`
	StartFromTime                   string `binding:"startFromTime"`
	PreferredLocations              string `binding:"preferredLocations"`
}

// timing holds the trigger's intervals.
type timing struct {
	feedPollDelay, acquire, renew, expiration time.Duration
}

// quietBeforeBackoff is how long a lease's feed must stay empty before its polling backs off.
const quietBeforeBackoff = time.Minute

// nextPollDelay is the delay after an empty read, given the previous one and how long the feed
// has been quiet.
func (tm timing) nextPollDelay(prev, quiet time.Duration) time.Duration {
	if quiet < quietBeforeBackoff {
		return tm.feedPollDelay
	}
	return min(2*prev, tm.idlePollDelay())
}

// idlePollDelay is the longest delay between polls of an idle lease: 4 × feedPollDelay (20 s at
// the default), at most 30 s, never below feedPollDelay.
func (tm timing) idlePollDelay() time.Duration {
	return max(tm.feedPollDelay, min(4*tm.feedPollDelay, 30*time.Second))
}

// milliseconds reads a timing property: a number of milliseconds (as function.json has it, also
// as text), a time.Duration (Go API), or a TimeSpan / Go duration text ("00:00:05", "5s").
func milliseconds(raw any) (time.Duration, error) {
	switch x := raw.(type) {
	case nil:
		return 0, nil
	case float64:
		return time.Duration(x * float64(time.Millisecond)), nil
	case int:
		return time.Duration(x) * time.Millisecond, nil
	case int64:
		return time.Duration(x) * time.Millisecond, nil
	case time.Duration:
		return x, nil
	case string:
		if n, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return time.Duration(n * float64(time.Millisecond)), nil
		}
		return driver.ParseTimeSpan(x)
	}
	return 0, fmt.Errorf("must be a number of milliseconds, got %T", raw)
}

type trigger struct {
	fn        string
	cfg       triggerConfig
	tm        timing
	startTime *time.Time
	mon       *account // monitored container's account
	lease     *account // lease container's account
	many      bool
	storage   driver.HostStorage
	hostID    string
	logger    *slog.Logger
	clock     driver.Clock

	owner    string // this listener's lease owner name
	connName string // the binding's connection setting name, for dead letters

	mu      sync.Mutex
	store   *leaseStore
	monitor *azcosmos.ContainerClient
	workers map[string]*leaseWorker // lease id → worker
}

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg triggerConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.LeaseDatabaseName == "" {
		cfg.LeaseDatabaseName = cfg.DatabaseName
	}
	if cfg.LeaseContainerName == "" {
		cfg.LeaseContainerName = DefaultLeaseContainerName
	}
	var tm timing
	for _, d := range []struct {
		field string
		raw   any
		v     *time.Duration
		def   time.Duration
	}{
		{"feedPollDelay", cfg.FeedPollDelay, &tm.feedPollDelay, DefaultFeedPollDelay},
		{"leaseAcquireInterval", cfg.LeaseAcquireInterval, &tm.acquire, DefaultLeaseAcquireInterval},
		{"leaseRenewInterval", cfg.LeaseRenewInterval, &tm.renew, DefaultLeaseRenewInterval},
		{"leaseExpirationInterval", cfg.LeaseExpirationInterval, &tm.expiration, DefaultLeaseExpirationInterval},
	} {
		v, err := milliseconds(d.raw)
		if err != nil {
			return nil, bc.Errorf(d.field, "give a number of milliseconds (e.g. 5000)", "%w", err)
		}
		if v < 0 {
			return nil, bc.Errorf(d.field, "give a positive number of milliseconds", "must not be negative")
		}
		if v == 0 {
			v = d.def
		}
		*d.v = v
	}
	cfg.FeedPollDelay, cfg.LeaseAcquireInterval, cfg.LeaseRenewInterval, cfg.LeaseExpirationInterval = nil, nil, nil, nil
	if tm.renew >= tm.expiration {
		return nil, bc.Errorf("leaseRenewInterval", "make leaseRenewInterval shorter than leaseExpirationInterval",
			"%v is not shorter than leaseExpirationInterval %v: leases would expire before they are renewed", tm.renew, tm.expiration)
	}
	if cfg.MaxItemsPerInvocation < 0 {
		return nil, bc.Errorf("maxItemsPerInvocation", "give a positive number, or leave it out", "must not be negative")
	}
	if cfg.LeasesContainerThroughput < 0 {
		return nil, bc.Errorf("leasesContainerThroughput", "give a positive number of RU/s, or leave it out", "must not be negative")
	}
	t := &trigger{fn: bc.Function, cfg: cfg, tm: tm, many: bc.Spec.Many(), logger: bc.Host.Logger, clock: bc.Host.Clock, hostID: bc.Host.HostID, workers: map[string]*leaseWorker{}}
	if cfg.StartFromTime != "" {
		if cfg.StartFromBeginning {
			return nil, bc.Errorf("startFromTime", "remove startFromBeginning or startFromTime", "Only one of StartFromBeginning or StartFromTime can be used")
		}
		st, err := time.Parse(time.RFC3339Nano, cfg.StartFromTime)
		if err != nil {
			return nil, bc.Errorf("startFromTime", `use ISO 8601 UTC, e.g. "2021-02-16T14:19:29Z"`, "%q is not a date and time: %w", cfg.StartFromTime, err)
		}
		st = st.UTC()
		t.startTime = &st
	}
	t.logger = t.logger.With("function", t.fn, "trigger", TriggerType)
	t.connName = bc.Spec.RawConnection
	if t.connName == "" {
		t.connName = bc.Spec.Connection()
	}
	// A bare GUID, as the Change Feed Processor's instance name in Functions; the host id goes
	// in the lease's properties (propHostID) for people reading the lease container.
	t.owner = uuid.NewString()
	opts, err := decodeOptions(ctx, bc)
	if err != nil {
		return nil, err
	}
	storage, err := bc.Host.DurableStorage("the cosmosDBTrigger's dead-letter of failed batches")
	if err != nil {
		return nil, err
	}
	t.storage = storage
	preferred := splitLocations(cfg.PreferredLocations)
	if t.mon, err = accountFor(ctx, bc, "connection", opts, preferred); err != nil {
		return nil, err
	}
	t.lease = t.mon
	if cfg.LeaseConnection != "" {
		if t.lease, err = accountFor(ctx, bc, "leaseConnection", opts, preferred); err != nil {
			return nil, err
		}
	}
	if sameEndpoint(t.mon.endpoint, t.lease.endpoint) && cfg.DatabaseName == cfg.LeaseDatabaseName && cfg.ContainerName == cfg.LeaseContainerName {
		return nil, bc.Errorf("leaseContainerName", "use another container for the leases (default \"leases\")",
			"The monitored container cannot be the same as the container storing the leases.")
	}
	return t, nil
}

func sameEndpoint(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// BindingData implements driver.BindingDataContract: the trigger has no binding data.
func (t *trigger) BindingData() []string { return []string{} }

// Run implements driver.Trigger: it sets up the lease store, then acquires, renews and balances
// leases until ctx is done, running one worker per owned lease. On stop the workers finish and
// checkpoint their batch in flight, and the leases are released for the other hosts.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	if err := t.retrying(ctx, "starting", t.setup); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	t.logger.InfoContext(ctx, "cosmos trigger started", "database", t.cfg.DatabaseName, "container", t.cfg.ContainerName,
		"leaseContainer", t.cfg.LeaseContainerName, "owner", t.owner)
	var wg sync.WaitGroup
	defer func() {
		t.mu.Lock()
		ws := make([]*leaseWorker, 0, len(t.workers))
		for _, w := range t.workers {
			ws = append(ws, w)
		}
		t.mu.Unlock()
		for _, w := range ws {
			w.stop()
		}
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, w := range ws {
			w.release(rctx)
		}
	}()
	acquire := time.NewTimer(0)
	defer acquire.Stop()
	renew := time.NewTicker(t.tm.renew)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-acquire.C:
			next, err := t.balance(ctx, exec, &wg)
			if err != nil && ctx.Err() == nil {
				t.logger.WarnContext(ctx, "cosmos trigger: acquiring leases failed; retrying", "error", err)
			}
			acquire.Reset(next)
		case <-renew.C:
			t.renewAll(ctx)
		}
	}
}

// retrying runs f until it succeeds, fails permanently (ErrPermanent) or ctx ends. As Functions
// retries a listener that failed to start, a failure that may clear (a container the app creates
// a moment later, an account that cannot be reached) is retried with back-off (up to a minute):
// logged at ERROR once, then at DEBUG while it lasts, and at INFO when it clears.
func (t *trigger) retrying(ctx context.Context, what string, f func(context.Context) error) error {
	delay := 500 * time.Millisecond
	outage := driver.NewOutage(t.logger, t.clock, "cosmos trigger: "+what)
	for {
		err := f(ctx)
		if err == nil {
			outage.OK()
			return nil
		}
		if errors.Is(err, driver.ErrPermanent) || ctx.Err() != nil {
			return err
		}
		outage.Fail(err, slog.Duration("retryIn", delay))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Minute)
	}
}

// setup checks both containers (creating the lease container when allowed), computes the lease
// prefix and creates the missing leases.
func (t *trigger) setup(ctx context.Context) error {
	c := t.cfg
	monProps, err := containerProps(ctx, t.mon.client, c.DatabaseName, c.ContainerName)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading the monitored container: %w", err)
	}
	leaseProps, err := containerProps(ctx, t.lease.client, c.LeaseDatabaseName, c.LeaseContainerName)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading the lease container: %w", err)
	}
	if leaseProps == nil && monProps != nil && c.CreateLeaseContainerIfNotExists {
		if err := t.createLeaseContainer(ctx); err != nil {
			return err
		}
		if leaseProps, err = containerProps(ctx, t.lease.client, c.LeaseDatabaseName, c.LeaseContainerName); err != nil {
			return fmt.Errorf("cosmos trigger: reading the lease container: %w", err)
		}
	}
	if monProps == nil || leaseProps == nil {
		// Not permanent: the app (or a deployment) may create the containers after the host
		// started. The hint to set createLeaseContainerIfNotExists is given only when it is unset.
		hint := " To automatically create the lease container, set 'CreateLeaseContainerIfNotExists' to 'true'."
		if c.CreateLeaseContainerIfNotExists {
			hint = " The lease container is created (createLeaseContainerIfNotExists) once the source container exists."
		}
		return fmt.Errorf("cosmos trigger: Either the source container '%s' (in database '%s') or the lease container '%s' (in database '%s') does not exist. Both containers must exist before the listener starts.%s",
			c.ContainerName, c.DatabaseName, c.LeaseContainerName, c.LeaseDatabaseName, hint)
	}
	if p := leaseProps.PartitionKeyDefinition.Paths; len(p) > 0 && (len(p) != 1 || p[0] != "/id") {
		return fmt.Errorf("%w: the lease container '%s' (in database '%s') is partitioned by %s; the leases need a container partitioned by /id",
			driver.ErrPermanent, c.LeaseContainerName, c.LeaseDatabaseName, strings.Join(p, ","))
	}
	dbc, err := t.mon.client.NewDatabase(c.DatabaseName)
	if err != nil {
		return err
	}
	dbResp, err := dbc.Read(ctx, nil)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading database %q: %w", c.DatabaseName, err)
	}
	mon, err := t.mon.client.NewContainer(c.DatabaseName, c.ContainerName)
	if err != nil {
		return err
	}
	lc, err := t.lease.client.NewContainer(c.LeaseDatabaseName, c.LeaseContainerName)
	if err != nil {
		return err
	}
	store := &leaseStore{cc: lc, prefix: leasePrefix(c.LeaseContainerPrefix, t.mon.endpoint, dbResp.DatabaseProperties.ResourceID, monProps.ResourceID)}
	t.mu.Lock()
	t.store, t.monitor = store, mon
	t.mu.Unlock()
	if err := t.checkForeignLeases(ctx); err != nil {
		return err
	}
	return t.ensureLeases(ctx)
}

// checkForeignLeases refuses a lease container that holds, under this trigger's prefix, leases
// azbind cannot continue: the partition-key-range leases (version 0, no FeedRange) the Change
// Feed Processor of a Functions app writes first. Their tokens are partition-key-range ids,
// which azcosmos gives no way to map to feed ranges; reading them as whole-container ranges would
// deliver every change once per lease. Sharing the lease container of a running Functions app is
// not possible either way (its processor and this one would not balance the same leases).
func (t *trigger) checkForeignLeases(ctx context.Context) error {
	leases, err := t.store.list(ctx)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading the lease store: %w", err)
	}
	for _, l := range leases {
		if l.Version == 0 && l.FeedRange == nil {
			return fmt.Errorf("%w: the lease container '%s' (in database '%s') holds leases of an Azure Functions app's change feed processor for this container (lease %q, partition-key range %q); azbind cannot share or continue them: give this trigger its own leaseContainerPrefix (e.g. \"azbind-\") or lease container, with startFromTime to continue near where the app stopped",
				driver.ErrPermanent, t.cfg.LeaseContainerName, t.cfg.LeaseDatabaseName, l.ID, l.LeaseToken)
		}
	}
	return nil
}

func (t *trigger) createLeaseContainer(ctx context.Context) error {
	c := t.cfg
	if _, err := t.lease.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: c.LeaseDatabaseName}, nil); err != nil && !isConflict(err) {
		return fmt.Errorf("cosmos trigger: creating lease database %q: %w", c.LeaseDatabaseName, err)
	}
	dbc, err := t.lease.client.NewDatabase(c.LeaseDatabaseName)
	if err != nil {
		return err
	}
	ttl := int32(-1)
	props := azcosmos.ContainerProperties{ID: c.LeaseContainerName, DefaultTimeToLive: &ttl,
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{"/id"}}}
	var co *azcosmos.CreateContainerOptions
	if c.LeasesContainerThroughput > 0 {
		tp := azcosmos.NewManualThroughputProperties(int32(c.LeasesContainerThroughput))
		co = &azcosmos.CreateContainerOptions{ThroughputProperties: &tp}
	}
	if _, err := dbc.CreateContainer(ctx, props, co); err != nil && !isConflict(err) {
		return fmt.Errorf("cosmos trigger: creating lease container %q: %w", c.LeaseContainerName, err)
	}
	t.logger.InfoContext(ctx, "cosmos trigger created the lease container", "database", c.LeaseDatabaseName, "container", c.LeaseContainerName)
	return nil
}

// ensureLeases creates a lease per feed range unless the store is initialized. New leases start
// as declared: from the beginning, from startFromTime, or from now (resolved at once to the
// feed's current position, so that nothing written after this point is lost even if this host
// dies before its first checkpoint).
func (t *trigger) ensureLeases(ctx context.Context) error {
	ok, err := t.store.initialized(ctx)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading the lease store: %w", err)
	}
	if ok {
		return nil
	}
	ranges, err := t.monitor.ReadFeedRanges(ctx, nil)
	if err != nil {
		return fmt.Errorf("cosmos trigger: reading the feed ranges: %w", err)
	}
	for _, fr := range ranges {
		token := fr.MinInclusive + "-" + fr.MaxExclusive
		l := &leaseDoc{ID: t.store.leaseID(token), Version: 1, LeaseToken: token, Properties: map[string]string{}, Timestamp: t.clock.Now().UTC()}
		l.FeedRange = &leaseFeedRange{}
		l.FeedRange.Range.Min, l.FeedRange.Range.Max = fr.MinInclusive, fr.MaxExclusive
		switch {
		case t.cfg.StartFromBeginning:
		case t.startTime != nil:
			l.Properties[propStartFromTime] = t.startTime.Format(time.RFC3339Nano)
		default:
			now, err := t.currentPosition(ctx, fr)
			if err != nil {
				return fmt.Errorf("cosmos trigger: reading the change feed's current position: %w", err)
			}
			l.ContinuationToken = now
		}
		created, err := t.store.create(ctx, l)
		if err != nil {
			return fmt.Errorf("cosmos trigger: creating lease %s: %w", l.ID, err)
		}
		if created {
			t.logger.DebugContext(ctx, "cosmos trigger created a lease", "lease", l.LeaseToken)
		}
	}
	return t.store.markInitialized(ctx)
}

// currentPosition is the change feed's continuation for "from now" (If-None-Match: *).
func (t *trigger) currentPosition(ctx context.Context, fr azcosmos.FeedRange) (string, error) {
	resp, err := t.monitor.ReadChangeFeed(ctx, &azcosmos.ChangeFeedOptions{Continuation: continuationFor(fr, "*"), MaxItemCount: 1})
	if err != nil {
		return "", err
	}
	if resp.ETag == "" {
		return "", errors.New("the change feed answered without an etag")
	}
	return string(resp.ETag), nil
}

// continuationFor is azcosmos's composite continuation for one feed range at etag.
func continuationFor(fr azcosmos.FeedRange, etag string) *string {
	type rng struct {
		Min  string `json:"minInclusive"`
		Max  string `json:"maxExclusive"`
		Cont string `json:"continuationToken"`
	}
	b, _ := json.Marshal(struct {
		Version      int    `json:"version"`
		ResourceID   string `json:"resourceId"`
		Continuation []rng  `json:"continuation"`
	}{1, "", []rng{{fr.MinInclusive, fr.MaxExclusive, etag}}})
	s := string(b)
	return &s
}

// balance lists the leases, takes the expired and released ones this host is due (an equal share
// of the leases among the live owners), and steals one from the busiest owner when no free lease
// is left and this host is below its share.
//
// It returns when to look again: leaseAcquireInterval, or sooner — just after the first lease of
// another owner would expire — so that a lease its owner no longer renews (a killed host) is taken
// over as soon as it expires, not up to an acquire interval later (issue 24; the change-feed
// processor waits for its next round). A live owner renews every leaseRenewInterval, long before
// its lease comes within an acquire interval of expiring, so healthy hosts never look sooner.
func (t *trigger) balance(ctx context.Context, exec driver.Executor, wg *sync.WaitGroup) (time.Duration, error) {
	next := t.tm.acquire
	leases, err := t.store.list(ctx)
	if err != nil {
		return next, err
	}
	if len(leases) == 0 {
		return next, t.ensureLeases(ctx)
	}
	now := t.clock.Now()
	t.mu.Lock()
	mine := 0
	for id, w := range t.workers {
		if w.isLost() {
			delete(t.workers, id)
			continue
		}
		mine++
	}
	owned := func(id string) bool { _, ok := t.workers[id]; return ok }
	counts := map[string]int{t.owner: mine}
	var free, others []*leaseDoc
	for _, l := range leases {
		switch {
		case owned(l.ID):
		case l.expired(now, t.tm.expiration):
			free = append(free, l)
		default:
			counts[l.Owner]++
			if l.Owner != t.owner {
				others = append(others, l)
			}
		}
	}
	t.mu.Unlock()
	for _, l := range others {
		if d := l.renewed().Add(t.tm.expiration).Sub(now) + expiryMargin; d > 0 && d < next {
			next = d
		}
	}
	target := (len(leases) + len(counts) - 1) / len(counts)
	need := target - mine
	if need <= 0 {
		return next, nil
	}
	rand.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	var take []*leaseDoc
	for _, l := range free {
		if len(take) == need {
			break
		}
		take = append(take, l)
	}
	if len(take) == 0 {
		// Steal one lease from the owner holding the most, if it holds more than its share.
		sort.Slice(others, func(i, j int) bool { return counts[others[i].Owner] > counts[others[j].Owner] })
		if len(others) > 0 && counts[others[0].Owner] > target {
			take = append(take, others[0])
		}
	}
	for _, l := range take {
		prev := l.Owner
		l.Owner, l.Timestamp = t.owner, t.clock.Now().UTC()
		if l.Properties == nil {
			l.Properties = map[string]string{}
		}
		l.Properties[propHostID] = t.hostID
		got, err := t.store.replace(ctx, l)
		if err != nil {
			if isPrecondition(err) || isNotFound(err) {
				continue // another host was first
			}
			return t.tm.acquire, fmt.Errorf("acquiring lease %s: %w", l.LeaseToken, err)
		}
		t.logger.InfoContext(ctx, "cosmos trigger acquired a lease", "lease", got.LeaseToken, "previousOwner", prev)
		t.start(ctx, exec, wg, got)
	}
	return next, nil
}

// expiryMargin is how long after a lease's expiry balance looks again (expired means older than
// leaseExpirationInterval, strictly; a timer never fires early). A killed host's leases are taken
// over this long after their expiry, plus the acquisition.
const expiryMargin = 20 * time.Millisecond

func (t *trigger) start(ctx context.Context, exec driver.Executor, wg *sync.WaitGroup, l *leaseDoc) {
	wctx, cancel := context.WithCancel(ctx)
	w := &leaseWorker{t: t, doc: l, cancel: cancel, lost: make(chan struct{})}
	t.mu.Lock()
	t.workers[l.ID] = w
	t.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run(wctx, ctx, exec)
	}()
}

// renewAll renews every owned lease; a lease another host took is given up.
func (t *trigger) renewAll(ctx context.Context) {
	t.mu.Lock()
	ws := make([]*leaseWorker, 0, len(t.workers))
	for _, w := range t.workers {
		ws = append(ws, w)
	}
	t.mu.Unlock()
	// A renewal is not cut short by the stop: a write the service applied but whose answer was
	// lost would leave a stale ETag behind.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.tm.renew+5*time.Second)
	defer cancel()
	for _, w := range ws {
		if err := w.update(rctx, nil); err != nil && !errors.Is(err, errLeaseLost) {
			t.logger.WarnContext(ctx, "cosmos trigger: renewing a lease failed", "lease", w.token(), "error", err)
		}
	}
}

var errLeaseLost = errors.New("lease lost to another host")

// leaseWorker processes one owned lease: read a batch, execute it, checkpoint.
type leaseWorker struct {
	t      *trigger
	cancel context.CancelFunc

	mu       sync.Mutex
	doc      *leaseDoc
	pos      string // the position reached: after the last settled batch or an empty read ("" = doc's)
	lost     chan struct{}
	lostOnce sync.Once
}

func (w *leaseWorker) setPos(p string) {
	w.mu.Lock()
	w.pos = p
	w.mu.Unlock()
}

// stillOwned rereads the lease before a batch, so that a host whose lease was just taken does
// not process the batch the new owner will read too. A failed read is not a loss.
func (w *leaseWorker) stillOwned(ctx context.Context) bool {
	w.mu.Lock()
	id := w.doc.ID
	w.mu.Unlock()
	cur, err := w.t.store.read(ctx, id)
	if err != nil {
		if isNotFound(err) {
			w.markLost()
			return false
		}
		return !w.isLost()
	}
	if cur.Owner != w.t.owner {
		w.t.logger.InfoContext(ctx, "cosmos trigger lost a lease to another host", "lease", cur.LeaseToken, "owner", cur.Owner)
		w.markLost()
		return false
	}
	return !w.isLost()
}

func (w *leaseWorker) token() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.doc.LeaseToken
}

func (w *leaseWorker) isLost() bool {
	select {
	case <-w.lost:
		return true
	default:
		return false
	}
}

func (w *leaseWorker) markLost() {
	w.lostOnce.Do(func() { close(w.lost) })
	w.cancel()
}

func (w *leaseWorker) stop() { w.cancel() }

// update rewrites the lease with a fresh timestamp (and, when cont is set, a new continuation),
// conditional on its ETag.
func (w *leaseWorker) update(ctx context.Context, cont *string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.isLost() {
		return errLeaseLost
	}
	if cont != nil {
		w.pos = *cont
	}
	return w.modify(ctx, func(l *leaseDoc) {
		l.Timestamp = w.t.clock.Now().UTC()
		if w.pos != "" {
			l.ContinuationToken = w.pos
		}
	})
}

// modify writes change(lease) conditional on the lease's ETag. On 412 it rereads the lease and
// tries again while this listener still owns it: the 412 may come from its own earlier write
// whose answer was lost (a renewal cut short by the stop). w.mu is held.
func (w *leaseWorker) modify(ctx context.Context, change func(*leaseDoc)) error {
	for attempt := 0; attempt < 5; attempt++ {
		l := *w.doc
		change(&l)
		got, err := w.t.store.replace(ctx, &l)
		if err == nil {
			w.doc = got
			return nil
		}
		if isNotFound(err) {
			w.markLost()
			return errLeaseLost
		}
		if !isPrecondition(err) {
			return err
		}
		cur, rerr := w.t.store.read(ctx, l.ID)
		if rerr != nil {
			if isNotFound(rerr) {
				w.markLost()
				return errLeaseLost
			}
			return rerr
		}
		if cur.Owner != w.t.owner {
			w.t.logger.InfoContext(ctx, "cosmos trigger lost a lease to another host", "lease", cur.LeaseToken, "owner", cur.Owner)
			w.markLost()
			return errLeaseLost
		}
		w.doc = cur
	}
	return fmt.Errorf("lease %s: too many concurrent updates", w.doc.LeaseToken)
}

// release gives the lease up (Owner "", the position reached stored) so that another host takes
// it at once.
func (w *leaseWorker) release(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.isLost() {
		return
	}
	err := w.modify(ctx, func(l *leaseDoc) {
		l.Owner = ""
		if w.pos != "" {
			l.ContinuationToken = w.pos
		}
	})
	if err != nil && !errors.Is(err, errLeaseLost) {
		w.t.logger.WarnContext(ctx, "cosmos trigger: releasing a lease failed (it will expire)", "lease", w.doc.LeaseToken, "error", err)
	}
	w.lostOnce.Do(func() { close(w.lost) })
}

func (w *leaseWorker) state() (azcosmos.FeedRange, string, *time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var st *time.Time
	if s := w.doc.Properties[propStartFromTime]; s != "" {
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			st = &tm
		}
	}
	return w.doc.feedRange(), w.doc.ContinuationToken, st
}

// run reads and executes batches until ctx (cancelled on stop and when the lease is lost) ends.
// runCtx is the trigger's Run context, passed to Execute for its values.
func (w *leaseWorker) run(ctx, runCtx context.Context, exec driver.Executor) {
	t := w.t
	fr, cont, startTime := w.state()
	log := t.logger.With("lease", w.token())
	var quietSince time.Time // first empty read of the current quiet spell
	delay := t.tm.feedPollDelay
	for ctx.Err() == nil {
		items, next, err := t.readFeed(ctx, fr, cont, startTime)
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "cosmos trigger: reading the change feed failed; retrying", "error", err)
				sleep(ctx, t.tm.feedPollDelay)
			}
			continue
		}
		if len(items) == 0 {
			if next != "" {
				cont, startTime = next, nil
				w.setPos(next)
			}
			// Idle back-off: after a quiet minute the delay doubles per empty read, up to
			// idlePollDelay; the first change resets it. Leases (and so failover) are unaffected.
			now := time.Now()
			if quietSince.IsZero() {
				quietSince = now
			}
			delay = t.tm.nextPollDelay(delay, now.Sub(quietSince))
			sleep(ctx, delay)
			continue
		}
		quietSince, delay = time.Time{}, t.tm.feedPollDelay
		if !w.stillOwned(ctx) {
			return
		}
		ev := &driver.Event{ID: w.token() + "@" + cont, Metadata: driver.MapMetadata{}}
		if t.many {
			ev.Batch = make([]any, len(items))
			for i, it := range items {
				ev.Batch[i] = json.RawMessage(it)
			}
		} else {
			ev.Data = jsonArray(items)
		}
		res := exec.Execute(runCtx, ev)
		wctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), 30*time.Second)
		switch res.Status {
		case driver.Succeeded:
		case driver.Failed:
			if err := t.deadLetter(wctx, w.token(), cont, next, items, res.Err); err != nil {
				// Not recorded: keep the lease where it is and try the batch again.
				log.ErrorContext(wctx, "cosmos trigger: a batch failed and could not be dead-lettered; it will be retried", "error", err, "invocationError", res.Err)
				cancel()
				sleep(ctx, t.tm.feedPollDelay)
				continue
			}
		default: // Cancelled: no checkpoint; the batch comes back to whoever holds the lease next.
			cancel()
			return
		}
		err = w.update(wctx, &next)
		cancel()
		if errors.Is(err, errLeaseLost) {
			return // not checkpointed: the new owner starts from the last stored continuation
		}
		if err != nil {
			// The position is kept in memory and stored by the next renewal or checkpoint; if this
			// host dies first, the batch is delivered again (at-least-once).
			log.WarnContext(ctx, "cosmos trigger: checkpoint failed; the batch may be delivered again", "error", err)
		}
		cont, startTime = next, nil
	}
}

func (t *trigger) readFeed(ctx context.Context, fr azcosmos.FeedRange, cont string, startTime *time.Time) ([][]byte, string, error) {
	opts := &azcosmos.ChangeFeedOptions{MaxItemCount: int32(t.cfg.MaxItemsPerInvocation)}
	if cont == "" {
		opts.FeedRange = &fr
		opts.StartFrom = startTime
	} else {
		opts.Continuation = continuationFor(fr, cont)
	}
	resp, err := t.monitor.ReadChangeFeed(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	return resp.Items, string(resp.ETag), nil
}

func jsonArray(items [][]byte) json.RawMessage {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, it := range items {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, it...)
	}
	return append(out, ']')
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// Scale implements driver.Scaler: the documents not yet processed in every lease's range
// (counted up to 1000 per lease), sized by maxItemsPerInvocation (100 when unset).
func (t *trigger) Scale(ctx context.Context) (driver.ScaleMetrics, error) {
	t.mu.Lock()
	store, mon := t.store, t.monitor
	t.mu.Unlock()
	target := int64(t.cfg.MaxItemsPerInvocation)
	if target <= 0 {
		target = scaleTarget
	}
	if store == nil {
		return driver.ScaleMetrics{TargetPerInstance: target}, nil
	}
	leases, err := store.list(ctx)
	if err != nil {
		return driver.ScaleMetrics{}, fmt.Errorf("cosmos trigger: listing leases: %w", err)
	}
	var backlog int64
	for _, l := range leases {
		fr := l.feedRange()
		opts := &azcosmos.ChangeFeedOptions{MaxItemCount: 1000}
		if l.ContinuationToken == "" {
			opts.FeedRange = &fr
		} else {
			opts.Continuation = continuationFor(fr, l.ContinuationToken)
		}
		resp, err := mon.ReadChangeFeed(ctx, opts)
		if err != nil {
			return driver.ScaleMetrics{}, fmt.Errorf("cosmos trigger: reading lease %s's backlog: %w", l.LeaseToken, err)
		}
		backlog += int64(len(resp.Items))
	}
	return driver.ScaleMetrics{Backlog: backlog, TargetPerInstance: target}, nil
}
