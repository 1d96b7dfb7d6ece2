package expr

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

func evalExpr(e *Expr, d Data, opt *Options) (string, error) {
	first := e.Path[0]
	if e.key != "" {
		first = e.key
	}
	var v any
	found := false
	if d != nil {
		v, found = d.Value(first)
	}
	if !found {
		return evalBuiltin(e, opt)
	}
	for _, seg := range e.Path[1:] {
		next, ok, err := member(v, seg)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", unresolvedErr("Error while accessing '%s': property doesn't exist.", seg)
		}
		v = next
	}
	return render(e, v)
}

func now(opt *Options) time.Time {
	if opt.Now != nil {
		return opt.Now().UTC()
	}
	if opt.Clock != nil {
		return opt.Clock.Now().UTC()
	}
	return time.Now().UTC()
}

func evalBuiltin(e *Expr, opt *Options) (string, error) {
	name := e.Path[0]
	switch {
	case len(e.Path) == 1 && strings.EqualFold(name, "rand-guid"):
		return formatGUID(newGUID(), guidFormat(e))
	case len(e.Path) == 1 && strings.EqualFold(name, "DateTime"):
		return formatTimeExpr(now(opt), e, defaultDateTimeFormat)
	case len(e.Path) == 2 && (strings.EqualFold(name, "sys") || strings.EqualFold(name, "$sys")):
		switch strings.ToLower(e.Path[1]) {
		case "utcnow":
			return formatTimeExpr(now(opt), e, defaultDateTimeFormat)
		case "randguid":
			return formatGUID(newGUID(), guidFormat(e))
		case "methodname":
			return opt.FunctionName, nil
		}
		return "", unresolvedErr("Error while accessing '%s': property doesn't exist.", e.Path[1])
	}
	return "", unresolvedErr("No value for named parameter '%s'.", name)
}

// defaultDateTimeFormat is {DateTime}'s default format (C18), e.g. 2018-02-16T17-59-55Z.
const defaultDateTimeFormat = "yyyy-MM-ddTHH-mm-ssK"

func formatTimeExpr(t time.Time, e *Expr, def string) (string, error) {
	f := def
	if e.HasFormat && e.Format != "" {
		f = e.Format
	}
	return FormatTime(t, f)
}

// member returns v's member named seg (case-insensitive) or element seg (a decimal index).
func member(v any, seg string) (any, bool, error) {
	switch x := v.(type) {
	case nil:
		return nil, false, nil
	case map[string]any:
		if m, ok := x[seg]; ok {
			return m, true, nil
		}
		for k, m := range x {
			if strings.EqualFold(k, seg) {
				return m, true, nil
			}
		}
		return nil, false, nil
	case []any:
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(x) {
			return nil, false, nil
		}
		return x[i], true, nil
	case json.RawMessage:
		j, err := decodeJSON(x)
		if err != nil {
			return nil, false, unresolvedErr("Error while accessing '%s': the value is not JSON (%v).", seg, err)
		}
		return member(j, seg)
	case []byte:
		j, err := decodeJSON(x)
		if err != nil {
			return nil, false, unresolvedErr("Error while accessing '%s': the value is not JSON (%v).", seg, err)
		}
		return member(j, seg)
	case Data:
		m, ok := x.Value(seg)
		return m, ok, nil
	case interface{ Lookup(string) (any, bool) }:
		m, ok := x.Lookup(seg)
		return m, ok, nil
	case string, bool, float64, json.Number, time.Time:
		return nil, false, nil
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, false, nil
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		iter := rv.MapRange()
		var found any
		ok := false
		for iter.Next() {
			k := iter.Key().String()
			if k == seg {
				return iter.Value().Interface(), true, nil
			}
			if !ok && strings.EqualFold(k, seg) {
				found, ok = iter.Value().Interface(), true
			}
		}
		return found, ok, nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break
		}
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= rv.Len() {
			return nil, false, nil
		}
		return rv.Index(i).Interface(), true, nil
	case reflect.Struct:
		// Navigate by JSON names, as the .NET host does through JObject.
		b, err := json.Marshal(rv.Interface())
		if err != nil {
			return nil, false, unresolvedErr("Error while accessing '%s': %v.", seg, err)
		}
		j, err := decodeJSON(b)
		if err != nil {
			return nil, false, nil
		}
		return member(j, seg)
	}
	return nil, false, nil
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

// render converts a value to its substituted text.
func render(e *Expr, v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if g, ok := asGUID(v); ok {
		return formatGUID(g, guidFormat(e))
	}
	switch x := v.(type) {
	case nil:
		// BindingTemplateTests.Bind_DotExpression_With_JObject: a null value is substituted as
		// the empty string ("a{null}b" is "ab").
		return "", nil
	case string:
		return x, nil
	case fmt.Stringer:
		if t, ok := v.(time.Time); ok {
			return formatTimeExpr(t, e, defaultDateTimeFormat)
		}
		if n, ok := v.(json.Number); ok {
			return formatNumberText(n.String(), e)
		}
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return formatFloat(x, e)
	case float32:
		return formatFloat(float64(x), e)
	case json.RawMessage:
		return renderJSON(e, x, true)
	case []byte:
		return renderJSON(e, x, false)
	case map[string]any, []any:
		return "", notScalar(e, v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return formatInt(rv.Int(), e)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return strconv.FormatUint(rv.Uint(), 10), nil
		}
		return formatInt(int64(rv.Uint()), e)
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	case reflect.Float32, reflect.Float64:
		return formatFloat(rv.Float(), e)
	case reflect.Pointer:
		if rv.IsNil() {
			return render(e, nil)
		}
		return render(e, rv.Elem().Interface())
	}
	return "", notScalar(e, v)
}

