package blob

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// Defaults of Options.
const (
	DefaultPoisonBlobThreshold = 5
	DefaultPollingInterval     = time.Second
	// DefaultMaxPollingInterval caps the internal queue's back-off while it is empty. Hand-overs
	// by this host wake its listener at once; the cap bounds how soon other hosts sharing the
	// host ID pick up work.
	DefaultMaxPollingInterval = 2 * time.Second
)

// Options is the host.json section extensions.blobs. The zero value gives the defaults.
type Options struct {
	// MaxDegreeOfParallelism bounds concurrent invocations per host (default 8 × processors). It
	// drives the internal queue's batch size min(32, MDOP/2+1) and new-batch threshold
	// MDOP − batch size (checklist C34).
	MaxDegreeOfParallelism int `binding:"maxDegreeOfParallelism"`
	// PoisonBlobThreshold is the number of failed attempts after which a blob is reported to
	// webjobs-blobtrigger-poison (default 5, checklist C33).
	PoisonBlobThreshold int `binding:"poisonBlobThreshold"`
	// PollingInterval is the time between the starts of two container scans (default 1 s; the
	// real host uses 10 s). A scan of a large container takes longer; scans then run back to back.
	PollingInterval time.Duration `binding:"pollingInterval"`
	// MaxPollingInterval caps the back-off of the internal queue listener while the queue is empty
	// (default 2 s; the real host uses the queues default of 1 minute). This host's own hand-overs
	// wake its listener at once; the cap bounds how soon other hosts help.
	MaxPollingInterval time.Duration `binding:"maxPollingInterval"`
	// StartFrom limits which existing blobs trigger when no scan watermark has been persisted
	// yet for the container: "beginning" (default, as Functions), "firstStart" (only blobs
	// written after the first start), or an RFC 3339 time. A trigger's own startFrom property
	// overrides it.
	StartFrom string `binding:"startFrom"`
}

// normalize applies the defaults; errors are *driver.ConfigError values located at where
// (normally "host.json").
func (o *Options) normalize(concurrency int, where string) error {
	if o.MaxDegreeOfParallelism < 0 {
		return &driver.ConfigError{Where: where, Field: "extensions.blobs.maxDegreeOfParallelism", Problem: fmt.Sprintf("%d must be greater than 0", o.MaxDegreeOfParallelism)}
	}
	if o.PoisonBlobThreshold < 0 {
		return &driver.ConfigError{Where: where, Field: "extensions.blobs.poisonBlobThreshold", Problem: fmt.Sprintf("%d must be at least 1", o.PoisonBlobThreshold)}
	}
	if o.PollingInterval < 0 || o.MaxPollingInterval < 0 {
		return &driver.ConfigError{Where: where, Field: "extensions.blobs", Problem: "pollingInterval and maxPollingInterval must not be negative"}
	}
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	if o.MaxDegreeOfParallelism == 0 {
		o.MaxDegreeOfParallelism = 8 * concurrency
	}
	if o.PoisonBlobThreshold == 0 {
		o.PoisonBlobThreshold = DefaultPoisonBlobThreshold
	}
	if o.PollingInterval == 0 {
		o.PollingInterval = DefaultPollingInterval
	}
	if o.MaxPollingInterval == 0 {
		o.MaxPollingInterval = DefaultMaxPollingInterval
	}
	if o.MaxPollingInterval < 100*time.Millisecond {
		o.MaxPollingInterval = 100 * time.Millisecond
	}
	return nil
}

// batchSize and threshold derive the internal queue's settings from MDOP (checklist C34).
func (o *Options) batchSize() int { return min(32, o.MaxDegreeOfParallelism/2+1) }

func (o *Options) newBatchThreshold() int { return max(0, o.MaxDegreeOfParallelism-o.batchSize()) }

// startFrom is the startFrom option: which blobs count when no watermark has been persisted.
type startFrom struct {
	firstStart bool      // only blobs written after the first start
	at         time.Time // only blobs written at or after this time
}

func parseStartFrom(s, where string) (startFrom, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "beginning":
		return startFrom{}, nil
	case "firststart", "now":
		return startFrom{firstStart: true}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return startFrom{}, &driver.ConfigError{Where: where, Field: "startFrom", Problem: fmt.Sprintf(`%q is not "beginning", "firstStart" or an RFC 3339 time such as "2026-01-02T15:04:05Z"`, s)}
	}
	return startFrom{at: t}, nil
}

// initial returns the watermark to start with given the persisted one.
func (sf startFrom) initial(persisted time.Time, found bool) time.Time {
	wm := time.Time{}
	if found {
		wm = persisted
	}
	if !sf.at.IsZero() && sf.at.After(wm) {
		wm = sf.at
	}
	return wm
}

// needsServerTime: firstStart without a persisted watermark starts at the service's clock.
func (sf startFrom) needsServerTime(found bool) bool { return sf.firstStart && !found }
