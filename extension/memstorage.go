package extension

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MemoryStorage is an in-memory HostStorage for tests and single-process hosts.
type MemoryStorage struct {
	mu   sync.Mutex
	seq  int
	recs map[string]Record
}

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{recs: map[string]Record{}} }

// Get implements HostStorage.
func (m *MemoryStorage) Get(_ context.Context, key string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	if !ok {
		return Record{}, fmt.Errorf("host storage %q: %w", key, ErrNotFound)
	}
	r.Data = append([]byte(nil), r.Data...)
	r.Metadata = maps.Clone(r.Metadata)
	return r, nil
}

// Put implements HostStorage.
func (m *MemoryStorage) Put(_ context.Context, key string, rec Record, cond Cond) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.recs[key]
	if cond.IfNoneMatch && exists {
		return "", fmt.Errorf("host storage %q exists: %w", key, ErrConflict)
	}
	if cond.IfMatch != "" && (!exists || cur.ETag != cond.IfMatch) {
		return "", fmt.Errorf("host storage %q changed: %w", key, ErrConflict)
	}
	m.seq++
	etag := `"` + strconv.Itoa(m.seq) + `"`
	m.recs[key] = Record{Data: append([]byte(nil), rec.Data...), Metadata: maps.Clone(rec.Metadata), ETag: etag}
	return etag, nil
}

// Delete implements HostStorage.
func (m *MemoryStorage) Delete(_ context.Context, key string, cond Cond) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.recs[key]
	if !exists {
		return fmt.Errorf("host storage %q: %w", key, ErrNotFound)
	}
	if cond.IfMatch != "" && cur.ETag != cond.IfMatch {
		return fmt.Errorf("host storage %q changed: %w", key, ErrConflict)
	}
	delete(m.recs, key)
	return nil
}

// List implements HostStorage.
func (m *MemoryStorage) List(_ context.Context, prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.recs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out, nil
}
