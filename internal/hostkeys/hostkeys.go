// Package hostkeys keeps a host's Functions keys, where and as the Functions host keeps them, and
// tells the runtime which authorization level a presented key has. The runtime alone uses it: a
// connector never reads or compares a key (it mounts its routes with a driver.AuthLevel and the
// router checks).
//
// Layout (azure-functions-host Security/BlobStorageSecretsRepository, ScriptSecrets): in the
// container azure-webjobs-secrets of AzureWebJobsStorage,
//
//	<hostid>/host.json       {"masterKey": {"name": "master", "value", "encrypted"},
//	                          "functionKeys": [{"name": "default", …}], "systemKeys": [...],
//	                          "hostName", "instanceId", "source": "runtime", "decryptionKeyId"}
//	<hostid>/<function>.json {"keys": [{"name": "default", …}], "hostName", "instanceId",
//	                          "source", "decryptionKeyId"}
//
// (host id and function name in lower case). host.json is created, with a master key and a
// default host key, when the host first starts; a function's file when its keys are first needed;
// a system key (eventgrid_extension, …) when an extension's route first mounts. Writes are
// conditional (ETags), so hosts sharing the storage agree on one set of keys. Values are
// generated as Functions' SecretGenerator makes them (see Generate).
//
// Settings override stored keys (Functions' Kubernetes / Container Apps secret names, which
// `func kubernetes` writes): host.master, host.function.<name>, host.systemKey.<name> and
// functions.<function>.<name>, or with "__" for "." (host__master, …) for shells. A setting
// replaces the stored key of the same name; other stored keys keep working.
//
// Match compares a presented key with every key in constant time (SHA-256 digests compared with
// crypto/subtle), whichever matches. Keys never appear in errors or logs.
package hostkeys

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// Container is the Functions host's secrets container in AzureWebJobsStorage.
const Container = "azure-webjobs-secrets"

// Key names Functions gives the keys it creates.
const (
	MasterKeyName  = "master"
	DefaultKeyName = "default"
)

// Key is one key as Functions stores it.
type Key struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Encrypted bool   `json:"encrypted"`
}

// HostSecrets is <hostid>/host.json.
type HostSecrets struct {
	MasterKey       *Key   `json:"masterKey"`
	FunctionKeys    []Key  `json:"functionKeys"`
	SystemKeys      []Key  `json:"systemKeys"`
	HostName        string `json:"hostName"`
	InstanceID      string `json:"instanceId"`
	Source          string `json:"source"`
	DecryptionKeyID string `json:"decryptionKeyId"`
}

// FunctionSecrets is <hostid>/<function>.json.
type FunctionSecrets struct {
	Keys            []Key  `json:"keys"`
	HostName        string `json:"hostName"`
	InstanceID      string `json:"instanceId"`
	Source          string `json:"source"`
	DecryptionKeyID string `json:"decryptionKeyId"`
}

// Options configure a Store; the zero value works.
type Options struct {
	// Prefix is prepended to every blob name ("" in the azure-webjobs-secrets container; the
	// runtime uses "secrets/" when the keys share a host storage given by the program).
	Prefix string
	// Settings hold the key overrides (see the package doc); nil for none.
	Settings *connection.Settings
	// HostName and InstanceID are written into new documents, as Functions does.
	HostName, InstanceID string
	// Legacy, when set, is read once when host.json does not exist yet: its systemKeys are
	// carried over (azbind before this package kept them at secrets/<hostid>/host.json of the
	// azure-webjobs-hosts container).
	Legacy driver.HostStorage
	// Refresh is how long documents read from storage are trusted before they are read again, so
	// that keys changed by `azbind keys` or another host take effect (default 1 minute).
	Refresh time.Duration
	Logger  *slog.Logger // default: discard
	Clock   driver.Clock // default: the system clock
}

