package extension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/azbind/azbind/extension/driver"
)

// DynamicFunc is a handler that knows its function's bindings only at run time: it receives the
// trigger value, the trigger's binding data and every input by binding name, and returns the
// outputs by binding name (the model is Watermill's HandlerFunc). See Dynamic.
type DynamicFunc func(ctx context.Context, inv *DynamicInvocation) (Outputs, error)

// Outputs are a dynamic handler's output values by binding name; "$return" is the return
// binding. Names match the function's out bindings case-insensitively; a name that the function
// does not declare as an out binding fails the invocation (nothing is written). Each value is
// handed to the output's driver.Sink.Add as is — a json.RawMessage, []byte or string passes
// through unchanged — except a []any, which writes one item per element. A nil value writes
// nothing.
type Outputs map[string]any

// DynamicInvocation is what a dynamic handler receives for one invocation attempt. The
// invocation's FunctionContext (id, logger, retry count, SetReply) is FromContext(ctx).
type DynamicInvocation struct {
	// Function is the function's name.
	Function string
	// Bindings are the function's bindings as declared, %settings% resolved (trigger included).
	Bindings []*BindingSpec
	// TriggerBinding is the trigger binding (one of Bindings).
	TriggerBinding *BindingSpec
	// Data is the trigger's value (driver.Event.Data) for a single item: the connector's value
	// for a handler whose parameter type is unknown (nil for triggers that deliver only a
	// payload, such as the queue trigger; an *http.Request for HTTP; an io.Reader for a blob).
	// Prefer Bytes for the content.
	Data any
	// Batch holds the items of a `cardinality: many` trigger (Data is then nil); each is what
	// Data would be for one item.
	Batch []any
	// Payload is the item's content as the service delivered it (driver.Event.Payload); nil when
	// the connector did not give one (see Bytes).
	Payload []byte
	// Metadata is the trigger's binding data by name (DequeueCount, Id, BlobTrigger, …): the
	// names the trigger declares (driver.BindingDataContract) that have a value, with Go values
	// as the connector gives them (int64, time.Time, string, maps, structs).
	Metadata map[string]any
	// Inputs are the input bindings' values by binding name, as the connectors' Input.Bind
	// returned them (nil for an absent blob or entity). io.Closer values are closed after the
	// invocation.
	Inputs map[string]any

	once     sync.Once
	bytes    []byte
	bytesErr error
}

// Bytes returns the trigger item's content: Payload, else Data when it is []byte, string,
// json.RawMessage or an io.Reader (read once; later calls return the same bytes). It returns
// nil, nil when the trigger value is no content (an SDK client, an *http.Request: read its Body).
func (d *DynamicInvocation) Bytes() ([]byte, error) {
	d.once.Do(func() {
		if d.Payload != nil {
			d.bytes = d.Payload
			return
		}
		d.bytes, d.bytesErr = contentBytes(d.Data)
	})
	return d.bytes, d.bytesErr
}

// contentBytes returns v's bytes when v is content ([]byte, string, json.RawMessage, a reader).
func contentBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case []byte:
		return x, nil
	case json.RawMessage:
		return x, nil
	case string:
		return []byte(x), nil
	case io.Reader:
		b, err := io.ReadAll(x)
		if err != nil {
			return nil, fmt.Errorf("reading the trigger value: %w", err)
		}
		return b, nil
	}
	return nil, nil
}

// Dynamic adapts fn as a Handler for any function, whatever its bindings: fn gets the trigger,
// its binding data and the inputs by name and returns the outputs by name. Connectors are given
// no parameter type (driver.BindContext.Param is nil), so each supplies its default value. Use
// it with Host.Handle, Host.Func or HostOptions.DefaultHandler.
func Dynamic(fn DynamicFunc) Handler {
	if fn == nil {
		return Handler{err: fmt.Errorf("extension.Dynamic: nil func")}
	}
	return Handler{dynamic: fn, desc: "extension.Dynamic"}
}

// isSet reports whether h is a handler (the zero Handler is none).
func (h Handler) isSet() bool { return h.call != nil || h.dynamic != nil || h.err != nil }

// coreDynamic is core for a Dynamic handler: bind every input by name, call the handler, write
// the outputs it returned by name, flush.
func (f *function) coreDynamic(ctx context.Context, inv *invocation) error {
	d := &DynamicInvocation{Function: f.name, Bindings: f.bindings, TriggerBinding: f.bindings[f.trigSlot],
		Payload: inv.ev.Payload, Metadata: f.metadataMap(inv.ev.Metadata)}
	if f.many {
		d.Batch = inv.ev.Batch
	} else {
		d.Data = inv.ev.Data
		if c, ok := d.Data.(io.Closer); ok {
			inv.closers = append(inv.closers, c)
		}
	}
	for _, bi := range f.inputs {
		if bi == nil {
			continue
		}
		v, err := bi.in.Bind(ctx, &inv.fc)
		if err != nil {
			return fmt.Errorf("input binding %q: %w", bi.spec.Name, err)
		}
		if c, ok := v.(io.Closer); ok {
			inv.closers = append(inv.closers, c)
		}
		if isNil(v) {
			v = nil
		}
		if d.Inputs == nil {
			d.Inputs = make(map[string]any, len(f.inputs))
		}
		d.Inputs[bi.spec.Name] = v
	}
	outs, err := f.handler.dynamic(ctx, d)
	if err != nil {
		return err
	}
	if inv.Err() == errTimeoutCancel {
		return errTimeoutCancel
	}
	// Check every name before writing anything; then write in declaration order.
	for name := range outs {
		if f.outputIndex(name) < 0 {
			return fmt.Errorf("function %q: the dynamic handler returned output %q but the function declares no out binding of that name (out bindings: %s)", f.name, name, f.outputNames())
		}
	}
	for i, o := range f.outputs {
		v, ok := outs[o.spec.Name]
		if !ok {
			for k, x := range outs {
				if strings.EqualFold(k, o.spec.Name) {
					v, ok = x, true
					break
				}
			}
		}
		if !ok {
			continue
		}
		if items, isItems := v.([]any); isItems {
			for _, it := range items {
				if isNil(it) {
					continue
				}
				if err := inv.outs[i].add(ctx, it); err != nil {
					return err
				}
			}
			continue
		}
		if isNil(v) {
			continue
		}
		if err := inv.outs[i].add(ctx, v); err != nil {
			return err
		}
	}
	return f.flushOutputs(ctx, inv)
}

func (f *function) outputIndex(name string) int {
	for i, o := range f.outputs {
		if o.spec.Name == name {
			return i
		}
	}
	for i, o := range f.outputs {
		if strings.EqualFold(o.spec.Name, name) {
			return i
		}
	}
	return -1
}

func (f *function) outputNames() string {
	if len(f.outputs) == 0 {
		return "none"
	}
	n := make([]string, len(f.outputs))
	for i, o := range f.outputs {
		n[i] = fmt.Sprintf("%q", o.spec.Name)
	}
	return strings.Join(n, ", ")
}

// metadataMap lists the trigger's binding data: a MapMetadata whole, otherwise every name of
// the trigger's contract that has a value.
func (f *function) metadataMap(md driver.Metadata) map[string]any {
	out := map[string]any{}
	if md == nil {
		return out
	}
	if m, ok := md.(driver.MapMetadata); ok {
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	for _, n := range f.dataNames {
		if n == "*" {
			continue
		}
		if v, ok := md.Lookup(n); ok {
			out[n] = v
		}
	}
	return out
}
