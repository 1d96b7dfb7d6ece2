package eventgrid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// ErrInvalidEvent is wrapped by Flush errors for an item that is not an event of the batch's schema.
var ErrInvalidEvent = errors.New("not a valid event")

type outputConfig struct {
	TopicEndpointURI string `binding:"topicEndpointUri"`
	TopicKeySetting  string `binding:"topicKeySetting"`
	Connection       string `binding:"connection"`
}

type output struct {
	client   *azeventgrid.Client
	conn     *connection.Connection
	endpoint string
}

type clientID struct{ kind, key, endpoint, name string }

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	var cfg outputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	_, keyDeclared := bc.Spec.Prop("topicKeySetting")
	cfg.Connection = strings.TrimSpace(cfg.Connection)
	cfg.TopicEndpointURI = strings.TrimSpace(cfg.TopicEndpointURI)
	cfg.TopicKeySetting = strings.TrimSpace(cfg.TopicKeySetting)
	var (
		c   *connection.Connection
		err error
	)
	switch {
	case keyDeclared && cfg.Connection != "":
		return nil, bc.Errorf("", "keep topicEndpointUri + topicKeySetting (key) or connection (identity), not both",
			"Conflicting Event Grid topic credentials have been set in 'Connection' and 'TopicKeySetting'")
	case cfg.Connection != "" && cfg.TopicEndpointURI != "":
		return nil, bc.Errorf("topicEndpointUri", "remove topicEndpointUri: an identity connection takes the endpoint from <connection>__topicEndpointUri",
			"Conflicting Event Grid topic endpoints have been set in 'Connection' and 'TopicEndpointUri'")
	case cfg.Connection != "":
		c, err = bc.Connection(ctx, connection.EventGrid)
		if err != nil {
			return nil, err
		}
	case cfg.TopicEndpointURI == "":
		return nil, bc.Errorf("", "set connection to the name of a <name>__topicEndpointUri section (identity), or topicEndpointUri and topicKeySetting to the names of the app settings holding the topic endpoint and key",
			"The 'Connection' property or 'TopicEndpointUri' property must be set")
	case cfg.TopicKeySetting == "":
		return nil, bc.Errorf("topicKeySetting", "set topicKeySetting to the name of the app setting holding the topic key, or use connection (<name>__topicEndpointUri) for an identity",
			"The 'TopicKeySetting' property must be the name of an application setting containing the Topic Key")
	default:
		ep, ok := bc.Host.Settings.Get(cfg.TopicEndpointURI)
		if !ok || strings.TrimSpace(ep) == "" {
			return nil, bc.Errorf("topicEndpointUri", "define the app setting "+cfg.TopicEndpointURI+" as https://<topic>.<region>-1.eventgrid.azure.net/api/events",
				"topicEndpointUri names the app setting %q, which is not defined", cfg.TopicEndpointURI)
		}
		if u, perr := url.Parse(strings.TrimSpace(ep)); perr != nil || u.Scheme == "" || u.Host == "" || u.User != nil {
			return nil, bc.Errorf("topicEndpointUri", "set "+cfg.TopicEndpointURI+" to the topic endpoint, e.g. https://<topic>.<region>-1.eventgrid.azure.net/api/events",
				"The 'TopicEndpointUri' property must be a valid absolute Uri (app setting %s)", cfg.TopicEndpointURI)
		}
		if k, ok := bc.Host.Settings.Get(cfg.TopicKeySetting); !ok || strings.TrimSpace(k) == "" {
			return nil, bc.Errorf("topicKeySetting", "define the app setting "+cfg.TopicKeySetting+" with the topic's access key",
				"topicKeySetting names the app setting %q, which is not defined", cfg.TopicKeySetting)
		}
		c, err = keyConnection(ctx, bc.Host, cfg.TopicEndpointURI, cfg.TopicKeySetting)
		if err != nil {
			return nil, bc.Errorf("topicKeySetting", "", "%v", err)
		}
	}
	id := clientID{kind: string(c.Kind), key: c.Key, endpoint: c.Endpoint, name: c.Name}
	cl, err := driver.Shared(ctx, bc.Host, id, func(context.Context) (*azeventgrid.Client, error) { return NewClient(c) })
	if err != nil {
		return nil, err
	}
	return &output{client: cl, conn: c, endpoint: c.Endpoint}, nil
}