// Store is a host's keys.
type Store struct {
	st     driver.HostStorage
	hostID string
	o      Options

	mu    sync.Mutex
	host  *cached[HostSecrets]
	funcs map[string]*cached[FunctionSecrets] // by lower-case function name
	warn  sync.Once
}

type cached[T any] struct {
	doc     *T
	etag    string
	at      time.Time
	digests []digest // the usable keys, for Match
}

// New returns the keys of hostID kept in st.
func New(st driver.HostStorage, hostID string, o Options) *Store {
	if o.Refresh <= 0 {
		o.Refresh = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = driver.SystemClock
	}
	return &Store{st: st, hostID: hostID, o: o, funcs: map[string]*cached[FunctionSecrets]{}}
}

// HostBlob returns the name of the host's secrets document.
func (s *Store) HostBlob() string { return s.o.Prefix + strings.ToLower(s.hostID) + "/host.json" }

// FunctionBlob returns the name of a function's secrets document.
func (s *Store) FunctionBlob(function string) string {
	return s.o.Prefix + strings.ToLower(s.hostID) + "/" + strings.ToLower(function) + ".json"
}

// ErrCorrupt marks a secrets document that cannot be read; the fix is in the message.
var ErrCorrupt = errors.New("secrets document is not readable")

// Host returns the host's secrets, creating the document (a master key and a default host key)
// when it does not exist. The result must not be modified.
func (s *Store) Host(ctx context.Context) (*HostSecrets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostLocked(ctx, false)
}

func (s *Store) hostLocked(ctx context.Context, force bool) (*HostSecrets, error) {
	if c := s.host; c != nil && !force && s.o.Clock.Now().Sub(c.at) < s.o.Refresh {
		return c.doc, nil
	}
	name := s.HostBlob()
	for range 10 {
		doc, etag, err := readDoc[HostSecrets](ctx, s.st, name)
		if err == nil {
			s.host = &cached[HostSecrets]{doc: doc, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.hostKeys(doc))}
			return doc, nil
		}
		if !errors.Is(err, driver.ErrNotFound) {
			if s.host != nil && !errors.Is(err, ErrCorrupt) {
				// Storage is unavailable: keep serving the keys read last.
				s.o.Logger.Warn("host keys: could not read them again; using the ones read before", slog.String("blob", name), slog.String("error", connection.ScrubText(err.Error())))
				s.host.at = s.o.Clock.Now()
				return s.host.doc, nil
			}
			return nil, err
		}
		doc, err = s.newHostSecrets(ctx)
		if err != nil {
			return nil, err
		}
		etag, err = writeDoc(ctx, s.st, name, doc, driver.Cond{IfNoneMatch: true})
		if errors.Is(err, driver.ErrConflict) {
			continue // another host created it first: read that one
		}
		if err != nil {
			return nil, err
		}
		s.o.Logger.Info("host keys: created the master key and the default host key", slog.String("blob", name))
		s.host = &cached[HostSecrets]{doc: doc, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.hostKeys(doc))}
		return doc, nil
	}
	return nil, fmt.Errorf("host keys: %s kept changing under concurrent writers: %w", name, driver.ErrConflict)
}

func (s *Store) newHostSecrets(ctx context.Context) (*HostSecrets, error) {
	mk, err := Generate(MasterKey)
	if err != nil {
		return nil, err
	}
	fk, err := Generate(FunctionKey)
	if err != nil {
		return nil, err
	}
	doc := &HostSecrets{
		MasterKey:    &Key{Name: MasterKeyName, Value: mk},
		FunctionKeys: []Key{{Name: DefaultKeyName, Value: fk}},
		SystemKeys:   []Key{},
		HostName:     s.o.HostName, InstanceID: s.o.InstanceID, Source: "runtime",
	}
	if s.o.Legacy != nil {
		old, _, err := readDoc[HostSecrets](ctx, s.o.Legacy, "secrets/"+s.hostID+"/host.json")
		if err == nil {
			for _, k := range old.SystemKeys {
				if k.Value != "" && !k.Encrypted {
					doc.SystemKeys = append(doc.SystemKeys, k)
				}
			}
			if len(doc.SystemKeys) > 0 {
				s.o.Logger.Info("host keys: carried the system keys over from the previous location", slog.String("from", "azure-webjobs-hosts/secrets/"+s.hostID+"/host.json"))
			}
		}
	}
	return doc, nil
}

