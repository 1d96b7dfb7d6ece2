package driver

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
)

// Decode maps the binding's properties onto the struct v points to. Fields are matched by their
// `binding:"name"` tag, case-insensitively (a field without a tag is skipped); the tag option
// ",required" makes a missing or empty property an error. Supported field types: string, bool,
// int kinds, float64, time.Duration (a TimeSpan "hh:mm:ss", a Go duration "1m30s", or a number of
// milliseconds), []string and map[string]any. Errors name the declaration, the field and the fix,
// and wrap ErrInvalidConfig.
func (bc *BindContext) Decode(v any) error {
	return decodeMap(bc.Spec.Properties, v, bc.Spec.Where)
}

// DecodeConfig maps the extension's host.json section (BindContext.Config) onto v, with the same
// tag rules as Decode. Errors name "host.json: extensions.<name>.<field>".
func (bc *BindContext) DecodeConfig(v any) error {
	where := "host.json: extensions"
	if bc.Spec != nil {
		if _, ext, ok := Lookup(bc.Spec.Type); ok {
			where += "." + ext.Name
		}
	}
	return decodeMap(bc.Config, v, where)
}

// DecodeMap is Decode for any property map; where prefixes error messages.
func DecodeMap(m map[string]any, v any, where string) error { return decodeMap(m, v, where) }

func decodeMap(m map[string]any, v any, where string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("driver: Decode needs a pointer to a struct, got %T", v)
	}
	rv = rv.Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		tag, ok := f.Tag.Lookup("binding")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		raw, present := lookupFold(m, name)
		if !present || raw == nil || raw == "" {
			if strings.Contains(opts, "required") {
				return &ConfigError{Where: where, Field: name, Problem: "is required", Fix: fmt.Sprintf("add %q", name)}
			}
			continue
		}
		if !f.IsExported() {
			return &ConfigError{Where: where, Field: name, Problem: "the connector's config field " + f.Name + " is unexported and cannot be set", Fix: "export it"}
		}
		if err := setField(rv.Field(i), raw); err != nil {
			return &ConfigError{Where: where, Field: name, Err: err}
		}
	}
	return nil
}

func lookupFold(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

var durationType = reflect.TypeFor[time.Duration]()

func setField(fv reflect.Value, raw any) error {
	if fv.Type() == durationType {
		d, err := parseDurationAny(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		switch x := raw.(type) {
		case string:
			fv.SetString(x)
		case float64, bool:
			fv.SetString(fmt.Sprint(x))
		default:
			return fmt.Errorf("must be a string, got %s", jsonKind(raw))
		}
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			fv.SetBool(x)
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("must be true or false, got %q", x)
			}
			fv.SetBool(b)
		default:
			return fmt.Errorf("must be a boolean, got %s", jsonKind(raw))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := toInt(raw)
		if err != nil {
			return err
		}
		if fv.OverflowInt(n) {
			return fmt.Errorf("number %d is out of range", n)
		}
		fv.SetInt(n)
	case reflect.Float32, reflect.Float64:
		switch x := raw.(type) {
		case float64:
			fv.SetFloat(x)
		case string:
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return fmt.Errorf("must be a number, got %q", x)
			}
			fv.SetFloat(f)
		default:
			return fmt.Errorf("must be a number, got %s", jsonKind(raw))
		}
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported field type %s", fv.Type())
		}
		var out []string
		switch x := raw.(type) {
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return fmt.Errorf("must be an array of strings, got an element that is %s", jsonKind(e))
				}
				out = append(out, s)
			}
		case string:
			out = []string{x}
		default:
			return fmt.Errorf("must be an array of strings, got %s", jsonKind(raw))
		}
		fv.Set(reflect.ValueOf(out).Convert(fv.Type()))
	case reflect.Map:
		x, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("must be an object, got %s", jsonKind(raw))
		}
		if !reflect.TypeOf(x).AssignableTo(fv.Type()) {
			return fmt.Errorf("unsupported field type %s (use map[string]any)", fv.Type())
		}
		fv.Set(reflect.ValueOf(x))
	case reflect.Interface:
		if !reflect.TypeOf(raw).AssignableTo(fv.Type()) {
			return fmt.Errorf("cannot store %s in a field of type %s", jsonKind(raw), fv.Type())
		}
		fv.Set(reflect.ValueOf(raw))
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

func toInt(raw any) (int64, error) {
	switch x := raw.(type) {
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("must be a whole number, got %v", x)
		}
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("must be a whole number, got %q", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("must be a number, got %s", jsonKind(raw))
}

func parseDurationAny(raw any) (time.Duration, error) {
	switch x := raw.(type) {
	case float64:
		return time.Duration(x * float64(time.Millisecond)), nil
	case string:
		return ParseTimeSpan(x)
	case time.Duration:
		return x, nil
	}
	return 0, fmt.Errorf("must be a duration such as \"00:01:30\", got %s", jsonKind(raw))
}

// ParseTimeSpan parses a .NET TimeSpan ("[-][d.]hh:mm:ss[.fffffff]") or a Go duration ("90s").
// "-1" and "-00:00:01"-style negative values parse as negative durations (callers give -1 its
// meaning, e.g. an unbounded functionTimeout).
func ParseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration: use \"hh:mm:ss\"")
	}
	if s == "-1" {
		return -1, nil
	}
	if !strings.Contains(s, ":") {
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		return 0, fmt.Errorf("invalid duration %q: use \"hh:mm:ss\" (TimeSpan) or a Go duration such as \"90s\"", s)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var days int64
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("invalid duration %q: use \"hh:mm:ss\"", s)
	}
	if d, h, ok := strings.Cut(parts[0], "."); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use \"d.hh:mm:ss\"", s)
		}
		days, parts[0] = n, h
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	var sec float64
	var err3 error
	if len(parts) == 3 {
		sec, err3 = strconv.ParseFloat(parts[2], 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || h < 0 || h > 23 && days == 0 && h > 99999 || m < 0 || m > 59 || sec < 0 || sec >= 60 {
		return 0, fmt.Errorf("invalid duration %q: use \"hh:mm:ss\" with minutes and seconds below 60", s)
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec*float64(time.Second))
	if neg {
		d = -d
	}
	return d, nil
}

// Connection resolves the binding's `connection` property for the binding type's service.
func (bc *BindContext) Connection(ctx context.Context, svc connection.Service) (*connection.Connection, error) {
	if bc.Host == nil || bc.Host.Connections == nil {
		return nil, &ConfigError{Where: bc.Spec.Where, Field: "connection", Problem: "the host has no connection resolver"}
	}
	c, err := bc.Host.Connections.Resolve(ctx, bc.Spec.connectionName(), svc)
	if err != nil {
		return nil, &ConfigError{Where: bc.Spec.Where, Field: "connection", Err: err}
	}
	return c, nil
}
