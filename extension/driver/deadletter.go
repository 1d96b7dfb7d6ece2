package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
)

// DeadLetterPrefix is where every stream trigger (Event Hubs, Cosmos DB change feed) keeps the
// batches its function still failed after the retry policy, in durable host storage (the
// azure-webjobs-hosts container of AzureWebJobsStorage), one JSON document per batch:
//
//	deadletters/<hostId>/<function, lower-cased>/<UTC time>-<id>.json
//
// The time (20060102T150405.000000000Z) makes keys sort by when the batch failed within a
// function; the id is the connector's name for the batch's position (partition and sequence
// numbers, lease token). The host id keeps two apps sharing one storage account apart, as
// Functions' own locks/<hostId>/… and timers/<hostId>/… do. A batch dead-lettered a second time
// (its host died between the dead-letter write and the checkpoint) is a second document: the
// record is at-least-once, like the delivery.
const DeadLetterPrefix = "deadletters/"

// DeadLetter is one dead-lettered batch, the same record for every stream trigger.
type DeadLetter struct {
	Key      string `json:"-"` // its host-storage key (set by WriteDeadLetter and ReadDeadLetter)
	Function string `json:"function"`
	Trigger  string `json:"trigger"` // binding type, e.g. "eventHubTrigger"
	HostID   string `json:"hostId"`
	// Connection is the binding's connection setting name as declared (never its value): replay
	// resolves it again; "" means the service's default connection.
	Connection string    `json:"connection,omitempty"`
	Time       time.Time `json:"time"`
	// Reason is the last attempt's error text, redacted (connection.ScrubText) by WriteDeadLetter.
	Reason string `json:"reason"`
	// Attempts is how many times the batch was invoked, when the connector knows (0: unknown; the
	// host's retry policy runs inside Executor.Execute).
	Attempts int               `json:"attempts,omitempty"`
	Source   DeadLetterSource  `json:"source"`
	Events   []DeadLetterEvent `json:"events"`
}

// DeadLetterSource is where a dead-lettered batch came from: enough to find it again in the
// service (and to replay it there).
type DeadLetterSource struct {
	Account       string `json:"account,omitempty"` // Event Hubs namespace, Cosmos DB account endpoint
	Entity        string `json:"entity,omitempty"`  // event hub; Cosmos DB container
	Database      string `json:"database,omitempty"`
	ConsumerGroup string `json:"consumerGroup,omitempty"`
	Partition     string `json:"partition,omitempty"`
	// FirstSequence and LastSequence are the batch's first and last sequence numbers, FirstOffset
	// its first offset (Event Hubs).
	FirstSequence *int64 `json:"firstSequenceNumber,omitempty"`
	LastSequence  *int64 `json:"lastSequenceNumber,omitempty"`
	FirstOffset   string `json:"firstOffset,omitempty"`
	// FeedRange is the lease's token; Continuation and NextContinuation the change feed's position
	// before and after the batch (Cosmos DB).
	FeedRange        string `json:"feedRange,omitempty"`
	Continuation     string `json:"continuation,omitempty"`
	NextContinuation string `json:"nextContinuation,omitempty"`
}

// DeadLetterEvent is one event of a dead-lettered batch: its body byte for byte (Body, base64 in
// the document) or, for JSON documents, the document as it was (Document), and the connector's
// metadata for it (properties, position; a JSON object whose shape the connector documents).
type DeadLetterEvent struct {
	Body     []byte          `json:"body,omitempty"`
	Document json.RawMessage `json:"document,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// deadLetterTime is the key's time format: fixed width, so that keys sort by time.
const deadLetterTime = "20060102T150405.000000000Z"

var keySafe = strings.NewReplacer("/", "_", "\\", "_", `"`, "", " ", "_", "?", "_", "#", "_", "%", "_")

// DeadLetterFunctionPrefix is the key prefix of one function's dead letters on one host
// (function "" : every function of the host; hostID "" : every host).
func DeadLetterFunctionPrefix(hostID, function string) string {
	if hostID == "" {
		return DeadLetterPrefix
	}
	p := DeadLetterPrefix + hostID + "/"
	if function != "" {
		p += strings.ToLower(function) + "/"
	}
	return p
}

// WriteDeadLetter stores dl under the one layout (see DeadLetterPrefix), with id naming the
// batch's position, and sets dl.Key. Reason is redacted first. A write that fails is returned
// (wrapped): the caller holds its position, never moves past a batch that is not recorded.
func WriteDeadLetter(ctx context.Context, hs HostStorage, dl *DeadLetter, id string) error {
	if dl.HostID == "" || dl.Function == "" {
		return errors.New("dead letter: host id and function are required")
	}
	dl.Time = dl.Time.UTC()
	dl.Reason = connection.ScrubText(dl.Reason)
	key := DeadLetterFunctionPrefix(dl.HostID, dl.Function) + dl.Time.Format(deadLetterTime) + "-" + keySafe.Replace(id) + ".json"
	raw, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("dead letter %s: encoding: %w", key, err)
	}
	md := map[string]string{"function": dl.Function, "trigger": dl.Trigger, "events": fmt.Sprint(len(dl.Events))}
	if _, err := hs.Put(ctx, key, Record{Data: raw, Metadata: md}, Cond{IfNoneMatch: true}); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("dead letter %s: writing: %w", key, err)
	}
	dl.Key = key
	return nil
}

// ListDeadLetters returns the keys of the dead letters under DeadLetterFunctionPrefix(hostID,
// function), in key order (by host, function, then time).
func ListDeadLetters(ctx context.Context, hs HostStorage, hostID, function string) ([]string, error) {
	prefix := DeadLetterFunctionPrefix(hostID, function)
	keys, err := hs.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing dead letters under %s: %w", prefix, err)
	}
	if hostID == "" && function != "" {
		// Every host's letters of one function: deadletters/<host>/<function>/….
		want := "/" + strings.ToLower(function) + "/"
		out := keys[:0]
		for _, k := range keys {
			if rest := strings.TrimPrefix(k, DeadLetterPrefix); strings.Contains(rest, "/") && strings.HasPrefix(rest[strings.Index(rest, "/"):], want) {
				out = append(out, k)
			}
		}
		keys = out
	}
	return keys, nil
}

// ReadDeadLetter reads the dead letter at key.
func ReadDeadLetter(ctx context.Context, hs HostStorage, key string) (*DeadLetter, error) {
	rec, err := hs.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading dead letter %s: %w", key, err)
	}
	var dl DeadLetter
	if err := json.Unmarshal(rec.Data, &dl); err != nil {
		return nil, fmt.Errorf("dead letter %s: not a dead-letter document: %w", key, err)
	}
	dl.Key = key
	return &dl, nil
}
