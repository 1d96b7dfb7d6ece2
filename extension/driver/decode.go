package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/azbind/azbind/internal/jsonc"
	"github.com/azbind/azbind/internal/timespan"

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
	// Every property is checked: all problems are returned at once (errors.Join of
	// *ConfigError), so a declaration missing two properties names both.
	var errs []error
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
				errs = append(errs, &ConfigError{Where: where, Field: name, Problem: "is required", Fix: fmt.Sprintf("add %q", name)})
			}
			continue
		}
		if !f.IsExported() {
			errs = append(errs, &ConfigError{Where: where, Field: name, Problem: "the connector's config field " + f.Name + " is unexported and cannot be set", Fix: "export it"})
			continue
		}
		if err := setField(rv.Field(i), raw); err != nil {
			errs = append(errs, &ConfigError{Where: where, Field: name, Err: err})
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
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
			return fmt.Errorf("must be a string, got %s", jsonc.Kind(raw))
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
			return fmt.Errorf("must be a boolean, got %s", jsonc.Kind(raw))
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
			return fmt.Errorf("must be a number, got %s", jsonc.Kind(raw))
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
					return fmt.Errorf("must be an array of strings, got an element that is %s", jsonc.Kind(e))
				}
				out = append(out, s)
			}
		case string:
			out = []string{x}
		default:
			return fmt.Errorf("must be an array of strings, got %s", jsonc.Kind(raw))
		}
		fv.Set(reflect.ValueOf(out).Convert(fv.Type()))
	case reflect.Map:
		x, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("must be an object, got %s", jsonc.Kind(raw))
		}
		if !reflect.TypeOf(x).AssignableTo(fv.Type()) {
			return fmt.Errorf("unsupported field type %s (use map[string]any)", fv.Type())
		}
		fv.Set(reflect.ValueOf(x))
	case reflect.Interface:
		if !reflect.TypeOf(raw).AssignableTo(fv.Type()) {
			return fmt.Errorf("cannot store %s in a field of type %s", jsonc.Kind(raw), fv.Type())
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
		// float64(math.MaxInt64) rounds up to 2^63, which int64 cannot hold.
		if x >= math.MaxInt64 || x < math.MinInt64 {
			return 0, fmt.Errorf("number %v is out of range: use a whole number such as 16", x)
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
	return 0, fmt.Errorf("must be a number, got %s", jsonc.Kind(raw))
}

func parseDurationAny(raw any) (time.Duration, error) {
	switch x := raw.(type) {
	case float64:
		d, err := timespan.FromMilliseconds(x)
		if err != nil {
			return 0, fmt.Errorf("%w: use a smaller number of milliseconds or a TimeSpan such as \"00:01:30\"", err)
		}
		return d, nil
	case string:
		d, err := ParseTimeSpan(x)
		if err != nil {
			return 0, fmt.Errorf("%w: use a TimeSpan such as \"00:01:30\" (hh:mm:ss; d.hh:mm:ss for days)", err)
		}
		return d, nil
	case time.Duration:
		return x, nil
	}
	return 0, fmt.Errorf("must be a duration such as \"00:01:30\", got %s", jsonc.Kind(raw))
}

// ParseTimeSpan parses a duration as the host does: a .NET TimeSpan as TimeSpan.Parse reads it
// with the invariant culture ("00:05:00", "1.02:03:04.5", "5" = 5 days, and — as .NET documents —
// "24:00:00" = 24 days, hours above 23 being read as days), or a Go duration with units ("90s",
// azbind's own extension). Values out of range — a component (minutes 60), .NET's own limit, or
// more than a time.Duration holds (about 292 years) — are an error, never a wrapped or negative
// value. "-1" is minus one day (the host's "no limit" for functionTimeout). See
// internal/timespan.
func ParseTimeSpan(s string) (time.Duration, error) {
	return timespan.Parse(s)
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
