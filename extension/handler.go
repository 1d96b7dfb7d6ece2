package extension

import (
	"context"
	"fmt"
	"reflect"
)

// Handler is a function's Go implementation; build one with Func, Action, Reflect or Dynamic.
type Handler struct {
	params []reflect.Type // parameters after ctx
	result reflect.Type   // nil when the handler returns only error
	call   func(ctx context.Context, args []any) (any, error)
	err    error // construction error, reported when the function is declared
	desc   string
	// rawArg: the generic adapter converts []byte/string payloads to T itself (without boxing),
	// so the runtime may pass them unconverted.
	rawArg bool
	// dynamic: a Dynamic handler (call is nil): bindings by name in, outputs by name out.
	dynamic DynamicFunc
}

// argOf converts an argument to T; []byte and string payloads convert to string and []byte here,
// in generic code, so that the value is not boxed twice.
func argOf[T any](a any) T {
	if v, ok := a.(T); ok {
		return v
	}
	var t T
	switch x := a.(type) {
	case []byte:
		if p, ok := any(&t).(*string); ok {
			*p = string(x)
		}
	case string:
		if p, ok := any(&t).(*[]byte); ok {
			*p = []byte(x)
		}
	}
	return t
}

func isRawArg[T any]() bool {
	t := reflect.TypeFor[T]()
	return t == stringType || t == bytesType
}

var (
	ctxType   = reflect.TypeFor[context.Context]()
	errorType = reflect.TypeFor[error]()
)

// Func adapts fn. T receives the trigger value — or, when T is a struct whose fields carry
// `azbind:"<binding name>"` tags, the trigger, the inputs and *Collector outputs by name. R goes to
// the `$return` output — or, when R is a struct with `azbind` tags, each field to the output of
// that name (a nil field writes nothing; a slice field writes one item per element). An untagged
// field of such a struct whose type the trigger offers by type (driver.BindingType.Extras) gets
// the event's value of that type.
func Func[T, R any](fn func(context.Context, T) (R, error)) Handler {
	return Handler{
		params: []reflect.Type{reflect.TypeFor[T]()},
		result: reflect.TypeFor[R](),
		desc:   fmt.Sprintf("func(context.Context, %v) (%v, error)", reflect.TypeFor[T](), reflect.TypeFor[R]()),
		rawArg: isRawArg[T](),
		call: func(ctx context.Context, args []any) (any, error) {
			r, err := fn(ctx, argOf[T](args[0]))
			if err != nil {
				return nil, err
			}
			return r, nil
		},
	}
}

// Action adapts a handler that writes no output through its return value.
func Action[T any](fn func(context.Context, T) error) Handler {
	return Handler{
		params: []reflect.Type{reflect.TypeFor[T]()},
		desc:   fmt.Sprintf("func(context.Context, %v) error", reflect.TypeFor[T]()),
		rawArg: isRawArg[T](),
		call: func(ctx context.Context, args []any) (any, error) {
			return nil, fn(ctx, argOf[T](args[0]))
		},
	}
}

// Reflect adapts any func(ctx context.Context, params...) (R, error) or func(ctx, params...) error.
// The parameters after ctx take, in order: the trigger, the input bindings in declaration order,
// then *Collector[T] parameters for the output bindings that the return value does not write, in
// declaration order. A parameter may also be a bindings struct (fields tagged `azbind:"name"`).
// A parameter whose type the trigger offers by type (driver.BindingType.Extras: settlement
// actions, for one) takes that per-event value wherever it stands, and takes no binding's place.
func Reflect(fn any) Handler {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if v.Kind() != reflect.Func || v.IsNil() {
		return Handler{err: fmt.Errorf("extension.Reflect: want a func, got %T", fn)}
	}
	h := Handler{desc: t.String()}
	if t.NumIn() < 1 || t.In(0) != ctxType {
		return Handler{err: fmt.Errorf("extension.Reflect: %s: the first parameter must be context.Context", t)}
	}
	if t.IsVariadic() {
		return Handler{err: fmt.Errorf("extension.Reflect: %s: variadic handlers are not supported", t)}
	}
	switch {
	case t.NumOut() == 1 && t.Out(0) == errorType:
	case t.NumOut() == 2 && t.Out(1) == errorType:
		h.result = t.Out(0)
	default:
		return Handler{err: fmt.Errorf("extension.Reflect: %s: must return error or (R, error)", t)}
	}
	for i := 1; i < t.NumIn(); i++ {
		h.params = append(h.params, t.In(i))
	}
	nres := t.NumOut()
	h.call = func(ctx context.Context, args []any) (any, error) {
		in := make([]reflect.Value, 1+len(h.params))
		in[0] = reflect.ValueOf(ctx)
		for i, pt := range h.params {
			if args[i] == nil {
				in[i+1] = reflect.Zero(pt)
			} else {
				in[i+1] = reflect.ValueOf(args[i])
			}
		}
		out := v.Call(in)
		errV := out[nres-1]
		if !errV.IsNil() {
			return nil, errV.Interface().(error)
		}
		if nres == 2 {
			return out[0].Interface(), nil
		}
		return nil, nil
	}
	return h
}

// PanicError is the failure of an invocation whose handler (or middleware) panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// Unwrap exposes a panic value that is an error.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Binding plans: how handler parameters and results map onto a function's bindings.
// ---------------------------------------------------------------------------------------------

type slotKind int

const (
	slotTrigger slotKind = iota
	slotInput
	slotCollector
	slotStruct
	slotExtra // a value of one of the trigger's BindingType.Extras types, from Event.Extras
)

// slot fills one handler argument (or one field of a bindings struct).
type slot struct {
	kind    slotKind
	binding int // index in function bindings
	out     int // output index for collectors
	typ     reflect.Type
	conv    converter
	fields  []fieldSlot // slotStruct
}

type fieldSlot struct {
	index []int
	slot
}

// resultPlan routes the handler's result to outputs.
type resultPlan struct {
	ret    int          // output index for $return, or -1
	fields []fieldRoute // struct result
	typ    reflect.Type
}

type fieldRoute struct {
	index []int
	out   int
	typ   reflect.Type
}

var collectorIface = reflect.TypeFor[collectorParam]()

func isCollectorType(t reflect.Type) bool {
	return t != nil && t.Kind() == reflect.Pointer && t.Implements(collectorIface)
}

// collectorElem returns T of *Collector[T].
func collectorElem(t reflect.Type) reflect.Type {
	c := reflect.New(t.Elem()).Interface().(collectorParam)
	return reflect.TypeOf(c.elemType()).Elem()
}

// taggedFields returns the `azbind`-tagged fields of a struct type (nil if t is no such struct).
func taggedFields(t reflect.Type) []reflect.StructField {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var out []reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		if tag, ok := f.Tag.Lookup("azbind"); ok && tag != "" && tag != "-" && f.IsExported() {
			out = append(out, f)
		}
	}
	return out
}
