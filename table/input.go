package table

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
)

var (
	clientType      = reflect.TypeFor[*aztables.Client]()
	serviceClientTy = reflect.TypeFor[*aztables.ServiceClient]()
)

// pageSize, when > 0, caps the entities per page requested from the service ($top); 0 leaves
// it to the service (1000). Tests lower it to exercise paging.
var pageSize int32

type input struct {
	acct   *account
	where  string
	table  *driver.Template
	pk, rk *driver.Template
	filter *driver.Template // nil when absent
	take   *driver.Template // nil when absent or a number
	takeN  int
	param  reflect.Type
	point  bool // partitionKey + rowKey: one entity
}

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	in := &input{where: bc.Spec.Where, param: bc.Param}
	var err error
	if in.table, in.pk, in.rk, err = keyTemplates(bc); err != nil {
		return nil, err
	}
	hasPK, hasRK := !isEmpty(in.pk), !isEmpty(in.rk)
	if f, _ := bc.Spec.String("filter"); f != "" {
		t, err := bc.Template("filter")
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(f, string([]rune{markOpen, markClose})) {
			return nil, bc.Errorf("filter", "remove them", "contains the reserved characters U+E000/U+E001")
		}
		in.filter = t.WithEscape(markValue)
	}
	if raw, ok := bc.Spec.Prop("take"); ok && raw != nil && raw != "" {
		switch x := raw.(type) {
		case float64:
			if x < 0 || x != float64(int(x)) {
				return nil, bc.Errorf("take", "", "must be a whole number ≥ 0, got %v", x)
			}
			in.takeN = int(x)
		case string:
			t, err := bc.Template("take")
			if err != nil {
				return nil, err
			}
			if t.IsLiteral() {
				if in.takeN, err = parseTake(t.Literal()); err != nil {
					return nil, bc.Errorf("take", "", "%w", err)
				}
			} else {
				in.take = t
			}
		default:
			return nil, bc.Errorf("take", "", "must be a number, got %T", raw)
		}
	}
	hasTake := in.take != nil || in.takeN > 0
	switch {
	case hasRK && !hasPK:
		return nil, bc.Errorf("", "add partitionKey (a point read needs both)", "rowKey is set without partitionKey")
	case hasRK && (in.filter != nil || hasTake):
		return nil, bc.Errorf("", "remove rowKey to run a query, or filter and take to read one entity", "rowKey cannot be combined with filter or take")
	}
	in.point = hasRK
	if err := in.checkParam(); err != nil {
		return nil, err
	}
	if in.acct, err = accountFor(ctx, bc); err != nil {
		return nil, err
	}
	return in, nil
}

// keyTemplates compiles tableName (required, validated when literal), partitionKey and rowKey.
func keyTemplates(bc *driver.BindContext) (table, pk, rk *driver.Template, err error) {
	name, err := bc.Spec.String("tableName")
	if err != nil {
		return nil, nil, nil, err
	}
	if name == "" {
		return nil, nil, nil, bc.Errorf("tableName", `add "tableName" to the binding`, "is required")
	}
	if table, err = bc.Template("tableName"); err != nil {
		return nil, nil, nil, err
	}
	if table.IsLiteral() {
		if err := validateTableName(bc.Spec.Where, table.Literal()); err != nil {
			return nil, nil, nil, err
		}
	}
	if pk, err = bc.Template("partitionKey"); err != nil {
		return nil, nil, nil, err
	}
	if rk, err = bc.Template("rowKey"); err != nil {
		return nil, nil, nil, err
	}
	return table, pk, rk, nil
}

func isEmpty(t *driver.Template) bool { return t.IsLiteral() && t.Literal() == "" }

func parseTake(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("must be a whole number ≥ 0, got %q", s)
	}
	return n, nil
}

// checkParam rejects parameter types the binding cannot produce, at load time.
func (in *input) checkParam() error {
	t := in.param
	if t == nil || t == clientType || t == serviceClientTy || isRawJSON(t) || t.Kind() == reflect.Interface {
		return nil
	}
	if in.point {
		if isEntityType(t) {
			return nil
		}
		return fmt.Errorf("%s: the table input reads one entity (partitionKey and rowKey are set) but the parameter is %s: use a struct, map[string]any, json.RawMessage or *aztables.Client: %w",
			in.where, t, driver.ErrUnsupportedType)
	}
	if t.Kind() == reflect.Slice && isEntityType(t.Elem()) {
		return nil
	}
	return fmt.Errorf("%s: the table input runs a query (no rowKey), which returns many entities, but the parameter is %s: use a slice such as []%s, or json.RawMessage, or *aztables.Client: %w",
		in.where, t, t, driver.ErrUnsupportedType)
}

func isRawJSON(t reflect.Type) bool {
	return t == rawMessageType || t.Kind() == reflect.String || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

func isEntityType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return false
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Interface, isRawJSON(t):
		return true
	case t.Kind() == reflect.Map:
		return t.Key().Kind() == reflect.String
	}
	return false
}

