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
