// Package amqppeer is the Go side of the amqp-peer (emulators/amqp-peer/peer.js): a local AMQP 1.0
// test double for Azure Service Bus and Event Hubs that the unmodified azservicebus and azeventhubs
// clients talk to on loopback. It starts the peer with a configuration of entities, gives the
// connection string, and wraps the peer's admin interface (HTTP/JSON on a second loopback port):
// entity creation, message counts, dead-lettered messages and fault injection.
//
// One peer per test package is the intended use: start it in TestMain with Launch, and give every
// test its own entities (CreateEntities with unique names) so that tests can run in parallel. The
// admin routes are listed at the top of emulators/amqp-peer/peer.js.
//
// The peer is a test double, not a broker: in memory, one process, plain AMQP, no subscription
// rules, no transactions, no partitioned entities, no quotas.
package amqppeer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/azbind/azbind/internal/emulator"
)

// Config lists entities. It is what Start and CreateEntities send to the peer.
type Config struct {
	Queues    []Queue    `json:"queues,omitempty"`
	Topics    []Topic    `json:"topics,omitempty"`
	EventHubs []EventHub `json:"eventHubs,omitempty"`
}

// Queue is a Service Bus queue. Zero values take the service defaults (lock 60 s, max delivery
// count 10, no sessions).
type Queue struct {
	Name             string        `json:"name"`
	LockDuration     time.Duration `json:"-"`
	MaxDeliveryCount int           `json:"maxDeliveryCount,omitempty"`
	RequiresSession  bool          `json:"requiresSession,omitempty"`
	// DefaultMessageTimeToLive applies to messages sent without a TTL (0: never expire).
	DefaultMessageTimeToLive time.Duration `json:"-"`
}

// Subscription is a topic subscription; it receives a copy of every message sent to its topic.
type Subscription = Queue

// Topic is a Service Bus topic with its subscriptions.
type Topic struct {
	Name          string         `json:"name"`
	Subscriptions []Subscription `json:"subscriptions,omitempty"`
}

// EventHub is an event hub with Partitions partitions ("0".."n-1") and consumer groups besides
// $Default.
type EventHub struct {
	Name           string   `json:"name"`
	Partitions     int      `json:"partitions"`
	ConsumerGroups []string `json:"consumerGroups,omitempty"`
}

// MarshalJSON sends the durations as milliseconds.
func (q Queue) MarshalJSON() ([]byte, error) {
	type plain Queue
	return json.Marshal(struct {
		plain
		LockDurationMs int64 `json:"lockDurationMs,omitempty"`
		DefaultTTLMs   int64 `json:"defaultMessageTimeToLive,omitempty"`
	}{plain(q), q.LockDuration.Milliseconds(), q.DefaultMessageTimeToLive.Milliseconds()})
}

// Peer is a running amqp-peer.
type Peer struct {
	*emulator.AMQPPeer
	client *http.Client
}

// Start starts a peer with cfg (may be nil) and stops it when the test ends.
func Start(t testing.TB, cfg *Config) *Peer {
	t.Helper()
	var ents any
	if cfg != nil {
		ents = cfg
	}
	return wrap(emulator.StartAMQPPeer(t, &emulator.AMQPPeerOptions{Entities: ents}))
}

// Launch starts a peer for TestMain or a program; the caller must Stop it.
func Launch(cfg *Config) (*Peer, error) {
	var ents any
	if cfg != nil {
		ents = cfg
	}
	p, err := emulator.LaunchAMQPPeer(&emulator.AMQPPeerOptions{Entities: ents})
	if err != nil {
		return nil, err
	}
	return wrap(p), nil
}

func wrap(p *emulator.AMQPPeer) *Peer {
	return &Peer{AMQPPeer: p, client: &http.Client{Timeout: 10 * time.Second}}
}

// EventHubConnectionString is the connection string with EntityPath=hub.
func (p *Peer) EventHubConnectionString(hub string) string {
	return p.ConnectionString + ";EntityPath=" + hub
}

// WrongKeyConnectionString is a connection string whose key the peer rejects (CBS 401).
func (p *Peer) WrongKeyConnectionString() string {
	return fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true",
		p.Port, p.KeyName, "d3Jvbmcta2V5LW5vdC10aGUtcGVlcnMta2V5LTAwMDA=")
}

