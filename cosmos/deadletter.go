package cosmos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// LegacyDeadLetterPrefix is where azbind before the one dead-letter layout
// (driver.DeadLetterPrefix) wrote failed batches: cosmosdb-deadletter/<hostId>/<function>/….
// Nothing is written there any more; ListDeadLetters, ReadDeadLetter and Replay still read it.
const LegacyDeadLetterPrefix = "cosmosdb-deadletter/"

// deadLetter records a batch that failed after the function's retry policy (driver.DeadLetter:
// the documents as they were, the lease's feed range and positions), logs it at ERROR, and lets
// the lease move on.
func (t *trigger) deadLetter(ctx context.Context, token, cont, next string, items [][]byte, cause error) error {
	dl := &driver.DeadLetter{Function: t.fn, Trigger: TriggerType, HostID: t.hostID, Connection: t.connName, Time: t.clock.Now(),
		Source: driver.DeadLetterSource{Account: t.mon.endpoint, Database: t.cfg.DatabaseName, Entity: t.cfg.ContainerName,
			FeedRange: token, Continuation: cont, NextContinuation: next}}
	if cause != nil {
		dl.Reason = cause.Error()
	}
	for _, it := range items {
		dl.Events = append(dl.Events, driver.DeadLetterEvent{Document: it})
	}
	if err := driver.WriteDeadLetter(ctx, t.storage, dl, token+"@"+next); err != nil {
		return fmt.Errorf("cosmos trigger: %w", err)
	}
	t.logger.ErrorContext(ctx, "cosmos trigger: a batch failed after the retry policy; its documents were written to host storage and the lease moves on",
		"lease", token, "documents", len(items), "deadLetter", dl.Key, "error", cause)
	return nil
}