// Bind implements driver.Input.
func (in *input) Bind(ctx context.Context, fc *driver.FunctionContext) (any, error) {
	table, err := in.table.Eval(fc)
	if err != nil {
		return nil, err
	}
	if err := validateTableName(in.where, table); err != nil {
		return nil, err
	}
	switch in.param {
	case clientType:
		return in.acct.svc.NewClient(table), nil
	case serviceClientTy:
		return in.acct.svc, nil
	}
	pk, err := in.pk.Eval(fc)
	if err != nil {
		return nil, err
	}
	client := in.acct.svc.NewClient(table)
	if in.point {
		rk, err := in.rk.Eval(fc)
		if err != nil {
			return nil, err
		}
		return in.read(ctx, client, table, pk, rk)
	}
	filter := ""
	if in.filter != nil {
		if filter, err = in.filter.Eval(fc); err != nil {
			return nil, err
		}
		if filter, err = resolveFilterValues(filter); err != nil {
			return nil, fmt.Errorf("%s: filter: %w", in.where, err)
		}
	}
	take := in.takeN
	if in.take != nil {
		s, err := in.take.Eval(fc)
		if err != nil {
			return nil, err
		}
		if take, err = parseTake(s); err != nil {
			return nil, fmt.Errorf("%s: take: %w", in.where, err)
		}
	}
	if !isEmpty(in.pk) { // a partitionKey that evaluates to "" still restricts the query
		pkFilter := "PartitionKey eq '" + strings.ReplaceAll(pk, "'", "''") + "'"
		if strings.TrimSpace(filter) == "" {
			filter = pkFilter
		} else {
			filter = pkFilter + " and (" + filter + ")"
		}
	}
	return in.query(ctx, client, table, filter, take)
}

// Values substituted into a filter are first wrapped in markers (markValue), then
// resolveFilterValues looks at where each one landed: inside a quoted OData literal it is escaped
// (a quote doubled); outside quotes ("Qty gt {min}") it must be a number or a boolean, so trigger
// data can never add operators or parentheses to the filter.
const (
	markOpen  = '\uE000'
	markClose = '\uE001'
)

func markValue(v string) string {
	return string(markOpen) + hex.EncodeToString([]byte(v)) + string(markClose)
}

var unquotedLiteral = regexp.MustCompile(`^(?i:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?|true|false)$`)

func resolveFilterValues(f string) (string, error) {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(f); {
		r, n := utf8.DecodeRuneInString(f[i:])
		switch r {
		case '\'':
			inQuote = !inQuote
		case markOpen:
			end := strings.IndexRune(f[i:], markClose)
			raw, err := hex.DecodeString(f[i+n : i+max(end, n)])
			if end < 0 || err != nil {
				return "", fmt.Errorf("internal error: malformed value marker")
			}
			v := string(raw)
			if inQuote {
				b.WriteString(expr.EscapeODataString(v))
			} else if unquotedLiteral.MatchString(v) {
				b.WriteString(v)
			} else {
				return "", fmt.Errorf("the value %q of an expression outside quotes is not a number or boolean: put the expression in quotes ('{…}') to compare with a string: %w", v, ErrFilterValue)
			}
			i += end + utf8.RuneLen(markClose)
			continue
		}
		b.WriteString(f[i : i+n])
		i += n
	}
	return b.String(), nil
}

// read is the point read: nil when the entity or the table does not exist.
func (in *input) read(ctx context.Context, client *aztables.Client, table, pk, rk string) (any, error) {
	resp, err := client.GetEntity(ctx, pk, rk, nil)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read entity (PartitionKey=%q, RowKey=%q) from table %q: %w", in.where, pk, rk, table, err)
	}
	e, err := parseEntity(resp.Value)
	if err != nil {
		return nil, err
	}
	t := in.param
	if t == nil {
		return e.plainJSON(), nil
	}
	v := reflect.New(t).Elem()
	if err := e.decodeInto(v); err != nil {
		return nil, fmt.Errorf("%s: entity (PartitionKey=%q, RowKey=%q): %w", in.where, pk, rk, err)
	}
	return v.Interface(), nil
}

// query runs filter across pages until take entities (0 = all) were read.
func (in *input) query(ctx context.Context, client *aztables.Client, table, filter string, take int) (any, error) {
	opts := &aztables.ListEntitiesOptions{}
	if filter != "" {
		opts.Filter = &filter
	}
	top := pageSize
	if take > 0 && (top == 0 || int32(min(take, 1000)) < top) {
		top = int32(min(take, 1000))
	}
	if top > 0 {
		opts.Top = &top
	}
	var ents []*entity
	pager := client.NewListEntitiesPager(opts)
	for pager.More() && (take == 0 || len(ents) < take) {
		page, err := pager.NextPage(ctx)
		if isNotFound(err) && len(ents) == 0 {
			break // a missing table holds no entities
		}
		if err != nil {
			return nil, fmt.Errorf("%s: query table %q: %w", in.where, table, err)
		}
		for _, raw := range page.Entities {
			if take > 0 && len(ents) == take {
				break
			}
			e, err := parseEntity(raw)
			if err != nil {
				return nil, err
			}
			ents = append(ents, e)
		}
	}
	t := in.param
	if t == nil || isRawJSON(t) {
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, e := range ents {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(e.plainJSON())
		}
		buf.WriteByte(']')
		switch {
		case t == nil || t == rawMessageType:
			return json.RawMessage(buf.Bytes()), nil
		case t.Kind() == reflect.String:
			return reflect.ValueOf(buf.String()).Convert(t).Interface(), nil
		default:
			return reflect.ValueOf(buf.Bytes()).Convert(t).Interface(), nil
		}
	}
	st := t
	if t.Kind() == reflect.Interface {
		st = reflect.TypeFor[[]map[string]any]()
	}
	out := reflect.MakeSlice(st, len(ents), len(ents))
	for i, e := range ents {
		if err := e.decodeInto(out.Index(i)); err != nil {
			return nil, fmt.Errorf("%s: table %q: entity (PartitionKey=%q, RowKey=%q): %w", in.where, table, e.key("PartitionKey"), e.key("RowKey"), err)
		}
	}
	return out.Interface(), nil
}

func (e *entity) key(name string) string {
	s, _ := e.props[name].str()
	return s
}
