// Package table implements the Azure Functions `table` binding (Azure Tables input and output)
// for azbind, on the extension contract, with the Azure SDK for Go (aztables).
//
// Import it for its side effect of registering the binding type "table" (extension "tables"):
//
//	import _ "github.com/azbind/azbind/table"
//
// # Binding properties
//
//	tableName     required; ^[A-Za-z][A-Za-z0-9]{2,62}$; expressions allowed ({queueTrigger}, {id}, %x%)
//	partitionKey  expressions allowed
//	rowKey        expressions allowed
//	filter        input only: an OData filter passed to the service as is; every value substituted
//	              from an expression is escaped as an OData string literal (a quote is doubled), so
//	              trigger data cannot change the filter's structure: write '{name}' in quotes; an
//	              expression outside quotes must evaluate to a number or boolean (else the
//	              invocation fails with ErrFilterValue)
//	take          input only: maximum number of entities of a query (0 or absent: all); a number or
//	              an expression
//	mode          output only: insert (default), upsert or merge; see below
//	connection    the connection setting (default AzureWebJobsStorage): a connection string, or an
//	              identity section with tableServiceUri (or accountName) and credential properties
//
// # Input (checklist C36)
//
// With partitionKey and rowKey the binding reads one entity; a missing entity (or table) gives
// nil, so the handler gets the zero value — not an error. Otherwise the binding runs a query:
// "PartitionKey eq '<partitionKey>'" (when set) and the filter, limited by take, across as many
// result pages as needed; a missing table gives an empty result. rowKey cannot be combined with
// filter or take.
//
// The handler's parameter type decides the result:
//
//   - a struct (or pointer to one): properties are matched to fields by the `table:"name"` tag,
//     else the `json:"name"` tag, else the field name (exactly, then case-insensitively).
//     PartitionKey, RowKey, Timestamp (time.Time) and ETag (string or azcore.ETag) are ordinary
//     field names. Edm types decode into typed fields: Edm.Int64 into int64 (and other integer
//     kinds), Edm.DateTime into time.Time, Edm.Binary into []byte, Edm.Guid into GUID (or any
//     [16]byte type such as uuid.UUID, or a string), Edm.Double into float64; a struct, map or slice field is read from a JSON string.
//   - map[string]any: values are typed: string, bool, int32 (Edm.Int32), int64 (Edm.Int64),
//     float64 (Edm.Double), time.Time, []byte, GUID. PartitionKey, RowKey, Timestamp and ETag
//     are included. Note: a whole-valued double that the service returns without a type
//     annotation (Azurite does this) reads as int32 in a map; a float64 struct field is exact.
//   - json.RawMessage, []byte or string: the entity as JSON without OData annotations (typed
//     values keep their wire text: Int64 as a string, Binary as base64).
//   - aztables.EDMEntity: the SDK's own entity type.
//   - a query needs a slice of one of these ([]T, []*T, []map[string]any…), or json.RawMessage,
//     []byte or string for a JSON array.
//   - *aztables.Client: an SDK client for the table (SDK-type binding), or *aztables.ServiceClient
//     for the account; the keys, filter and take are then ignored.
//
// # Output (checklist C37)
//
// Every value given to the output (a struct, a map with string keys, aztables.EDMEntity, or a
// JSON object as json.RawMessage, []byte or string; a slice adds each element) becomes one entity.
// PartitionKey and RowKey come from the value, else from the binding's partitionKey and rowKey
// properties; keys are checked before anything is written. Go types map to Edm types so that
// they read back as written: int, int64, uint32, uint64 → Edm.Int64 (as a string on the wire);
// int8–int32, uint8, uint16 → Edm.Int32; float32/float64 → Edm.Double; time.Time → Edm.DateTime
// (a zero time is omitted); []byte → Edm.Binary; GUID and any [16]byte type (uuid.UUID) →
// Edm.Guid; a struct, map or
// slice property → its JSON text; nil pointers are omitted. Timestamp is maintained by the service.
//
// The binding's "mode" chooses the write:
//
//   - insert (default, as Functions): the entity must not exist; a conflict fails the
//     invocation with an *EntityError naming the keys (errors.Is(err, ErrEntityExists)).
//   - upsert: insert or replace the whole entity.
//   - merge: insert or merge; properties the value does not carry are kept.
//
// In every mode a value with an ETag other than "" and "*" is written conditionally (replace,
// or merge in merge mode, only if the entity still has that ETag; ErrPreconditionFailed
// otherwise); in insert mode an ETag of "*" replaces unconditionally, as Functions does.
//
// Values are buffered until the invocation succeeds (Sink.Flush), then written as entity group
// transactions of at most 100 entities of one partition; a batch is closed early when a row key
// repeats in it, so later values of the same key are applied after earlier ones. A missing
// table is created and the transaction retried. A transaction is atomic; a failure in one does
// not undo transactions already committed for other partitions.
package table

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// BindingType is the function.json type this package registers.
const BindingType = "table"

func init() {
	driver.Register(driver.Extension{
		Name: "tables",
		Bindings: []driver.BindingType{{
			Type:      BindingType,
			Service:   connection.Table,
			NewInput:  newInput,
			NewOutput: newOutput,
		}},
	})
}

// Mode is the write mode of a table output (binding property "mode").
type Mode string

// The write modes.
const (
	ModeInsert Mode = "insert" // default: fail when the entity exists
	ModeUpsert Mode = "upsert" // insert or replace
	ModeMerge  Mode = "merge"  // insert or merge
)

