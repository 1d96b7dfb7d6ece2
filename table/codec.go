package table

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/extension/driver"
)

// Edm type names used in "<property>@odata.type" annotations.
const (
	edmInt64    = "Edm.Int64"
	edmDateTime = "Edm.DateTime"
	edmBinary   = "Edm.Binary"
	edmGUID     = "Edm.Guid"
	edmDouble   = "Edm.Double"

	annotation = "@odata.type"
	// dateTimeLayout is the wire form of Edm.DateTime (100 ns precision, UTC).
	dateTimeLayout = "2006-01-02T15:04:05.0000000Z"
)

var (
	timeType        = reflect.TypeFor[time.Time]()
	bytes16Type     = reflect.TypeFor[[16]byte]()
	edmEntityType   = reflect.TypeFor[aztables.EDMEntity]()
	edmDateTimeType = reflect.TypeFor[aztables.EDMDateTime]()
	edmGUIDType     = reflect.TypeFor[aztables.EDMGUID]()
	etagType        = reflect.TypeFor[azcore.ETag]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	jsonNumberType  = reflect.TypeFor[json.Number]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
)

// ---------------------------------------------------------------------------------------------
// Reading: service JSON → Go values.
// ---------------------------------------------------------------------------------------------

// prop is one property of an entity read from the service: its JSON value and Edm type
// annotation ("" when the service sent none: string, bool, Int32 or Double).
type prop struct {
	raw json.RawMessage
	edm string
}

// entity is an entity read from the service. props includes PartitionKey, RowKey, Timestamp and
// ETag (taken from odata.etag); odata.* keys and type annotations are removed.
type entity struct {
	props map[string]prop
	names []string // property names in service order (stable output)
}

func parseEntity(b []byte) (*entity, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var all map[string]json.RawMessage
	if err := dec.Decode(&all); err != nil {
		return nil, fmt.Errorf("table: service returned an entity that is not a JSON object: %w", err)
	}
	e := &entity{props: make(map[string]prop, len(all))}
	for k, v := range all {
		switch {
		case k == "odata.etag":
			e.props["ETag"] = prop{raw: v}
		case strings.HasPrefix(k, "odata."), strings.HasSuffix(k, annotation):
		default:
			p := prop{raw: v}
			if a, ok := all[k+annotation]; ok {
				_ = json.Unmarshal(a, &p.edm)
			} else if k == "Timestamp" {
				p.edm = edmDateTime
			}
			e.props[k] = p
		}
	}
	for k := range e.props {
		e.names = append(e.names, k)
	}
	sortNames(e.names)
	return e, nil
}

// sortNames orders PartitionKey, RowKey, Timestamp, ETag first, then the rest alphabetically.
func sortNames(names []string) {
	rank := func(s string) int {
		switch s {
		case "PartitionKey":
			return 0
		case "RowKey":
			return 1
		case "Timestamp":
			return 2
		case "ETag":
			return 3
		}
		return 4
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0; j-- {
			a, b := names[j-1], names[j]
			if ra, rb := rank(a), rank(b); ra < rb || ra == rb && a <= b {
				break
			}
			names[j-1], names[j] = b, a
		}
	}
}

