package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/extension/driver"
)

type inputConfig struct {
	DatabaseName       string `binding:"databaseName,required"`
	ContainerName      string `binding:"containerName,required"`
	ID                 string `binding:"id"`
	PartitionKey       string `binding:"partitionKey"`
	SQLQuery           string `binding:"sqlQuery"`
	PreferredLocations string `binding:"preferredLocations"`
}

var containerClientType = reflect.TypeFor[*azcosmos.ContainerClient]()

type input struct {
	acct     *account
	where    string
	db, coll *driver.Template
	id, pk   *driver.Template // nil when not declared
	query    *sqlQuery        // nil when not declared
	client   bool             // the handler takes *azcosmos.ContainerClient
}

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	var cfg inputConfig
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	for _, p := range []string{"createIfNotExists", "containerThroughput"} {
		if v, ok := bc.Spec.Prop(p); ok && v != nil && v != "" && v != false {
			return nil, bc.Errorf(p, "remove it from the input binding", "applies to cosmosDB outputs only")
		}
	}
	opts, err := decodeOptions(ctx, bc)
	if err != nil {
		return nil, err
	}
	in := &input{where: bc.Spec.Where, client: bc.Param == containerClientType}
	if in.db, err = bc.Template("databaseName"); err != nil {
		return nil, err
	}
	if in.coll, err = bc.Template("containerName"); err != nil {
		return nil, err
	}
	switch {
	case in.client:
	case cfg.ID != "" && cfg.SQLQuery != "":
		return nil, bc.Errorf("sqlQuery", "use id (with partitionKey) for a point read, or sqlQuery for a query", "id and sqlQuery cannot both be set")
	case cfg.ID != "":
		if in.id, err = bc.Template("id"); err != nil {
			return nil, err
		}
	case cfg.SQLQuery != "":
		if in.query, err = parseSQLQuery(bc, cfg.SQLQuery); err != nil {
			return nil, err
		}
	default:
		return nil, bc.Errorf("", "set id (and partitionKey) for a point read, sqlQuery for a query, or take *azcosmos.ContainerClient",
			"a cosmosDB input needs id or sqlQuery")
	}
	if cfg.PartitionKey != "" {
		if in.pk, err = bc.Template("partitionKey"); err != nil {
			return nil, err
		}
	}
	if in.acct, err = accountFor(ctx, bc, "connection", opts, splitLocations(cfg.PreferredLocations)); err != nil {
		return nil, err
	}
	return in, nil
}

// Bind implements driver.Input: the document (json.RawMessage; nil when missing), the query's
// documents as a JSON array, or the container client.
func (in *input) Bind(ctx context.Context, fc *driver.FunctionContext) (any, error) {
	db, err := in.db.Eval(fc)
	if err != nil {
		return nil, err
	}
	coll, err := in.coll.Eval(fc)
	if err != nil {
		return nil, err
	}
	cc, err := in.acct.client.NewContainer(db, coll)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.where, err)
	}
	if in.client {
		return cc, nil
	}
	var pk *azcosmos.PartitionKey
	if in.pk != nil {
		s, err := in.pk.Eval(fc)
		if err != nil {
			return nil, err
		}
		v := partitionKeyValue(s)
		pk = &v
	}
	if in.query != nil {
		return in.runQuery(ctx, fc, cc, pk, db, coll)
	}
	id, err := in.id.Eval(fc)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("%s: id evaluated to an empty string", in.where)
	}
	if pk == nil {
		// Without partitionKey the extension reads with PartitionKey.None; in a container
		// partitioned by /id the id is the partition key.
		paths, err := in.acct.partitionKeyPaths(ctx, db, coll)
		if err != nil {
			return nil, fmt.Errorf("%s: reading container %q (in database %q): %w", in.where, coll, db, err)
		}
		if paths == nil {
			//lint:ignore ST1005 the real extension's message, verbatim
			return nil, fmt.Errorf("%s: The container '%s' (in database '%s') does not exist.", in.where, coll, db)
		}
		if len(paths) != 1 || paths[0] != "/id" {
			return nil, fmt.Errorf("%s: the container '%s' is partitioned by %s: set the binding's partitionKey to read document %q", in.where, coll, strings.Join(paths, ","), id)
		}
		v := azcosmos.NewPartitionKeyString(id)
		pk = &v
	}
	resp, err := cc.ReadItem(ctx, *pk, id, nil)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: reading document %q from container %q (in database %q): %w", in.where, id, coll, db, err)
	}
	return json.RawMessage(resp.Value), nil
}