func notScalar(e *Expr, v any) error {
	kind := "an object"
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		kind = "an array"
	}
	return unresolvedErr("The binding expression '{%s}' refers to %s; only strings, numbers, booleans and times can be substituted.", e.String(), kind)
}

func renderJSON(e *Expr, b []byte, strict bool) (string, error) {
	j, err := decodeJSON(b)
	if err != nil {
		if strict {
			return "", unresolvedErr("The binding expression '{%s}' refers to a value that is not JSON (%v).", e.String(), err)
		}
		return string(b), nil // plain bytes: the text itself
	}
	switch j.(type) {
	case json.RawMessage, []byte:
		return "", notScalar(e, j)
	}
	return render(e, j)
}

func formatFloat(f float64, e *Expr) (string, error) {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		if math.Abs(f) <= 1<<53 {
			return formatInt(int64(f), e)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// formatNumberText renders a JSON number as written, except that integral values in exponent
// or fraction form are printed as plain integers.
func formatNumberText(s string, e *Expr) (string, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return formatInt(n, e)
	}
	if !strings.ContainsAny(s, ".eE") {
		return s, nil // a big integer: keep every digit
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s, nil
	}
	return formatFloat(f, e)
}

// formatInt supports the .NET numeric formats D[n] and X[n] / x[n]; other formats are ignored.
func formatInt(n int64, e *Expr) (string, error) {
	if !e.HasFormat || e.Format == "" {
		return strconv.FormatInt(n, 10), nil
	}
	f := e.Format
	width := 0
	if len(f) > 1 {
		w, err := strconv.Atoi(f[1:])
		if err != nil || w < 0 || w > 99 {
			return strconv.FormatInt(n, 10), nil
		}
		width = w
	}
	var s string
	switch f[0] {
	case 'D', 'd':
		s = strconv.FormatInt(n, 10)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for len(s) < width {
			s = "0" + s
		}
		if neg {
			s = "-" + s
		}
		return s, nil
	case 'X', 'x':
		s = strconv.FormatUint(uint64(n), 16)
		if n < 0 {
			s = strconv.FormatUint(uint64(uint32(n)), 16)
		}
		if f[0] == 'X' {
			s = strings.ToUpper(s)
		}
		for len(s) < width {
			s = "0" + s
		}
		return s, nil
	}
	return strconv.FormatInt(n, 10), nil
}

// newGUID returns a random (version 4) UUID.
func newGUID() [16]byte {
	var g [16]byte
	_, _ = rand.Read(g[:]) // crypto/rand.Read never fails (it panics on broken systems)
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g
}

// guidFormat returns the expression's GUID format; blank means the default D, as in
// BindingDataPathHelper (a white-space format is normalized to none).
func guidFormat(e *Expr) string {
	if !e.HasFormat || strings.TrimSpace(e.Format) == "" {
		return ""
	}
	return e.Format
}

// asGUID recognizes GUID values: github.com/google/uuid.UUID and any other [16]byte type whose
// name is UUID or GUID (such as table.GUID), by value or pointer.
func asGUID(v any) ([16]byte, bool) {
	if v == nil {
		return [16]byte{}, false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return [16]byte{}, false
		}
		rv = rv.Elem()
	}
	t := rv.Type()
	if t.Kind() != reflect.Array || t.Len() != 16 || t.Elem().Kind() != reflect.Uint8 {
		return [16]byte{}, false
	}
	switch strings.ToLower(t.Name()) {
	case "uuid", "guid":
	default:
		return [16]byte{}, false
	}
	var g [16]byte
	reflect.Copy(reflect.ValueOf(&g).Elem(), rv)
	return g, true
}

// formatGUID formats a GUID as .NET's Guid.ToString(format): N, D (default), B, P or X.
func formatGUID(g [16]byte, format string) (string, error) {
	h := fmt.Sprintf("%x", g[:])
	d := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	switch format {
	case "", "D", "d":
		return d, nil
	case "N", "n":
		return h, nil
	case "B", "b":
		return "{" + d + "}", nil
	case "P", "p":
		return "(" + d + ")", nil
	case "X", "x":
		var b strings.Builder
		fmt.Fprintf(&b, "{0x%s,0x%s,0x%s,{", h[0:8], h[8:12], h[12:16])
		for i := 8; i < 16; i++ {
			if i > 8 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "0x%02x", g[i])
		}
		b.WriteString("}}")
		return b.String(), nil
	}
	return "", syntaxErr("Format string can be only \"D\", \"d\", \"N\", \"n\", \"P\", \"p\", \"B\", \"b\", \"X\" or \"x\" (got %q).", format)
}