// plainJSON renders the entity without OData annotations: {"PartitionKey":…,"RowKey":…,
// "Timestamp":…,"ETag":…, properties…}. Typed values keep their wire text (Int64 as a string,
// Binary as base64, DateTime as RFC 3339).
func (e *entity) plainJSON() json.RawMessage {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range e.names {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(e.props[k].raw)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// typedMap returns the entity as map[string]any with Edm-typed values: int32, int64, float64,
// bool, string, time.Time (DateTime, Timestamp), []byte (Binary), GUID (Guid).
func (e *entity) typedMap() (map[string]any, error) {
	m := make(map[string]any, len(e.props))
	for k, p := range e.props {
		v, err := p.typed()
		if err != nil {
			return nil, fmt.Errorf("table: property %q: %w", k, err)
		}
		if v != nil {
			m[k] = v
		}
	}
	return m, nil
}

func (p prop) str() (string, bool) {
	var s string
	if len(p.raw) == 0 || p.raw[0] != '"' || json.Unmarshal(p.raw, &s) != nil {
		return "", false
	}
	return s, true
}

// typed converts the property to its natural Go type.
func (p prop) typed() (any, error) {
	switch p.edm {
	case edmInt64:
		s, ok := p.str()
		if !ok {
			return strconv.ParseInt(string(p.raw), 10, 64)
		}
		return strconv.ParseInt(s, 10, 64)
	case edmDateTime:
		s, _ := p.str()
		return parseDateTime(s)
	case edmBinary:
		s, _ := p.str()
		return base64.StdEncoding.DecodeString(s)
	case edmGUID:
		s, _ := p.str()
		return ParseGUID(s)
	case edmDouble:
		return p.float()
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(p.raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if n, ok := v.(json.Number); ok {
		if i, err := strconv.ParseInt(string(n), 10, 32); err == nil {
			return int32(i), nil
		}
		return n.Float64()
	}
	return v, nil
}

func (p prop) float() (float64, error) {
	if s, ok := p.str(); ok {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity", "INF":
			return math.Inf(1), nil
		case "-Infinity", "-INF":
			return math.Inf(-1), nil
		}
		return strconv.ParseFloat(s, 64)
	}
	return strconv.ParseFloat(string(p.raw), 64)
}

func parseDateTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid Edm.DateTime %q: %w", s, err)
	}
	return t.UTC(), nil
}

// decodeInto stores the entity in v (settable) whose type is a struct, a map with string keys,
// a pointer to one of those, aztables.EDMEntity, json.RawMessage, []byte, string or any.
func (e *entity) decodeInto(v reflect.Value) error {
	t := v.Type()
	switch {
	case t == rawMessageType || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		v.SetBytes(e.plainJSON())
		return nil
	case t.Kind() == reflect.String:
		v.SetString(string(e.plainJSON()))
		return nil
	case t == edmEntityType:
		raw := e.annotatedJSON()
		return json.Unmarshal(raw, v.Addr().Interface())
	case t.Kind() == reflect.Interface:
		m, err := e.typedMap()
		if err != nil {
			return err
		}
		if !reflect.TypeOf(m).AssignableTo(t) {
			return fmt.Errorf("table: cannot store an entity in %s", t)
		}
		v.Set(reflect.ValueOf(m))
		return nil
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return e.decodeInto(v.Elem())
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(e.props)))
		}
		for _, k := range e.names {
			ev := reflect.New(t.Elem()).Elem()
			if err := e.props[k].assign(ev); err != nil {
				return fmt.Errorf("table: property %q: %w", k, err)
			}
			v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		return nil
	case t.Kind() == reflect.Struct:
		fields := structFields(t)
		for _, k := range e.names {
			f, ok := fields.lookup(k)
			if !ok {
				continue
			}
			fv, err := fieldByIndexAlloc(v, f.index)
			if err != nil {
				return err
			}
			if err := e.props[k].assign(fv); err != nil {
				return fmt.Errorf("table: property %q into field %s.%s (%s): %w", k, t.Name(), f.goName, fv.Type(), err)
			}
		}
		return nil
	}
	return fmt.Errorf("table: cannot store an entity in %s: use a struct, map[string]any, json.RawMessage, []byte or string: %w", t, driver.ErrUnsupportedType)
}