// Function returns a function's secrets, creating the document (a default key) when it does not
// exist. The result must not be modified.
func (s *Store) Function(ctx context.Context, function string) (*FunctionSecrets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.functionLocked(ctx, function, false)
}

func (s *Store) functionLocked(ctx context.Context, function string, force bool) (*FunctionSecrets, error) {
	lf := strings.ToLower(function)
	if c := s.funcs[lf]; c != nil && !force && s.o.Clock.Now().Sub(c.at) < s.o.Refresh {
		return c.doc, nil
	}
	name := s.FunctionBlob(function)
	for range 10 {
		doc, etag, err := readDoc[FunctionSecrets](ctx, s.st, name)
		if err == nil {
			s.funcs[lf] = &cached[FunctionSecrets]{doc: doc, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.functionKeys(function, doc))}
			return doc, nil
		}
		if !errors.Is(err, driver.ErrNotFound) {
			if c := s.funcs[lf]; c != nil && !errors.Is(err, ErrCorrupt) {
				c.at = s.o.Clock.Now()
				return c.doc, nil
			}
			return nil, err
		}
		v, err := Generate(FunctionKey)
		if err != nil {
			return nil, err
		}
		doc = &FunctionSecrets{Keys: []Key{{Name: DefaultKeyName, Value: v}}, HostName: s.o.HostName, InstanceID: s.o.InstanceID, Source: "runtime"}
		etag, err = writeDoc(ctx, s.st, name, doc, driver.Cond{IfNoneMatch: true})
		if errors.Is(err, driver.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.o.Logger.Info("host keys: created the default key of a function", slog.String("function", function), slog.String("blob", name))
		s.funcs[lf] = &cached[FunctionSecrets]{doc: doc, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.functionKeys(function, doc))}
		return doc, nil
	}
	return nil, fmt.Errorf("host keys: %s kept changing under concurrent writers: %w", name, driver.ErrConflict)
}

// EnsureSystemKey makes sure the system key name exists (a setting, or host.json systemKeys,
// where it is generated when absent).
func (s *Store) EnsureSystemKey(ctx context.Context, name string) error {
	if _, ok := s.setting("host.systemKey." + name); ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	doc, err := s.hostLocked(ctx, false)
	if err != nil {
		return err
	}
	if _, ok := findKey(doc.SystemKeys, name); ok {
		return nil
	}
	v, err := Generate(SystemKey)
	if err != nil {
		return err
	}
	return s.updateHostLocked(ctx, func(d *HostSecrets) bool {
		if _, ok := findKey(d.SystemKeys, name); ok {
			return false
		}
		d.SystemKeys = append(d.SystemKeys, Key{Name: name, Value: v})
		return true
	})
}

// updateHostLocked applies change to the current host document and writes it conditionally,
// again on a conflict. change reports whether it changed anything.
func (s *Store) updateHostLocked(ctx context.Context, change func(*HostSecrets) bool) error {
	for range 10 {
		cur, err := s.hostLocked(ctx, true)
		if err != nil {
			return err
		}
		d := cloneHost(cur)
		if !change(d) {
			return nil
		}
		etag, err := writeDoc(ctx, s.st, s.HostBlob(), d, driver.Cond{IfMatch: s.host.etag})
		if errors.Is(err, driver.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.host = &cached[HostSecrets]{doc: d, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.hostKeys(d))}
		return nil
	}
	return fmt.Errorf("host keys: %s kept changing under concurrent writers: %w", s.HostBlob(), driver.ErrConflict)
}

