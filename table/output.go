package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/extension/driver"
)

// maxBatch is the service's limit of operations per entity group transaction.
const maxBatch = 100

type output struct {
	acct   *account
	where  string
	fn     string
	table  *driver.Template
	pk, rk *driver.Template
	mode   Mode
	logger *slog.Logger
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	o := &output{where: bc.Spec.Where, fn: bc.Function, logger: bc.Host.Logger}
	var err error
	if o.table, o.pk, o.rk, err = keyTemplates(bc); err != nil {
		return nil, err
	}
	for _, p := range []string{"filter", "take"} {
		if v, ok := bc.Spec.Prop(p); ok && v != nil && v != "" {
			return nil, bc.Errorf(p, "remove it from the output binding", "applies to table inputs only")
		}
	}
	ms, err := bc.Spec.String("mode")
	if err != nil {
		return nil, err
	}
	var ok bool
	if o.mode, ok = parseMode(ms); !ok {
		return nil, bc.Errorf("mode", "use insert (default), upsert or merge", "%q is not a table write mode", ms)
	}
	if o.acct, err = accountFor(ctx, bc); err != nil {
		return nil, err
	}
	return o, nil
}

// Open implements driver.Output.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	table, err := o.table.Eval(fc)
	if err != nil {
		return nil, err
	}
	if err := validateTableName(o.where, table); err != nil {
		return nil, err
	}
	pk, err := o.pk.Eval(fc)
	if err != nil {
		return nil, err
	}
	rk, err := o.rk.Eval(fc)
	if err != nil {
		return nil, err
	}
	logger := o.logger
	if fc != nil && fc.InvocationID() != "" {
		logger = fc.Logger()
	}
	return &sink{
		w:      newWriter(o.acct, table, o.mode),
		where:  o.where,
		pk:     pk,
		rk:     rk,
		logger: logger,
	}, nil
}

// sink buffers one invocation's entities. The runtime serialises its Add and Flush calls
// (driver.Sink), so it has no lock of its own.
type sink struct {
	w      *writer
	where  string
	pk, rk string
	logger *slog.Logger
}