// annotatedJSON re-creates the service form (with @odata.type annotations and odata.etag).
func (e *entity) annotatedJSON() json.RawMessage {
	m := make(map[string]json.RawMessage, len(e.props)*2)
	for k, p := range e.props {
		if k == "ETag" {
			m["odata.etag"] = p.raw
			continue
		}
		m[k] = p.raw
		if p.edm != "" && k != "Timestamp" {
			m[k+annotation], _ = json.Marshal(p.edm)
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func fieldByIndexAlloc(v reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 {
			if v.Kind() == reflect.Pointer {
				if v.IsNil() {
					if !v.CanSet() {
						return reflect.Value{}, fmt.Errorf("table: cannot set embedded field of unexported pointer type %s", v.Type())
					}
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
			}
		}
		v = v.Field(x)
	}
	return v, nil
}

// assign converts the property into v (settable).
func (p prop) assign(v reflect.Value) error {
	if string(p.raw) == "null" {
		return nil
	}
	t := v.Type()
	s, isStr := p.str()
	switch {
	case t == timeType || t == edmDateTimeType:
		if !isStr {
			return fmt.Errorf("want an Edm.DateTime string, got %s", p.raw)
		}
		tm, err := parseDateTime(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(tm).Convert(t))
		return nil
	case isGUIDType(t):
		if !isStr {
			return fmt.Errorf("want an Edm.Guid string, got %s", p.raw)
		}
		g, err := ParseGUID(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(g).Convert(t))
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t != rawMessageType:
		if !isStr {
			return fmt.Errorf("want an Edm.Binary base64 string, got %s", p.raw)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return fmt.Errorf("invalid Edm.Binary base64: %w", err)
		}
		v.SetBytes(b)
		return nil
	case t == rawMessageType:
		v.SetBytes(append([]byte(nil), p.raw...))
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		x, err := p.typed()
		if err != nil {
			return err
		}
		if x == nil {
			return nil
		}
		if !reflect.TypeOf(x).AssignableTo(t) {
			return fmt.Errorf("a %T does not fit %s", x, t)
		}
		v.Set(reflect.ValueOf(x))
		return nil
	case reflect.Pointer:
		nv := reflect.New(t.Elem())
		if err := p.assign(nv.Elem()); err != nil {
			return err
		}
		v.Set(nv)
		return nil
	case reflect.String:
		if isStr {
			v.SetString(s)
		} else {
			v.SetString(string(p.raw))
		}
		return nil
	case reflect.Bool:
		var b bool
		if isStr {
			pb, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("want a boolean, got %q", s)
			}
			b = pb
		} else if err := json.Unmarshal(p.raw, &b); err != nil {
			return fmt.Errorf("want a boolean, got %s", p.raw)
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		txt := string(p.raw)
		if isStr {
			txt = s
		}
		n, err := strconv.ParseInt(txt, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number, got %s", p.raw)
		}
		if v.OverflowInt(n) {
			return fmt.Errorf("%d overflows %s", n, t)
		}
		v.SetInt(n)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		txt := string(p.raw)
		if isStr {
			txt = s
		}
		n, err := strconv.ParseUint(txt, 10, 64)
		if err != nil {
			return fmt.Errorf("want a non-negative whole number, got %s", p.raw)
		}
		if v.OverflowUint(n) {
			return fmt.Errorf("%d overflows %s", n, t)
		}
		v.SetUint(n)
		return nil
	case reflect.Float32, reflect.Float64:
		f, err := p.float()
		if err != nil {
			return fmt.Errorf("want a number, got %s", p.raw)
		}
		v.SetFloat(f)
		return nil
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) && isStr {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
	}
	// Structs, maps, slices: stored as a JSON string property (see encodeValue).
	src := []byte(p.raw)
	if isStr {
		src = []byte(s)
	}
	if err := json.Unmarshal(src, v.Addr().Interface()); err != nil {
		return fmt.Errorf("want JSON for %s: %w", t, err)
	}
	return nil
}

// isGUIDType reports a [16]byte-shaped type (GUID, [16]byte, github.com/google/uuid.UUID, …),
// which is stored as Edm.Guid.
func isGUIDType(t reflect.Type) bool {
	return t.Kind() == reflect.Array && t.Len() == 16 && t.Elem().Kind() == reflect.Uint8
}

// ---------------------------------------------------------------------------------------------
// Struct field mapping (shared by reading and writing).
// ---------------------------------------------------------------------------------------------

type fieldInfo struct {
	name      string // entity property name
	goName    string
	index     []int
	omitEmpty bool
}

type fieldSet struct {
	list   []fieldInfo
	byName map[string]int
	byFold map[string]int
}

func (fs *fieldSet) lookup(name string) (fieldInfo, bool) {
	if i, ok := fs.byName[name]; ok {
		return fs.list[i], true
	}
	if i, ok := fs.byFold[strings.ToLower(name)]; ok {
		return fs.list[i], true
	}
	return fieldInfo{}, false
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields lists the exported fields of t and of its embedded structs. A field's property
// name is its `table:"name"` tag, else its `json:"name"` tag, else the Go field name; "-" skips
// the field and ",omitempty" (in either tag) omits a zero value on write.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]int{}, byFold: map[string]int{}}
	var walk func(t reflect.Type, index []int, depth int)
	walk = func(t reflect.Type, index []int, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag, hasTag := f.Tag.Lookup("table")
			if !hasTag {
				tag, _ = f.Tag.Lookup("json")
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" && opts == "" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct && ft != timeType && depth < 8 {
				walk(ft, idx, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; dup {
				continue // the shallower field wins, as in encoding/json
			}
			fs.byName[name] = len(fs.list)
			if _, dup := fs.byFold[strings.ToLower(name)]; !dup {
				fs.byFold[strings.ToLower(name)] = len(fs.list)
			}
			fs.list = append(fs.list, fieldInfo{name: name, goName: f.Name, index: idx, omitEmpty: strings.Contains(opts, "omitempty")})
		}
	}
	walk(t, nil, 0)
	v, _ := fieldCache.LoadOrStore(t, fs)
	return v.(*fieldSet)
}

// ---------------------------------------------------------------------------------------------
// Writing: Go values → service JSON.
// ---------------------------------------------------------------------------------------------

// outEntity is an entity ready to be written.
type outEntity struct {
	pk, rk string
	etag   string         // "" none, "*" any, else a specific ETag (conditional write)
	props  map[string]any // properties incl. annotations, without keys
}

func (o *outEntity) json() ([]byte, error) {
	m := make(map[string]any, len(o.props)+2)
	for k, v := range o.props {
		m[k] = v
	}
	m["PartitionKey"] = o.pk
	m["RowKey"] = o.rk
	return json.Marshal(m)
}

// encodeEntity turns a value given to Sink.Add into an entity: a struct or pointer to one, a map
// with string keys, aztables.EDMEntity, or a JSON object as json.RawMessage, []byte or string.
func encodeEntity(item any) (*outEntity, error) {
	o := &outEntity{props: map[string]any{}}
	switch x := item.(type) {
	case nil:
		return nil, fmt.Errorf("table: cannot write a nil entity: %w", ErrInvalidEntity)
	case json.RawMessage:
		return encodeJSONObject(x)
	case []byte:
		return encodeJSONObject(x)
	case string:
		return encodeJSONObject([]byte(x))
	case aztables.EDMEntity:
		o.pk, o.rk, o.etag = x.PartitionKey, x.RowKey, x.ETag
		for k, v := range x.Properties {
			if err := o.set(k, reflect.ValueOf(v)); err != nil {
				return nil, err
			}
		}
		return o, nil
	case *aztables.EDMEntity:
		if x == nil {
			return nil, fmt.Errorf("table: cannot write a nil entity: %w", ErrInvalidEntity)
		}
		return encodeEntity(*x)
	}
	v := reflect.ValueOf(item)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, fmt.Errorf("table: cannot write a nil %T as an entity: %w", item, ErrInvalidEntity)
		}
		v = v.Elem()
	}
	switch {
	case v.Kind() == reflect.Struct:
		fs := structFields(v.Type())
		for _, f := range fs.list {
			fv, ok := fieldByIndexNoAlloc(v, f.index)
			if !ok || f.omitEmpty && fv.IsZero() {
				continue
			}
			if err := o.set(f.name, fv); err != nil {
				return nil, fmt.Errorf("%w (field %s.%s)", err, v.Type().Name(), f.goName)
			}
		}
		return o, nil
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		iter := v.MapRange()
		for iter.Next() {
			if err := o.set(iter.Key().String(), iter.Value()); err != nil {
				return nil, err
			}
		}
		return o, nil
	}
	return nil, fmt.Errorf("table: cannot write a %T as an entity: use a struct, a map[string]any or a JSON object: %w", item, ErrInvalidEntity)
}

func fieldByIndexNoAlloc(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

func encodeJSONObject(b []byte) (*outEntity, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("table: a JSON entity must be a JSON object with PartitionKey and RowKey: %w", ErrInvalidEntity)
	}
	o := &outEntity{props: map[string]any{}}
	// Explicit "<name>@odata.type" annotations are honoured: the value is sent with that type.
	for k, v := range m {
		if base, ok := strings.CutSuffix(k, annotation); ok {
			edm, _ := v.(string)
			val, present := m[base]
			if !present {
				continue
			}
			if n, isNum := val.(json.Number); isNum && edm == edmInt64 {
				val = n.String()
			}
			o.props[base] = val
			o.props[k] = edm
		}
	}
	for k, v := range m {
		if strings.HasSuffix(k, annotation) {
			continue
		}
		if _, done := o.props[k]; done {
			continue
		}
		if err := o.set(k, reflect.ValueOf(v)); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// set adds a property (or a key, the ETag) from a Go value.
func (o *outEntity) set(name string, v reflect.Value) error {
	switch name {
	case "PartitionKey", "RowKey":
		s, err := keyString(v)
		if err != nil {
			return fmt.Errorf("table: %s: %v: %w", name, err, ErrInvalidEntity)
		}
		if name == "PartitionKey" {
			o.pk = s
		} else {
			o.rk = s
		}
		return nil
	case "ETag", "odata.etag":
		for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && !v.IsNil() {
			v = v.Elem()
		}
		if v.IsValid() && v.Kind() == reflect.String {
			o.etag = v.String()
		}
		return nil
	case "Timestamp":
		return nil // maintained by the service
	}
	if strings.HasPrefix(name, "odata.") {
		return nil
	}
	val, edm, skip, err := encodeValue(v)
	if err != nil {
		return fmt.Errorf("table: property %q: %v: %w", name, err, ErrInvalidEntity)
	}
	if skip {
		return nil
	}
	o.props[name] = val
	if edm != "" {
		o.props[name+annotation] = edm
	}
	return nil
}

func keyString(v reflect.Value) (string, error) {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			return "", nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return "", nil
	}
	if v.Kind() == reflect.String {
		return v.String(), nil
	}
	return "", fmt.Errorf("must be a string, got %s", v.Type())
}

// encodeValue converts a property value to its wire form and Edm annotation; skip is true for
// values that have no table representation and mean "absent" (nil, zero time.Time, nil []byte).
func encodeValue(v reflect.Value) (val any, edm string, skip bool, err error) {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			return nil, "", true, nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil, "", true, nil
	}
	t := v.Type()
	switch {
	case t == timeType || t == edmDateTimeType:
		tm := v.Convert(timeType).Interface().(time.Time)
		if tm.IsZero() {
			return nil, "", true, nil
		}
		return tm.UTC().Format(dateTimeLayout), edmDateTime, false, nil
	case isGUIDType(t):
		return GUID(v.Convert(bytes16Type).Interface().([16]byte)).String(), edmGUID, false, nil
	case t == edmGUIDType:
		g, err := ParseGUID(v.String())
		if err != nil {
			return nil, "", false, err
		}
		return g.String(), edmGUID, false, nil
	case t == etagType:
		return v.String(), "", false, nil
	case t == jsonNumberType:
		return encodeNumber(json.Number(v.String()))
	case t == rawMessageType:
		if v.Len() == 0 {
			return nil, "", true, nil
		}
		return string(v.Bytes()), "", false, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		if v.IsNil() {
			return nil, "", true, nil
		}
		return base64.StdEncoding.EncodeToString(v.Bytes()), edmBinary, false, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return v.Bool(), "", false, nil
	case reflect.String:
		return v.String(), "", false, nil
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return v.Int(), "", false, nil
	case reflect.Uint8, reflect.Uint16:
		return v.Uint(), "", false, nil
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), edmInt64, false, nil
	case reflect.Uint, reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > math.MaxInt64 {
			return nil, "", false, fmt.Errorf("%d does not fit Edm.Int64", u)
		}
		return strconv.FormatUint(u, 10), edmInt64, false, nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		switch {
		case math.IsNaN(f):
			return "NaN", edmDouble, false, nil
		case math.IsInf(f, 1):
			return "Infinity", edmDouble, false, nil
		case math.IsInf(f, -1):
			return "-Infinity", edmDouble, false, nil
		}
		return f, edmDouble, false, nil
	}
	if t.Implements(textMarshaler) {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil, "", false, err
		}
		return string(b), "", false, nil
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
		// Azure Tables has no nested values: store them as a JSON string (read back by assign).
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return nil, "", false, err
		}
		return string(b), "", false, nil
	}
	return nil, "", false, fmt.Errorf("a %s has no Azure Tables type", t)
}

// encodeNumber maps a JSON number from a JSON entity: whole numbers that fit 32 bits are
// Edm.Int32, larger whole numbers Edm.Int64, others Edm.Double.
func encodeNumber(n json.Number) (any, string, bool, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i >= math.MinInt32 && i <= math.MaxInt32 {
			return i, "", false, nil
		}
		return strconv.FormatInt(i, 10), edmInt64, false, nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, "", false, fmt.Errorf("invalid number %s", n)
	}
	return f, edmDouble, false, nil
}
