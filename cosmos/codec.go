package cosmos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// ErrInvalidDocument is returned (wrapped) for an output value that is not a JSON object with an
// id, or lacks the container's partition-key value.
var ErrInvalidDocument = errors.New("invalid Cosmos DB document")

// doc is one document to write: its JSON as given and the members it is routed by.
type doc struct {
	raw    json.RawMessage
	id     string
	fields map[string]any
}

// documents turns an output value into documents: JSON text ([]byte, string, json.RawMessage) of
// an object or an array of objects; a Go slice or array (each element); any other value is
// marshalled and must be an object.
func documents(item any) ([]doc, error) {
	switch x := item.(type) {
	case nil:
		return nil, fmt.Errorf("cosmos output: nil value: %w", ErrInvalidDocument)
	case json.RawMessage:
		return jsonDocuments(x)
	case []byte:
		return jsonDocuments(x)
	case string:
		return jsonDocuments([]byte(x))
	}
	if v := reflect.ValueOf(item); (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) && !(v.Kind() == reflect.Slice && v.IsNil()) {
		var out []doc
		for i := 0; i < v.Len(); i++ {
			ds, err := documents(v.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, ds...)
		}
		return out, nil
	}
	b, err := json.Marshal(item)
	if err != nil {
		return nil, fmt.Errorf("cosmos output: encoding %T as JSON: %v: %w", item, err, ErrInvalidDocument)
	}
	return jsonDocuments(b)
}

func jsonDocuments(b []byte) ([]doc, error) {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, fmt.Errorf("cosmos output: invalid JSON array: %v: %w", err, ErrInvalidDocument)
		}
		out := make([]doc, 0, len(items))
		for i, it := range items {
			d, err := oneDocument(it)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, d)
		}
		return out, nil
	}
	d, err := oneDocument(t)
	if err != nil {
		return nil, err
	}
	return []doc{d}, nil
}

func oneDocument(b []byte) (doc, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return doc{}, fmt.Errorf("cosmos output: a document must be a JSON object: %w", ErrInvalidDocument)
	}
	id, ok := m["id"].(string)
	if !ok || id == "" {
		return doc{}, fmt.Errorf("cosmos output: the document has no string \"id\" (Cosmos DB requires one; set it in the value): %w", ErrInvalidDocument)
	}
	return doc{raw: append(json.RawMessage(nil), b...), id: id, fields: m}, nil
}

// partitionKey returns the document's value at the container's partition-key paths.
func (d doc) partitionKey(paths []string) (azcosmos.PartitionKey, error) {
	pk := azcosmos.NewPartitionKey()
	for _, p := range paths {
		v, ok := lookupPath(d.fields, p)
		if !ok {
			return pk, fmt.Errorf("cosmos output: document %q has no value at the container's partition-key path %s: %w", d.id, p, ErrInvalidDocument)
		}
		switch x := v.(type) {
		case nil:
			pk = pk.AppendNull()
		case string:
			pk = pk.AppendString(x)
		case bool:
			pk = pk.AppendBool(x)
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return pk, fmt.Errorf("cosmos output: document %q: partition key %s: %v: %w", d.id, p, err, ErrInvalidDocument)
			}
			pk = pk.AppendNumber(f)
		default:
			return pk, fmt.Errorf("cosmos output: document %q: the partition key at %s must be a string, number, boolean or null: %w", d.id, p, ErrInvalidDocument)
		}
	}
	return pk, nil
}

func lookupPath(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// partitionKeyValue builds a partition key from a binding's partitionKey property: a JSON
// string, number, boolean or null literal (e.g. `"a"`, `5`, `true`) is taken as that value, any
// other text as a string, as the Functions extension does.
func partitionKeyValue(s string) azcosmos.PartitionKey {
	t := strings.TrimSpace(s)
	if t == "null" {
		return azcosmos.NullPartitionKey
	}
	if t == "true" || t == "false" {
		return azcosmos.NewPartitionKeyBool(t == "true")
	}
	if len(t) > 1 && t[0] == '"' {
		var str string
		if json.Unmarshal([]byte(t), &str) == nil {
			return azcosmos.NewPartitionKeyString(str)
		}
	}
	return azcosmos.NewPartitionKeyString(s)
}