func parseMode(s string) (Mode, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "insert":
		return ModeInsert, true
	case "upsert":
		return ModeUpsert, true
	case "merge":
		return ModeMerge, true
	}
	return "", false
}

var tableNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

func validateTableName(where, name string) error {
	if !tableNameRE.MatchString(name) || strings.EqualFold(name, "tables") {
		return fmt.Errorf("%s: tableName: %q is not a valid table name: use 3–63 letters and digits starting with a letter (not \"tables\"): %w",
			where, name, driver.ErrInvalidConfig)
	}
	return nil
}

// validateKey applies the service's key rules before anything is sent (C37: keys validated
// client-side): no '/', '\\', '#', '?', no control characters, at most 1 KiB.
func validateKey(which, key string) error {
	if len(key) > 1024 {
		return fmt.Errorf("table: %s is longer than 1 KiB: %w", which, ErrInvalidEntity)
	}
	for _, r := range key {
		switch {
		case r == '/' || r == '\\' || r == '#' || r == '?':
			return fmt.Errorf("table: %s %q contains %q, which Azure Tables does not allow in keys: %w", which, key, r, ErrInvalidEntity)
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("table: %s %q contains the control character %U, which Azure Tables does not allow in keys: %w", which, key, r, ErrInvalidEntity)
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Clients: one service client per host and connection name.
// ---------------------------------------------------------------------------------------------

type accountKey struct {
	host *driver.Services
	name string
}

var (
	accountsMu sync.Mutex
	accounts   = map[accountKey]*account{}
)

// account is a service client plus the tables it has created.
type account struct {
	svc      *aztables.ServiceClient
	createMu sync.Mutex
}

func accountFor(ctx context.Context, bc *driver.BindContext) (*account, error) {
	key := accountKey{host: bc.Host, name: strings.ToLower(bc.Spec.Connection())}
	accountsMu.Lock()
	a := accounts[key]
	accountsMu.Unlock()
	if a != nil {
		return a, nil
	}
	c, err := bc.Connection(ctx, connection.Table)
	if err != nil {
		return nil, err
	}
	svc, err := newServiceClient(c)
	if err != nil {
		return nil, fmt.Errorf("%s: connection %q: %w", bc.Spec.Where, c.Name, err)
	}
	accountsMu.Lock()
	defer accountsMu.Unlock()
	if a := accounts[key]; a != nil {
		return a, nil
	}
	a = &account{svc: svc}
	accounts[key] = a
	return a, nil
}

// newServiceClient builds the SDK client for a resolved connection.
func newServiceClient(c *connection.Connection) (*aztables.ServiceClient, error) {
	opts := &aztables.ClientOptions{ClientOptions: c.SDKOptions()}
	switch c.Kind {
	case connection.KindConnectionString:
		// aztables ignores TableEndpoint when the connection string carries a SAS (it always
		// builds https://<account>.table.core.windows.net), which breaks emulators and custom
		// endpoints; use the endpoint with the SAS directly in that case.
		if ep, sas := sasEndpoint(c.ConnectionString); ep != "" && sas != "" {
			return aztables.NewServiceClientWithNoCredential(strings.TrimSuffix(ep, "/")+"/?"+strings.TrimPrefix(sas, "?"), opts)
		}
		svc, err := aztables.NewServiceClientFromConnectionString(c.ConnectionString, opts)
		if err != nil {
			return nil, fmt.Errorf("invalid Azure Tables connection string (%s): %w", c.Key, err)
		}
		return svc, nil
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("identity connection %s has no table endpoint: set %s__tableServiceUri or %s__accountName: %w",
				c.Key, c.Name, c.Name, driver.ErrInvalidConfig)
		}
		return aztables.NewServiceClient(c.Endpoint, c.Credential, opts)
	}
	return nil, fmt.Errorf("unsupported connection kind %q: %w", c.Kind, driver.ErrInvalidConfig)
}

// sasEndpoint returns TableEndpoint and SharedAccessSignature of a connection string when both
// are present.
func sasEndpoint(cs string) (endpoint, sas string) {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "tableendpoint":
			endpoint = strings.TrimSpace(v)
		case "sharedaccesssignature":
			sas = strings.TrimSpace(v)
		}
	}
	return endpoint, sas
}

// createTable creates name, tolerating a table that already exists.
func (a *account) createTable(ctx context.Context, name string) error {
	a.createMu.Lock()
	defer a.createMu.Unlock()
	_, err := a.svc.CreateTable(ctx, name, nil)
	var re *azcore.ResponseError
	if err == nil || errors.As(err, &re) && (re.StatusCode == http.StatusConflict || re.ErrorCode == string(aztables.TableAlreadyExists)) {
		return nil
	}
	return redact(fmt.Errorf("table: create table %q: %w", name, err))
}

// isNotFound reports a 404 from the service (missing entity or table).
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// Input declares a table input binding for the Go API (Host.Func). props may add
// "partitionKey", "rowKey", "filter", "take" and "connection"; tableName and the keys may use
// {binding data} and %setting%.
func Input(name, tableName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn(BindingType, name, driver.DirIn, "tableName", tableName, props...)
}

// Output declares a table output binding; name "$return" takes the handler's return value.
// props may add "partitionKey", "rowKey", "mode" (insert, upsert, merge) and "connection".
func Output(name, tableName string, props ...driver.Props) *driver.BindingSpec {
	return driver.BindingOn(BindingType, name, driver.DirOut, "tableName", tableName, props...)
}