func (in *input) runQuery(ctx context.Context, fc *driver.FunctionContext, cc *azcosmos.ContainerClient, pk *azcosmos.PartitionKey, db, coll string) (any, error) {
	params, err := in.query.parameters(fc)
	if err != nil {
		return nil, fmt.Errorf("%s: sqlQuery: %w", in.where, err)
	}
	scope := azcosmos.NewPartitionKey() // cross-partition
	if pk != nil {
		scope = *pk
	}
	pager := cc.NewQueryItemsPager(in.query.text, scope, &azcosmos.QueryOptions{QueryParameters: params})
	out := []byte{'['}
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				//lint:ignore ST1005 the real extension's message, verbatim
				return nil, fmt.Errorf("%s: The container '%s' (in database '%s') does not exist.", in.where, coll, db)
			}
			return nil, fmt.Errorf("%s: querying container %q (in database %q): %w", in.where, coll, db, err)
		}
		for _, it := range page.Items {
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, it...)
			n++
		}
	}
	return json.RawMessage(append(out, ']')), nil
}

// sqlQuery is a sqlQuery property with its {name} tokens turned into @name parameters: binding
// data never becomes query text.
type sqlQuery struct {
	text  string
	names []string // binding-data names, in order of first use
}

// parseSQLQuery replaces each {name} (letters, digits and _; not dotted) with @name.
func parseSQLQuery(bc *driver.BindContext, q string) (*sqlQuery, error) {
	var b strings.Builder
	seen := map[string]bool{}
	out := &sqlQuery{}
	for i := 0; i < len(q); {
		if q[i] != '{' {
			b.WriteByte(q[i])
			i++
			continue
		}
		end := strings.IndexByte(q[i:], '}')
		if end < 0 {
			b.WriteString(q[i:])
			break
		}
		name := q[i+1 : i+end]
		if !isTokenName(name) {
			if strings.Contains(name, ".") && isTokenName(strings.ReplaceAll(name, ".", "")) {
				return nil, bc.Errorf("sqlQuery", "bind a top-level member, e.g. {id}", "{%s}: dot notation is not supported in Cosmos DB queries", name)
			}
			b.WriteString(q[i : i+end+1])
			i += end + 1
			continue
		}
		b.WriteString("@" + name)
		if !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			out.names = append(out.names, name)
		}
		i += end + 1
	}
	out.text = b.String()
	if bc.TriggerData != nil && !containsFold(bc.TriggerData, "*") {
		for _, n := range out.names {
			if !containsFold(bc.TriggerData, n) {
				return nil, bc.Errorf("sqlQuery", "use one of those names or %setting%", "{%s} is not binding data of the %s trigger (it provides %s)", n, bc.TriggerType, strings.Join(bc.TriggerData, ", "))
			}
		}
	}
	return out, nil
}

func isTokenName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r >= '0' && r <= '9'):
		default:
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// parameters looks up each name in the invocation's binding data.
func (q *sqlQuery) parameters(fc *driver.FunctionContext) ([]azcosmos.QueryParameter, error) {
	params := make([]azcosmos.QueryParameter, 0, len(q.names))
	for _, n := range q.names {
		var v any
		ok := false
		if fc != nil {
			v, ok = fc.BindingData(n)
		}
		if !ok {
			return nil, fmt.Errorf("{%s}: no binding data of that name in this invocation", n)
		}
		if raw, isRaw := v.(json.RawMessage); isRaw {
			var x any
			if err := json.Unmarshal(raw, &x); err == nil {
				v = x
			}
		}
		params = append(params, azcosmos.QueryParameter{Name: "@" + n, Value: v})
	}
	return params, nil
}