func cloneHost(h *HostSecrets) *HostSecrets {
	d := *h
	if h.MasterKey != nil {
		mk := *h.MasterKey
		d.MasterKey = &mk
	}
	d.FunctionKeys = slices.Clone(h.FunctionKeys)
	d.SystemKeys = slices.Clone(h.SystemKeys)
	if d.SystemKeys == nil {
		d.SystemKeys = []Key{}
	}
	return &d
}

func findKey(keys []Key, name string) (Key, bool) {
	for _, k := range keys {
		if strings.EqualFold(k.Name, name) {
			return k, true
		}
	}
	return Key{}, false
}

// Set sets (or adds) a key: with function "" the master key (name "master"), a system key (a
// name that exists in systemKeys or ends in "_extension") or a host function key; else a key of
// the function. An empty value generates one. It returns the value.
func (s *Store) Set(ctx context.Context, function, name, value string) (string, error) {
	if name == "" {
		name = DefaultKeyName
	}
	if strings.ContainsAny(name, "/\\ ") {
		return "", fmt.Errorf("hostkeys: key name %q: use letters, digits, '-', '_' or '.'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if function != "" {
		if value == "" {
			v, err := Generate(FunctionKey)
			if err != nil {
				return "", err
			}
			value = v
		}
		return value, s.updateFunctionLocked(ctx, function, func(d *FunctionSecrets) {
			d.Keys = setKey(d.Keys, name, value)
		})
	}
	doc, err := s.hostLocked(ctx, false)
	if err != nil {
		return "", err
	}
	kind := FunctionKey
	_, isSystem := findKey(doc.SystemKeys, name)
	isSystem = isSystem || strings.HasSuffix(strings.ToLower(name), "_extension")
	switch {
	case strings.EqualFold(name, MasterKeyName) || strings.EqualFold(name, "_master"):
		kind = MasterKey
	case isSystem:
		kind = SystemKey
	}
	if value == "" {
		if value, err = Generate(kind); err != nil {
			return "", err
		}
	}
	return value, s.updateHostLocked(ctx, func(d *HostSecrets) bool {
		switch kind {
		case MasterKey:
			d.MasterKey = &Key{Name: MasterKeyName, Value: value}
		case SystemKey:
			d.SystemKeys = setKey(d.SystemKeys, name, value)
		default:
			d.FunctionKeys = setKey(d.FunctionKeys, name, value)
		}
		return true
	})
}

func setKey(keys []Key, name, value string) []Key {
	for i, k := range keys {
		if strings.EqualFold(k.Name, name) {
			keys[i] = Key{Name: k.Name, Value: value}
			return keys
		}
	}
	return append(keys, Key{Name: name, Value: value})
}

func (s *Store) updateFunctionLocked(ctx context.Context, function string, change func(*FunctionSecrets)) error {
	lf := strings.ToLower(function)
	for range 10 {
		cur, err := s.functionLocked(ctx, function, true)
		if err != nil {
			return err
		}
		d := *cur
		d.Keys = slices.Clone(cur.Keys)
		change(&d)
		etag, err := writeDoc(ctx, s.st, s.FunctionBlob(function), &d, driver.Cond{IfMatch: s.funcs[lf].etag})
		if errors.Is(err, driver.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.funcs[lf] = &cached[FunctionSecrets]{doc: &d, etag: etag, at: s.o.Clock.Now(), digests: s.digests(s.functionKeys(function, &d))}
		return nil
	}
	return fmt.Errorf("host keys: %s kept changing under concurrent writers: %w", s.FunctionBlob(function), driver.ErrConflict)
}

// Entry is one key as List reports it.
type Entry struct {
	Scope string // "host" or "function <name>"
	Kind  string // "master", "system", "function"
	Name  string
	Value string
	From  string // the blob, or the setting that overrides it
}

// List returns the host's keys and, when function is not "", that function's (creating the
// documents as the host would).
func (s *Store) List(ctx context.Context, function string) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	doc, err := s.hostLocked(ctx, true)
	if err != nil {
		return nil, err
	}
	var out []Entry
	add := func(scope, kind string, k Key, blob, setting string) {
		e := Entry{Scope: scope, Kind: kind, Name: k.Name, Value: k.Value, From: blob}
		if v, ok := s.setting(setting); ok {
			e.Value, e.From = v, "setting "+setting
		}
		if k.Encrypted && e.From == blob {
			e.Value = "(encrypted by the Functions host; not usable here)"
		}
		out = append(out, e)
	}
	hb := s.HostBlob()
	for _, m := range s.hostKeys(doc) {
		add("host", m.kind, m.key, hb, m.setting)
	}
	if function != "" {
		fd, err := s.functionLocked(ctx, function, true)
		if err != nil {
			return nil, err
		}
		for _, m := range s.functionKeys(function, fd) {
			add("function "+function, "function", m.key, s.FunctionBlob(function), m.setting)
		}
	}
	return out, nil
}

// candidate is one key Match compares with.
type candidate struct {
	key     Key
	kind    string // master, system, function
	setting string // the setting that overrides it
}

// hostKeys returns the host's keys in Functions' match order (master, system, function), with
// the settings' extra keys.
func (s *Store) hostKeys(doc *HostSecrets) []candidate {
	var out []candidate
	if doc.MasterKey != nil {
		out = append(out, candidate{*doc.MasterKey, "master", "host.master"})
	} else if _, ok := s.setting("host.master"); ok {
		out = append(out, candidate{Key{Name: MasterKeyName}, "master", "host.master"})
	}
	out = append(out, s.withSettings(doc.SystemKeys, "system", "host.systemKey.")...)
	out = append(out, s.withSettings(doc.FunctionKeys, "function", "host.function.")...)
	return out
}

func (s *Store) functionKeys(function string, doc *FunctionSecrets) []candidate {
	return s.withSettings(doc.Keys, "function", "functions."+function+".")
}

// withSettings lists stored keys followed by the settings prefix<name> naming no stored key.
func (s *Store) withSettings(keys []Key, kind, prefix string) []candidate {
	out := make([]candidate, 0, len(keys))
	for _, k := range keys {
		out = append(out, candidate{k, kind, prefix + k.Name})
	}
	if s.o.Settings == nil {
		return out
	}
	np := connection.NormalizeKey(prefix)
	np2 := connection.NormalizeKey(strings.ReplaceAll(prefix, ".", "__"))
	for _, st := range s.o.Settings.All() {
		nk := connection.NormalizeKey(st.Key)
		var name string
		switch {
		case strings.HasPrefix(nk, np):
			name = st.Key[len(st.Key)-(len(nk)-len(np)):]
		case strings.HasPrefix(nk, np2):
			name = st.Key[len(st.Key)-(len(nk)-len(np2)):]
		default:
			continue
		}
		if name == "" || strings.ContainsAny(name, ".:") || strings.TrimSpace(st.Value) == "" {
			continue
		}
		if _, ok := findKey(keys, name); !ok && !slices.ContainsFunc(out, func(c candidate) bool { return strings.EqualFold(c.key.Name, name) }) {
			out = append(out, candidate{Key{Name: name}, kind, prefix + name})
		}
	}
	return out
}

// setting returns the override of a key (name like "host.master"), in either spelling.
func (s *Store) setting(name string) (string, bool) {
	if s.o.Settings == nil {
		return "", false
	}
	for _, k := range []string{name, strings.ReplaceAll(name, ".", "__")} {
		if v, ok := s.o.Settings.Get(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Match is what a presented key is.
type Match struct {
	Level driver.AuthLevel // AuthAdmin (master), AuthSystem, AuthFunction; AuthAnonymous for none
	Name  string           // the key's name
}

// Match returns what presented is for a request to function ("" for a route of no function):
// in Functions' order, the master key (admin), a system key, a host function key, a key of the
// function; Level AuthAnonymous when it is none of them. Every key is compared, in constant time.
func (s *Store) Match(ctx context.Context, presented, function string) (Match, error) {
	s.mu.Lock()
	_, err := s.hostLocked(ctx, false)
	if err != nil {
		s.mu.Unlock()
		return Match{}, err
	}
	hc := s.host.digests
	var fc []digest
	if function != "" {
		if _, err := s.functionLocked(ctx, function, false); err != nil {
			s.mu.Unlock()
			return Match{}, err
		}
		fc = s.funcs[strings.ToLower(function)].digests
	}
	s.mu.Unlock()
	if presented == "" {
		return Match{Level: driver.AuthAnonymous}, nil
	}
	p := sha256.Sum256([]byte(presented))
	var hit *digest
	for _, list := range [2][]digest{hc, fc} {
		for i := range list {
			d := &list[i]
			if subtle.ConstantTimeCompare(p[:], d.sum[:]) == 1 && hit == nil {
				hit = d
			}
		}
	}
	if hit == nil {
		return Match{Level: driver.AuthAnonymous}, nil
	}
	return hit.m, nil
}

// digest is a usable key, as Match compares it.
type digest struct {
	sum [sha256.Size]byte
	m   Match
}

// digests resolves candidates (settings override stored values; encrypted keys are unusable).
func (s *Store) digests(cands []candidate) []digest {
	out := make([]digest, 0, len(cands))
	for _, c := range cands {
		v := c.key.Value
		if o, ok := s.setting(c.setting); ok {
			v = o
		} else if c.key.Encrypted {
			s.warn.Do(func() {
				s.o.Logger.Warn("host keys: some keys are encrypted with the Functions host's data-protection key and cannot be used here; set them again with `azbind keys set`", slog.String("blob", s.HostBlob()))
			})
			continue
		}
		if v == "" {
			continue
		}
		m := Match{Level: driver.AuthFunction, Name: c.key.Name}
		switch c.kind {
		case "master":
			m = Match{Level: driver.AuthAdmin, Name: MasterKeyName}
		case "system":
			m.Level = driver.AuthSystem
		}
		out = append(out, digest{sum: sha256.Sum256([]byte(v)), m: m})
	}
	return out
}

// Admits reports whether m admits a route of level need, whose system key is systemKey (for
// AuthSystem): the master key admits everything; a system key admits its own AuthSystem routes and
// every AuthFunction route; a host or function key admits AuthFunction (and AuthUser) routes.
func (m Match) Admits(need driver.AuthLevel, systemKey string) bool {
	switch need {
	case driver.AuthAnonymous:
		return true
	case driver.AuthAdmin:
		return m.Level == driver.AuthAdmin
	case driver.AuthSystem:
		return m.Level == driver.AuthAdmin || (m.Level == driver.AuthSystem && systemKey != "" && strings.EqualFold(m.Name, systemKey))
	}
	return m.Level == driver.AuthAdmin || m.Level == driver.AuthSystem || m.Level == driver.AuthFunction
}

func readDoc[T any](ctx context.Context, st driver.HostStorage, name string) (*T, string, error) {
	rec, err := st.Get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	var doc T
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		return nil, "", fmt.Errorf("host keys: %s is not a secrets document (%v); fix it or delete it to have new keys generated: %w", name, errors.Unwrap(err), ErrCorrupt)
	}
	return &doc, rec.ETag, nil
}

func writeDoc(ctx context.Context, st driver.HostStorage, name string, doc any, cond driver.Cond) (string, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("host keys: encode %s: %w", name, err)
	}
	etag, err := st.Put(ctx, name, driver.Record{Data: b}, cond)
	if err != nil {
		return "", fmt.Errorf("host keys: write %s: %w", name, err)
	}
	return etag, nil
}
