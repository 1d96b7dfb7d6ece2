package extension

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// MemoryStorage is an in-memory HostStorage for tests and single-process hosts.
type MemoryStorage struct {
	mu   sync.Mutex
	seq  int
	recs map[string]Record
	// leases by key (driver.Leaser)
	leases map[string]memLeaseState
	// Clock, when set before use, is the time leases expire by (a test's fake clock); nil is
	// the wall clock.
	Clock driver.Clock
}

func (m *MemoryStorage) now() time.Time {
	if m.Clock != nil {
		return m.Clock.Now()
	}
	return time.Now()
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

// memLease is a MemoryStorage lease.
type memLease struct {
	m      *MemoryStorage
	key    string
	id     int
	period time.Duration
}

type memLeaseState struct {
	id      int
	expires time.Time
}

// AcquireLease implements driver.Leaser: the lease expires period after its last renewal (by
// Clock), as a blob lease does.
func (m *MemoryStorage) AcquireLease(_ context.Context, key string, period time.Duration) (driver.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases == nil {
		m.leases = map[string]memLeaseState{}
	}
	now := m.now()
	if cur, ok := m.leases[key]; ok && now.Before(cur.expires) {
		return nil, fmt.Errorf("host storage lease %q is held: %w", key, ErrConflict)
	}
	if _, ok := m.recs[key]; !ok {
		m.seq++
		m.recs[key] = Record{ETag: `"` + strconv.Itoa(m.seq) + `"`}
	}
	m.seq++
	m.leases[key] = memLeaseState{id: m.seq, expires: now.Add(period)}
	return &memLease{m: m, key: key, id: m.seq, period: period}, nil
}

func (l *memLease) Key() string { return l.key }

func (l *memLease) Renew(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	cur, ok := l.m.leases[l.key]
	now := l.m.now()
	if !ok || cur.id != l.id || !now.Before(cur.expires) {
		return fmt.Errorf("host storage lease %q: %w", l.key, driver.ErrLeaseLost)
	}
	l.m.leases[l.key] = memLeaseState{id: l.id, expires: now.Add(l.period)}
	return nil
}

func (l *memLease) Release(context.Context) error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if cur, ok := l.m.leases[l.key]; ok && cur.id == l.id {
		delete(l.m.leases, l.key)
	}
	return nil
}