// Counts are the message counts of a queue or subscription (or of a dead-letter queue given by
// its path <entity>/$DeadLetterQueue). Active includes locked messages, as the service counts them.
type Counts struct {
	Active       int `json:"active"`
	Locked       int `json:"locked"`
	Deferred     int `json:"deferred"`
	Scheduled    int `json:"scheduled"`
	DeadLettered int `json:"deadLettered"`
	Total        int `json:"total"`
}

// DeadLetter is one message in a dead-letter queue.
type DeadLetter struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
	SessionID      string `json:"sessionId"`
	Reason         string `json:"reason"`
	Description    string `json:"description"`
	DeliveryCount  int    `json:"deliveryCount"`
	Body           string `json:"body"`
}

// Stats are peer-wide counters.
type Stats struct {
	Connections    int  `json:"connections"`
	OpenSockets    int  `json:"openSockets"`
	TokensAccepted int  `json:"tokensAccepted"`
	TokensRejected int  `json:"tokensRejected"`
	LinksRefused   int  `json:"linksRefused"`
	Stalled        bool `json:"stalled"`
	RefuseLinks    bool `json:"refuseLinks"`
}

func (p *Peer) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("amqppeer: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.AdminURL+path, rd)
	if err != nil {
		return fmt.Errorf("amqppeer: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("amqppeer: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("amqppeer: %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("amqppeer: %s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("amqppeer: %s %s: decoding %q: %w", method, path, raw, err)
		}
	}
	return nil
}

// CreateEntities adds entities to the running peer (existing ones are kept as they are).
func (p *Peer) CreateEntities(ctx context.Context, cfg Config) error {
	return p.do(ctx, http.MethodPost, "/entities", cfg, nil)
}

// Counts returns the counts of a queue, a subscription (topic/Subscriptions/sub) or a dead-letter
// queue (…/$DeadLetterQueue).
func (p *Peer) Counts(ctx context.Context, entity string) (Counts, error) {
	var c Counts
	err := p.do(ctx, http.MethodGet, "/counts?entity="+url.QueryEscape(entity), nil, &c)
	return c, err
}

// DeadLetters lists the dead-lettered messages of a queue or subscription, oldest first.
// Releases is how many deliveries of entity a receiver released (the SDK's releaser gives back
// messages that arrived outside ReceiveMessages), ever: a count a test can poll.
func (p *Peer) Releases(ctx context.Context, entity string) (int, error) {
	var c struct {
		Releases int `json:"releases"`
	}
	err := p.do(ctx, http.MethodGet, "/counts?entity="+url.QueryEscape(entity), nil, &c)
	return c.Releases, err
}

func (p *Peer) DeadLetters(ctx context.Context, entity string) ([]DeadLetter, error) {
	var d []DeadLetter
	err := p.do(ctx, http.MethodGet, "/deadletters?entity="+url.QueryEscape(entity), nil, &d)
	return d, err
}

// Stats returns the peer's counters.
func (p *Peer) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := p.do(ctx, http.MethodGet, "/stats", nil, &s)
	return s, err
}

func (p *Peer) fault(ctx context.Context, body map[string]string) error {
	return p.do(ctx, http.MethodPost, "/faults", body, nil)
}

// DropConnections closes every client connection at once (as a network failure would).
func (p *Peer) DropConnections(ctx context.Context) error {
	return p.fault(ctx, map[string]string{"action": "drop-connections"})
}

// DetachLinks detaches every sender and receiver link to an entity (not $cbs or $management) with
// amqp:link:detach-forced, keeping the connections open.
func (p *Peer) DetachLinks(ctx context.Context) error {
	return p.fault(ctx, map[string]string{"action": "detach-links"})
}

// Stall stops reading from every connection (open and new) and stops delivering, until Unstall.
func (p *Peer) Stall(ctx context.Context) error {
	return p.fault(ctx, map[string]string{"action": "stall"})
}

// Unstall ends Stall.
func (p *Peer) Unstall(ctx context.Context) error {
	return p.fault(ctx, map[string]string{"action": "unstall"})
}

// RefuseLinks makes the peer refuse every new sender/receiver link to an entity (CBS and management
// links still work) with the AMQP error condition (default com.microsoft:server-busy), until AcceptLinks.
func (p *Peer) RefuseLinks(ctx context.Context, condition string) error {
	return p.fault(ctx, map[string]string{"action": "refuse-links", "condition": condition})
}

// AcceptLinks ends RefuseLinks.
func (p *Peer) AcceptLinks(ctx context.Context) error {
	return p.fault(ctx, map[string]string{"action": "accept-links"})
}
