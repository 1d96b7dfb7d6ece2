package eventgrid

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/messaging"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/extension/driver"
)

// dispatch is how a Notification's events reach the function.
type dispatch int

const (
	single     dispatch = iota // one invocation per event, all in parallel
	batchMany                  // cardinality many: one invocation, Event.Batch
	batchSlice                 // a slice parameter without cardinality many: one invocation, Data is the slice
)

var (
	eventType      = reflect.TypeFor[azeventgrid.Event]()
	cloudEventType = reflect.TypeFor[messaging.CloudEvent]()
	stringType     = reflect.TypeFor[string]()
	bytesType      = reflect.TypeFor[[]byte]()
	rawType        = reflect.TypeFor[json.RawMessage]()
)

type trigger struct {
	host   *driver.Services
	fn     string
	schema Schema
	mode   dispatch
	slice  reflect.Type // the parameter type for batchSlice
}

func newTrigger(_ context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	t := &trigger{host: bc.Host, fn: bc.Function}
	elem := bc.Param
	switch {
	case bc.Spec.Many():
		t.mode = batchMany
	case elem != nil && elem.Kind() == reflect.Slice && !bytesLike(elem):
		// An array parameter means batch dispatch, as in the real extension.
		t.mode, t.slice, elem = batchSlice, elem, elem.Elem()
	}
	t.schema = schemaOf(elem)
	return t, nil
}

func bytesLike(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// schemaOf returns the schema a parameter element type binds to.
func schemaOf(t reflect.Type) Schema {
	if t == nil {
		return SchemaAny
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case eventType:
		return SchemaEventGrid
	case cloudEventType:
		return SchemaCloudEvents
	}
	return SchemaAny
}

// BindingData implements driver.BindingDataContract: `data` (the event's data, or the array of
// every event's data for a batch) and, for single dispatch, the event's other members.
func (t *trigger) BindingData() []string {
	if t.mode == single {
		return []string{"data", "*"}
	}
	return []string{"data"}
}

// Run implements driver.Trigger: it serves the function's webhook endpoint until ctx is done.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	err := Listen(ctx, t.host, Endpoint{Extension: "eventgrid", Function: t.fn, Schema: t.schema,
		Deliver: func(rctx context.Context, events []json.RawMessage) error { return t.deliver(rctx, exec, events) }})
	if err != nil && ctx.Err() != nil {
		return nil // stopped while starting
	}
	return err
}

// deliver runs the function for one Notification: per event in parallel, or once for the batch.
// Any failure fails the request (Event Grid then delivers all its events again).
func (t *trigger) deliver(ctx context.Context, exec driver.Executor, events []json.RawMessage) error {
	if len(events) == 0 {
		return nil
	}
	if t.mode != single {
		ev := &driver.Event{}
		data := make([]any, len(events))
		for i, raw := range events {
			id, d := head(raw)
			if i == 0 {
				ev.ID = id
			}
			data[i] = d
		}
		ev.Metadata = driver.MapMetadata{"data": data}
		if t.mode == batchMany {
			ev.Batch = make([]any, len(events))
			for i, raw := range events {
				ev.Batch[i] = raw
			}
		} else {
			v, err := sliceValue(t.slice, events)
			if err != nil {
				return err
			}
			ev.Data = v
		}
		return outcome(exec.Execute(ctx, ev))
	}
	results := make([]driver.Result, len(events))
	var wg sync.WaitGroup
	for i, raw := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, d := head(raw)
			results[i] = exec.Execute(ctx, &driver.Event{Data: raw, Payload: raw, ID: id, Metadata: driver.MapMetadata{"data": d}})
		}()
	}
	wg.Wait()
	var retry error
	for _, r := range results {
		switch r.Status {
		case driver.Failed:
			return r.Err
		case driver.Cancelled:
			if retry == nil {
				retry = outcome(r)
			}
		}
	}
	return retry
}

// outcome maps an invocation result to Deliver's error.
func outcome(r driver.Result) error {
	switch r.Status {
	case driver.Succeeded:
		return nil
	case driver.Cancelled:
		return fmt.Errorf("%w: %w", ErrRetryLater, r.Err)
	}
	if r.Err == nil {
		return fmt.Errorf("the invocation failed")
	}
	return r.Err
}

// sliceValue builds a batch parameter value for slice types the runtime cannot decode from the
// JSON array itself: []string and [][]byte get each event's JSON text; other slices get the array
// (the runtime decodes it into []T, []azeventgrid.Event, []messaging.CloudEvent, …).
func sliceValue(t reflect.Type, events []json.RawMessage) (any, error) {
	switch t.Elem() {
	case stringType:
		out := reflect.MakeSlice(t, len(events), len(events))
		for i, e := range events {
			out.Index(i).SetString(string(e))
		}
		return out.Interface(), nil
	case bytesType, rawType:
		out := reflect.MakeSlice(t, len(events), len(events))
		for i, e := range events {
			out.Index(i).SetBytes(append([]byte(nil), e...))
		}
		return out.Interface(), nil
	}
	b, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("eventgrid: encode the batch: %w", err)
	}
	return json.RawMessage(b), nil
}
