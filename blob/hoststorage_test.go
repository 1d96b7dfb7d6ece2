package blob

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
)

func TestHostStorage(t *testing.T) {
	ctx := context.Background()
	hs := NewHostStorage(svc.NewContainerClient(unique("hosts"))) // created on first write
	var _ extension.HostStorage = hs

	if _, err := hs.Get(ctx, "locks/h/a"); !errors.Is(err, extension.ErrNotFound) {
		t.Fatalf("Get missing (no container): %v, want ErrNotFound", err)
	}
	if keys, err := hs.List(ctx, "locks/"); err != nil || len(keys) != 0 {
		t.Fatalf("List (no container) = %v, %v", keys, err)
	}
	e1, err := hs.Put(ctx, "locks/h/a", extension.Record{Data: []byte("one"), Metadata: map[string]string{"FunctionInstance": "inst-1"}}, extension.Cond{IfNoneMatch: true})
	if err != nil || e1 == "" {
		t.Fatalf("Put IfNoneMatch: %q, %v", e1, err)
	}
	if _, err := hs.Put(ctx, "locks/h/a", extension.Record{Data: []byte("x")}, extension.Cond{IfNoneMatch: true}); !errors.Is(err, extension.ErrConflict) {
		t.Fatalf("Put IfNoneMatch on existing: %v, want ErrConflict", err)
	}
	rec, err := hs.Get(ctx, "locks/h/a")
	if err != nil || string(rec.Data) != "one" || rec.ETag != e1 {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	var inst string
	for k, v := range rec.Metadata {
		if strings.EqualFold(k, "FunctionInstance") {
			inst = v
		}
	}
	if inst != "inst-1" {
		t.Fatalf("metadata = %v", rec.Metadata)
	}
	e2, err := hs.Put(ctx, "locks/h/a", extension.Record{Data: []byte("two")}, extension.Cond{IfMatch: e1})
	if err != nil || e2 == e1 {
		t.Fatalf("Put IfMatch: %q, %v", e2, err)
	}
	if _, err := hs.Put(ctx, "locks/h/a", extension.Record{Data: []byte("three")}, extension.Cond{IfMatch: e1}); !errors.Is(err, extension.ErrConflict) {
		t.Fatalf("Put stale IfMatch: %v, want ErrConflict", err)
	}
	if _, err := hs.Put(ctx, "locks/h/none", extension.Record{}, extension.Cond{IfMatch: e1}); !errors.Is(err, extension.ErrConflict) {
		t.Fatalf("Put IfMatch on missing: %v, want ErrConflict", err)
	}
	if _, err := hs.Put(ctx, "locks/h/b", extension.Record{Data: []byte("b")}, extension.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.Put(ctx, "other/x", extension.Record{}, extension.Cond{}); err != nil {
		t.Fatal(err)
	}
	keys, err := hs.List(ctx, "locks/")
	if err != nil || !slices.Equal(keys, []string{"locks/h/a", "locks/h/b"}) {
		t.Fatalf("List = %v, %v", keys, err)
	}
	if err := hs.Delete(ctx, "locks/h/a", extension.Cond{IfMatch: e1}); !errors.Is(err, extension.ErrConflict) {
		t.Fatalf("Delete stale IfMatch: %v, want ErrConflict", err)
	}
	if err := hs.Delete(ctx, "locks/h/a", extension.Cond{IfMatch: e2}); err != nil {
		t.Fatal(err)
	}
	if err := hs.Delete(ctx, "locks/h/a", extension.Cond{}); !errors.Is(err, extension.ErrNotFound) {
		t.Fatalf("Delete missing: %v, want ErrNotFound", err)
	}
}