// Add implements driver.Sink: it checks and buffers the entity (or each element of a slice
// or JSON array); nothing is written before Flush.
func (s *sink) Add(ctx context.Context, item any) error {
	switch x := item.(type) {
	case json.RawMessage:
		return s.addJSON(ctx, x)
	case []byte:
		return s.addJSON(ctx, x)
	case string:
		return s.addJSON(ctx, []byte(x))
	case aztables.EDMEntity, *aztables.EDMEntity:
		return s.addOne(item)
	}
	if v := reflect.ValueOf(item); v.IsValid() && (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) {
		for i := 0; i < v.Len(); i++ {
			if err := s.Add(ctx, v.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	}
	return s.addOne(item)
}

func (s *sink) addJSON(ctx context.Context, b []byte) error {
	trimmed := strings.TrimSpace(string(b))
	if strings.HasPrefix(trimmed, "[") {
		var items []json.RawMessage
		if err := json.Unmarshal(b, &items); err != nil {
			return fmt.Errorf("%s: table output: invalid JSON array: %v: %w", s.where, err, ErrInvalidEntity)
		}
		for _, it := range items {
			if err := s.addOne(it); err != nil {
				return err
			}
		}
		return nil
	}
	return s.addOne(json.RawMessage(b))
}

func (s *sink) addOne(item any) error {
	e, err := encodeEntity(item)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if e.pk == "" {
		e.pk = s.pk
	}
	if e.rk == "" {
		e.rk = s.rk
	}
	if e.pk == "" {
		return fmt.Errorf("%s: table output: the entity has no PartitionKey: set PartitionKey in the value or the binding's partitionKey property: %w", s.where, ErrInvalidEntity)
	}
	if e.rk == "" {
		return fmt.Errorf("%s: table output: the entity (PartitionKey=%q) has no RowKey: set RowKey in the value or the binding's rowKey property: %w", s.where, e.pk, ErrInvalidEntity)
	}
	if err := validateKey("PartitionKey", e.pk); err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if err := validateKey("RowKey", e.rk); err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	return s.w.add(e)
}

// Flush implements driver.Sink: it writes the buffered entities.
func (s *sink) Flush(ctx context.Context) error {
	n, batches, err := s.w.flush(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if n > 0 {
		s.logger.DebugContext(ctx, "table output written", "table", s.w.table, "entities", n, "transactions", batches, "mode", string(s.w.mode))
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// The writer: partition batching, table creation, error mapping.
// ---------------------------------------------------------------------------------------------

type batch struct {
	pk     string
	ents   []*outEntity
	rks    map[string]bool
	single bool // written with a single-entity call, not a transaction (see add)
}

type writer struct {
	acct    *account
	table   string
	mode    Mode
	batches []*batch
	open    map[string]*batch // partition → batch still accepting entities
	total   int
}

func newWriter(a *account, table string, mode Mode) *writer {
	return &writer{acct: a, table: table, mode: mode, open: map[string]*batch{}}
}

func (w *writer) add(e *outEntity) error {
	// The SDK does not escape quotes in the keys of replace/merge operations inside a
	// transaction (it does for single calls), so such entities are written one by one.
	if w.actionType(e) != aztables.TransactionTypeAdd && (strings.Contains(e.pk, "'") || strings.Contains(e.rk, "'")) {
		w.batches = append(w.batches, &batch{pk: e.pk, ents: []*outEntity{e}, single: true})
		delete(w.open, e.pk) // keep order: later entities of this partition follow it
		w.total++
		return nil
	}
	b := w.open[e.pk]
	if b == nil || len(b.ents) == maxBatch || b.rks[e.rk] {
		b = &batch{pk: e.pk, rks: map[string]bool{}}
		w.open[e.pk] = b
		w.batches = append(w.batches, b)
	}
	b.ents = append(b.ents, e)
	b.rks[e.rk] = true
	w.total++
	return nil
}

func (w *writer) actionType(e *outEntity) aztables.TransactionType {
	conditional := e.etag != "" && e.etag != "*"
	switch w.mode {
	case ModeMerge:
		if conditional {
			return aztables.TransactionTypeUpdateMerge
		}
		return aztables.TransactionTypeInsertMerge
	case ModeUpsert:
		if conditional {
			return aztables.TransactionTypeUpdateReplace
		}
		return aztables.TransactionTypeInsertReplace
	}
	switch e.etag {
	case "":
		return aztables.TransactionTypeAdd
	case "*":
		return aztables.TransactionTypeInsertReplace
	}
	return aztables.TransactionTypeUpdateReplace
}

// flush writes every batch in order and returns the number of entities and transactions.
func (w *writer) flush(ctx context.Context) (entities, transactions int, err error) {
	batches := w.batches
	w.batches, w.open = nil, map[string]*batch{}
	client := w.acct.svc.NewClient(w.table)
	for i, b := range batches {
		if err := w.submit(ctx, client, b); err != nil {
			if rest := len(batches) - i - 1; rest > 0 {
				err = fmt.Errorf("%w (%d later transaction(s) were not attempted)", err, rest)
			}
			return entities, transactions, err
		}
		entities += len(b.ents)
		transactions++
	}
	return entities, transactions, nil
}

func (w *writer) submit(ctx context.Context, client *aztables.Client, b *batch) error {
	do := func() error { return w.submitOnce(ctx, client, b) }
	err := do()
	if err == nil {
		return nil
	}
	if f, ok := parseTransactionError(err); ok && f.code == string(aztables.TableNotFound) {
		if cerr := w.acct.createTable(ctx, w.table); cerr != nil {
			return cerr
		}
		err = do()
		if err == nil {
			return nil
		}
	}
	return w.mapError(b, err)
}

func (w *writer) submitOnce(ctx context.Context, client *aztables.Client, b *batch) error {
	if b.single {
		e := b.ents[0]
		body, err := e.json()
		if err != nil {
			return err
		}
		at := w.actionType(e)
		switch at {
		case aztables.TransactionTypeInsertReplace, aztables.TransactionTypeInsertMerge:
			mode := aztables.UpdateModeReplace
			if at == aztables.TransactionTypeInsertMerge {
				mode = aztables.UpdateModeMerge
			}
			_, err = client.UpsertEntity(ctx, body, &aztables.UpsertEntityOptions{UpdateMode: mode})
		default:
			mode := aztables.UpdateModeReplace
			if at == aztables.TransactionTypeUpdateMerge {
				mode = aztables.UpdateModeMerge
			}
			etag := azcore.ETag(e.etag)
			_, err = client.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{UpdateMode: mode, IfMatch: &etag})
		}
		return err
	}
	actions := make([]aztables.TransactionAction, len(b.ents))
	for i, e := range b.ents {
		body, err := e.json()
		if err != nil {
			return fmt.Errorf("table: entity (PartitionKey=%q, RowKey=%q): %v: %w", e.pk, e.rk, err, ErrInvalidEntity)
		}
		actions[i] = aztables.TransactionAction{ActionType: w.actionType(e), Entity: body}
		if e.etag != "" && e.etag != "*" {
			etag := azcore.ETag(e.etag)
			actions[i].IfMatch = &etag
		}
	}
	_, err := client.SubmitTransaction(ctx, actions, nil)
	return err
}

// mapError turns a failed write into an *EntityError naming the failing entity.
func (w *writer) mapError(b *batch, err error) error {
	if errors.Is(err, ErrInvalidEntity) {
		return err
	}
	f, ok := parseTransactionError(err)
	if !ok {
		return fmt.Errorf("table: writing %d entities of partition %q to table %q: %w", len(b.ents), b.pk, w.table, err)
	}
	e := b.ents[0]
	if f.index >= 0 && f.index < len(b.ents) {
		e = b.ents[f.index]
	} else if len(b.ents) > 1 {
		return &EntityError{Table: w.table, PartitionKey: b.pk, Mode: w.mode, StatusCode: f.status, Code: f.code,
			Message: f.message + fmt.Sprintf(" (in a transaction of %d entities)", len(b.ents)), Err: err}
	}
	return &EntityError{Table: w.table, PartitionKey: e.pk, RowKey: e.rk, Mode: w.mode, StatusCode: f.status, Code: f.code, Message: f.message, Err: err}
}