// Open implements driver.Output.
func (o *output) Open(context.Context, *driver.FunctionContext) (driver.Sink, error) {
	return &sink{o: o}, nil
}

// sink buffers the invocation's events; Flush publishes them in one request. The runtime
// serialises its Add and Flush calls (driver.Sink), so it has no lock of its own.
type sink struct {
	o     *output
	items []any
}

func (s *sink) Add(_ context.Context, item any) error {
	if item == nil {
		return fmt.Errorf("eventgrid: output: a nil event: %w", ErrInvalidEvent)
	}
	s.items = append(s.items, item)
	return nil
}

func (s *sink) Flush(ctx context.Context) error {
	items := s.items
	s.items = nil
	if len(items) == 0 {
		return nil
	}
	egs, ces, err := Events(items)
	if err != nil {
		return fmt.Errorf("eventgrid: output to %s: %w", s.o.endpoint, err)
	}
	if egs != nil {
		_, err = s.o.client.PublishEvents(ctx, egs, nil)
	} else {
		_, err = s.o.client.PublishCloudEvents(ctx, ces, nil)
	}
	if err != nil {
		return fmt.Errorf("eventgrid: publish %d event(s) to %s: %w", len(items), s.o.endpoint, err) // (scrubbed by SDKOptions)
	}
	return nil
}

// Events turns output items into one publishable batch, as the Event Grid extension does on
// flush: the first item decides the schema (a topic accepts one). azeventgrid.Event and
// messaging.CloudEvent values (or pointers) are taken as they are; string, []byte,
// json.RawMessage, io.Reader and any other value that encodes to a JSON object are parsed as an
// Event Grid schema event (id, subject, eventType, eventTime, data and dataVersion required)
// and, failing that, as a CloudEvent (specversion "1.0", id, source, type required). Every later
// item must be an event of the same schema. Exactly one of the results is non-nil.
func Events(items []any) ([]azeventgrid.Event, []messaging.CloudEvent, error) {
	if len(items) == 0 {
		return nil, nil, nil
	}
	schema, err := firstSchema(items[0])
	if err != nil {
		return nil, nil, fmt.Errorf("item 0: %w", err)
	}
	if schema == SchemaEventGrid {
		out := make([]azeventgrid.Event, 0, len(items))
		for i, it := range items {
			ev, err := toEvent(it)
			if err != nil {
				return nil, nil, fmt.Errorf("item %d: %w (the first item made this an Event Grid schema batch, and a topic accepts one schema)", i, err)
			}
			out = append(out, ev)
		}
		return out, nil, nil
	}
	out := make([]messaging.CloudEvent, 0, len(items))
	for i, it := range items {
		ce, err := toCloudEvent(it)
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w (the first item made this a CloudEvents batch, and a topic accepts one schema)", i, err)
		}
		out = append(out, ce)
	}
	return nil, out, nil
}

func firstSchema(item any) (Schema, error) {
	switch item.(type) {
	case azeventgrid.Event, *azeventgrid.Event:
		return SchemaEventGrid, nil
	case messaging.CloudEvent, *messaging.CloudEvent:
		return SchemaCloudEvents, nil
	}
	b, err := itemJSON(item)
	if err != nil {
		return 0, err
	}
	_, egErr := parseEvent(b)
	if egErr == nil {
		return SchemaEventGrid, nil
	}
	_, ceErr := parseCloudEvent(b)
	if ceErr == nil {
		return SchemaCloudEvents, nil
	}
	return 0, fmt.Errorf("%w: it is neither an Event Grid schema event (%v) nor a CloudEvent (%v)", ErrInvalidEvent, egErr, ceErr)
}