// ListDeadLetters lists the keys of dead-lettered batches in host storage, of host hostID (every
// host when "") and function (every function when ""), then those of the legacy layout.
func ListDeadLetters(ctx context.Context, hs driver.HostStorage, hostID, function string) ([]string, error) {
	keys, err := driver.ListDeadLetters(ctx, hs, hostID, function)
	if err != nil {
		return nil, fmt.Errorf("cosmos: %w", err)
	}
	legacy, err := hs.List(ctx, LegacyDeadLetterPrefix)
	if err != nil {
		return nil, fmt.Errorf("cosmos: listing legacy dead letters: %w", err)
	}
	for _, k := range legacy {
		parts := strings.SplitN(strings.TrimPrefix(k, LegacyDeadLetterPrefix), "/", 3)
		if len(parts) == 3 && (hostID == "" || parts[0] == hostID) && (function == "" || strings.EqualFold(parts[1], function)) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// legacyDeadLetter is the document of the legacy layout.
type legacyDeadLetter struct {
	Function     string            `json:"function"`
	Database     string            `json:"database"`
	Container    string            `json:"container"`
	LeaseToken   string            `json:"leaseToken"`
	Continuation string            `json:"continuation"`
	Next         string            `json:"nextContinuation"`
	Error        string            `json:"error"`
	Time         time.Time         `json:"time"`
	Documents    []json.RawMessage `json:"documents"`
}

// ReadDeadLetter reads one dead-lettered batch, of the one layout or the legacy one.
func ReadDeadLetter(ctx context.Context, hs driver.HostStorage, key string) (*driver.DeadLetter, error) {
	if !strings.HasPrefix(key, LegacyDeadLetterPrefix) {
		dl, err := driver.ReadDeadLetter(ctx, hs, key)
		if err != nil {
			return nil, fmt.Errorf("cosmos: %w", err)
		}
		return dl, nil
	}
	rec, err := hs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cosmos: reading dead letter %s: %w", key, err)
	}
	var old legacyDeadLetter
	if err := json.Unmarshal(rec.Data, &old); err != nil {
		return nil, fmt.Errorf("cosmos: decoding dead letter %s: %w", key, err)
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(key, LegacyDeadLetterPrefix), "/")
	dl := &driver.DeadLetter{Key: key, Function: old.Function, Trigger: TriggerType, HostID: host, Time: old.Time, Reason: old.Error,
		Source: driver.DeadLetterSource{Database: old.Database, Entity: old.Container, FeedRange: old.LeaseToken, Continuation: old.Continuation, NextContinuation: old.Next}}
	for _, d := range old.Documents {
		dl.Events = append(dl.Events, driver.DeadLetterEvent{Document: d})
	}
	return dl, nil
}

// ReplayResult is what Replay did with a dead letter's documents.
type ReplayResult struct {
	Replayed int // rewritten unchanged: the change feed delivers them again
	// Skipped documents changed or were deleted since they failed: their newer version (or
	// the deletion) already went through the change feed, and writing the old one back would
	// undo a later write.
	Skipped []string
}

// Replay sends a dead-lettered batch through the change feed again and deletes the dead letter:
// each document is replaced by itself, conditional on the _etag it had when it failed, so that
// the trigger receives it as a new change (after what the feed holds now). A document that
// changed or was deleted since is skipped (ReplayResult.Skipped): the newer state was delivered
// already. Replaying through the service rather than invoking the function directly keeps the
// one path through the trigger (leases, checkpoints, this dead-letter protection). Other
// change-feed consumers of the container see the documents again.
func Replay(ctx context.Context, hs driver.HostStorage, client *azcosmos.Client, key string) (ReplayResult, error) {
	var res ReplayResult
	dl, err := ReadDeadLetter(ctx, hs, key)
	if err != nil {
		return res, err
	}
	if dl.Trigger != TriggerType {
		return res, fmt.Errorf("cosmos: %s is a %s dead letter, not a Cosmos DB one", key, dl.Trigger)
	}
	props, err := containerProps(ctx, client, dl.Source.Database, dl.Source.Entity)
	if err != nil {
		return res, fmt.Errorf("cosmos: replaying %s: %w", key, err)
	}
	if props == nil {
		return res, fmt.Errorf("cosmos: replaying %s: container %q (in database %q) does not exist", key, dl.Source.Entity, dl.Source.Database)
	}
	paths := props.PartitionKeyDefinition.Paths
	if len(paths) == 0 {
		paths = []string{"/id"}
	}
	cc, err := client.NewContainer(dl.Source.Database, dl.Source.Entity)
	if err != nil {
		return res, err
	}
	for i, ev := range dl.Events {
		d, err := oneDocument(ev.Document)
		if err != nil {
			return res, fmt.Errorf("cosmos: replaying %s: document %d: %w", key, i, err)
		}
		pk, err := d.partitionKey(paths)
		if err != nil {
			return res, fmt.Errorf("cosmos: replaying %s: %w", key, err)
		}
		etag, _ := d.fields["_etag"].(string)
		for _, sys := range []string{"_rid", "_self", "_etag", "_attachments", "_ts", "_lsn"} {
			delete(d.fields, sys)
		}
		body, err := json.Marshal(d.fields)
		if err != nil {
			return res, err
		}
		var opts *azcosmos.ItemOptions
		if etag != "" {
			e := azcore.ETag(etag)
			opts = &azcosmos.ItemOptions{IfMatchEtag: &e}
		}
		if _, err := cc.ReplaceItem(ctx, pk, d.id, body, opts); err != nil {
			if isNotFound(err) || isPrecondition(err) {
				res.Skipped = append(res.Skipped, d.id)
				continue
			}
			return res, fmt.Errorf("cosmos: replaying %s: document %q (%d of %d replayed): %w", key, d.id, res.Replayed, len(dl.Events), connection.RedactError(err))
		}
		res.Replayed++
	}
	if err := hs.Delete(ctx, key, driver.Cond{}); err != nil && !errors.Is(err, driver.ErrNotFound) {
		return res, fmt.Errorf("cosmos: replayed %s but could not delete it: %w", key, err)
	}
	return res, nil
}

// NewClient builds the azcosmos client for a resolved connection as the bindings do (for tools
// such as `azbind deadletters replay`).
func NewClient(c *connection.Connection) (*azcosmos.Client, error) {
	cl, err := newClient(c, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("cosmos: %w", err)
	}
	return cl, nil
}
