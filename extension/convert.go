package extension

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// converter turns a binding value (Event.Data, an Input's value) into a handler parameter value.
type converter func(src any) (any, error)

var (
	stringType  = reflect.TypeFor[string]()
	bytesType   = reflect.TypeFor[[]byte]()
	rawType     = reflect.TypeFor[json.RawMessage]()
	readerType  = reflect.TypeFor[io.Reader]()
	anyType     = reflect.TypeFor[any]()
	readCloserT = reflect.TypeFor[io.ReadCloser]()
)

// isBytesLike reports types that are written as one item even though they are slices.
func isBytesLike(t reflect.Type) bool {
	return t == bytesType || t == rawType || (t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8)
}

// makeConverter returns the converter to t. Every converter first passes through values that are
// directly assignable to t (connector-provided types).
func makeConverter(t reflect.Type) converter {
	switch {
	case t == stringType:
		return toString
	case t == bytesType:
		return toBytes
	case t == rawType:
		return func(src any) (any, error) {
			b, err := toBytes(src)
			if err != nil || b == nil {
				return b, err
			}
			return json.RawMessage(b.([]byte)), nil
		}
	case t == readerType || t == readCloserT:
		return func(src any) (any, error) { return toReader(src, t) }
	case t == anyType:
		return toAny
	}
	return func(src any) (any, error) { return toJSON(src, t) }
}

// toAny is the one rule for an `any` parameter, whatever the connector (issue 25: queue, Service
// Bus and Event Hubs gave raw bytes, Cosmos DB and Event Grid JSON): a payload that is JSON
// arrives decoded (map[string]any, []any, string, float64, bool or nil, as encoding/json decodes
// into an interface); other UTF-8 text as a string; other bytes as []byte. Connector values
// (a message type, an SDK client, a stream) pass through as they are.
func toAny(src any) (any, error) {
	var b []byte
	switch x := src.(type) {
	case []byte:
		b = x
	case json.RawMessage:
		b = x
	case string:
		if json.Valid([]byte(x)) {
			b = []byte(x)
			break
		}
		return x, nil
	default:
		return src, nil
	}
	if b == nil {
		return nil, nil
	}
	if json.Valid(b) {
		var v any
		if err := json.Unmarshal(b, &v); err == nil {
			return v, nil
		}
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return b, nil
}

func toString(src any) (any, error) {
	switch x := src.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case json.RawMessage:
		return string(x), nil
	case io.Reader:
		b, err := io.ReadAll(x)
		if err != nil {
			return nil, fmt.Errorf("read binding stream: %w", err)
		}
		return string(b), nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return nil, fmt.Errorf("cannot convert %T to string: %w", src, ErrUnsupportedType)
}

func toBytes(src any) (any, error) {
	switch x := src.(type) {
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case json.RawMessage:
		return []byte(x), nil
	case io.Reader:
		b, err := io.ReadAll(x)
		if err != nil {
			return nil, fmt.Errorf("read binding stream: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot convert %T to []byte: %w", src, ErrUnsupportedType)
}

func toReader(src any, t reflect.Type) (any, error) {
	if src != nil && reflect.TypeOf(src).AssignableTo(t) {
		return src, nil
	}
	var r io.Reader
	switch x := src.(type) {
	case []byte:
		r = bytes.NewReader(x)
	case string:
		r = strings.NewReader(x)
	case json.RawMessage:
		r = bytes.NewReader(x)
	default:
		return nil, fmt.Errorf("cannot convert %T to %v: %w", src, t, ErrUnsupportedType)
	}
	if t == readCloserT {
		return io.NopCloser(r), nil
	}
	return r, nil
}

func toJSON(src any, t reflect.Type) (any, error) {
	if src != nil && reflect.TypeOf(src).AssignableTo(t) {
		return src, nil
	}
	p := reflect.New(t)
	var err error
	switch x := src.(type) {
	case []byte:
		err = json.Unmarshal(x, p.Interface())
	case string:
		err = json.Unmarshal([]byte(x), p.Interface())
	case json.RawMessage:
		err = json.Unmarshal(x, p.Interface())
	case io.Reader:
		err = json.NewDecoder(x).Decode(p.Interface())
	default:
		// A connector value of another Go type: convert through JSON (e.g. a map to a struct).
		var b []byte
		b, err = json.Marshal(src)
		if err == nil {
			err = json.Unmarshal(b, p.Interface())
		}
		if err != nil {
			return nil, fmt.Errorf("cannot convert %T to %v: %w", src, t, ErrUnsupportedType)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decode JSON into %v: %w", t, err)
	}
	return p.Elem().Interface(), nil
}

// batchConverter converts Event.Batch into a slice of type t.
func batchConverter(t reflect.Type) func(items []any) (any, error) {
	elem := makeConverter(t.Elem())
	return func(items []any) (any, error) {
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, it := range items {
			if it == nil {
				continue
			}
			v, err := elem(it)
			if err != nil {
				return nil, fmt.Errorf("batch item %d: %w", i, err)
			}
			if v != nil {
				s.Index(i).Set(reflect.ValueOf(v))
			}
		}
		return s.Interface(), nil
	}
}

// isNil reports nil values that mean "write nothing" for an output.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