// itemJSON returns the JSON text of an item that is not an SDK event type.
func itemJSON(item any) ([]byte, error) {
	var b []byte
	switch x := item.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	case json.RawMessage:
		b = x
	case io.Reader:
		var err error
		if b, err = io.ReadAll(x); err != nil {
			return nil, fmt.Errorf("read the event: %w", err)
		}
	case nil:
		return nil, fmt.Errorf("%w: nil", ErrInvalidEvent)
	default:
		var err error
		if b, err = json.Marshal(item); err != nil {
			return nil, fmt.Errorf("%w: %T does not encode to JSON: %v", ErrInvalidEvent, item, err)
		}
	}
	b = bytes.TrimSpace(b)
	if kind(b) != '{' {
		return nil, fmt.Errorf("%w: %T holds %s, not a JSON object", ErrInvalidEvent, item, kindName(b))
	}
	return b, nil
}

func toEvent(item any) (azeventgrid.Event, error) {
	switch x := item.(type) {
	case azeventgrid.Event:
		return x, checkEvent(&x)
	case *azeventgrid.Event:
		if x == nil {
			return azeventgrid.Event{}, fmt.Errorf("%w: nil *azeventgrid.Event", ErrInvalidEvent)
		}
		return *x, checkEvent(x)
	case messaging.CloudEvent, *messaging.CloudEvent:
		return azeventgrid.Event{}, fmt.Errorf("%w: a CloudEvent", ErrInvalidEvent)
	}
	b, err := itemJSON(item)
	if err != nil {
		return azeventgrid.Event{}, err
	}
	return parseEvent(b)
}

func toCloudEvent(item any) (messaging.CloudEvent, error) {
	switch x := item.(type) {
	case messaging.CloudEvent:
		return x, checkCloudEvent(&x)
	case *messaging.CloudEvent:
		if x == nil {
			return messaging.CloudEvent{}, fmt.Errorf("%w: nil *messaging.CloudEvent", ErrInvalidEvent)
		}
		return *x, checkCloudEvent(x)
	case azeventgrid.Event, *azeventgrid.Event:
		return messaging.CloudEvent{}, fmt.Errorf("%w: an Event Grid schema event", ErrInvalidEvent)
	}
	b, err := itemJSON(item)
	if err != nil {
		return messaging.CloudEvent{}, err
	}
	return parseCloudEvent(b)
}

// parseEvent parses an Event Grid schema event strictly. data is kept as the JSON it was.
func parseEvent(b []byte) (azeventgrid.Event, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return azeventgrid.Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	var missing []string
	for _, k := range []string{"id", "subject", "eventType", "eventTime", "data", "dataVersion"} {
		if _, ok := m[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return azeventgrid.Event{}, fmt.Errorf("%w: missing %s", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	var ev azeventgrid.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return azeventgrid.Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	ev.Data = json.RawMessage(m["data"])
	return ev, checkEvent(&ev)
}

func checkEvent(ev *azeventgrid.Event) error {
	var missing []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"id", ev.ID}, {"subject", ev.Subject}, {"eventType", ev.EventType}, {"dataVersion", ev.DataVersion}} {
		if f.v == nil || *f.v == "" && f.name != "subject" && f.name != "dataVersion" {
			missing = append(missing, f.name)
		}
	}
	if ev.EventTime == nil {
		missing = append(missing, "eventTime")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: an Event Grid schema event needs %s", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	return nil
}

// parseCloudEvent parses a structured-mode CloudEvent strictly; a JSON data member is sent on as
// the same JSON (the SDK type would otherwise hold it as bytes and send data_base64).
func parseCloudEvent(b []byte) (messaging.CloudEvent, error) {
	var ce messaging.CloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return messaging.CloudEvent{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err == nil {
		if d, ok := m["data"]; ok {
			ce.Data = json.RawMessage(d)
		}
	}
	return ce, checkCloudEvent(&ce)
}

func checkCloudEvent(ce *messaging.CloudEvent) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"id", ce.ID}, {"source", ce.Source}, {"type", ce.Type}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: a CloudEvent needs %s", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	if ce.SpecVersion != "1.0" {
		return fmt.Errorf("%w: a CloudEvent needs specversion \"1.0\", got %q", ErrInvalidEvent, ce.SpecVersion)
	}
	return nil
}
