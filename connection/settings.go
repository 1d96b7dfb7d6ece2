package connection

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Setting is one app setting as found in a source.
type Setting struct {
	Key    string // as spelled in its source (e.g. "Storage1__blobServiceUri")
	Value  string
	Source string // "env", "local.settings.json", or a Source's name
}

// Source is one layer of settings. Build one with FromEnviron, FromMap or LoadLocalSettings.
type Source struct {
	name string
	kv   []Setting
}

// Name is the source's name as reported in Setting.Source ("env", "local.settings.json", ...).
func (s Source) Name() string { return s.name }

// FromEnviron is the process environment (pass os.Environ()); its name is "env".
func FromEnviron(environ []string) Source {
	src := Source{name: "env"}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		src.kv = append(src.kv, Setting{Key: k, Value: v, Source: src.name})
	}
	return src
}

// FromMap is an in-memory source, for tests and for embedding azbind in a host that keeps its own
// configuration.
func FromMap(name string, m map[string]string) Source {
	src := Source{name: name}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		src.kv = append(src.kv, Setting{Key: k, Value: m[k], Source: name})
	}
	return src
}

// ErrEncryptedSettings is returned for a local.settings.json with "IsEncrypted": true.
var ErrEncryptedSettings = errors.New("local.settings.json is encrypted")

// LocalSettings is the content of a local.settings.json file (checklist C68).
type LocalSettings struct {
	IsEncrypted       bool              `json:"IsEncrypted"`
	Values            map[string]string `json:"Values"`
	ConnectionStrings map[string]string `json:"ConnectionStrings"`
	Host              map[string]any    `json:"Host"`
}

// LoadLocalSettings reads a local.settings.json. Values become settings as they are (so `__` keys
// are hierarchical); ConnectionStrings become `ConnectionStrings:<name>`. The source is named
// "local.settings.json". A missing file is an error wrapping fs.ErrNotExist.
func LoadLocalSettings(path string) (Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Source{}, fmt.Errorf("%s: %w", path, err)
	}
	return ParseLocalSettings(path, data)
}

// ParseLocalSettings parses local.settings.json content; path is used in errors only.
func ParseLocalSettings(path string, data []byte) (Source, error) {
	var ls LocalSettings
	if err := json.Unmarshal(data, &ls); err != nil {
		return Source{}, fmt.Errorf("%s: not valid JSON for local.settings.json (%v): fix the syntax or the value types (Values and ConnectionStrings hold strings only)", path, jsonErrorText(err))
	}
	if ls.IsEncrypted {
		return Source{}, fmt.Errorf("%s: IsEncrypted: %w: run `func settings decrypt` or set \"IsEncrypted\": false with plain values", path, ErrEncryptedSettings)
	}
	src := FromMap("local.settings.json", ls.Values)
	names := make([]string, 0, len(ls.ConnectionStrings))
	for k := range ls.ConnectionStrings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		src.kv = append(src.kv, Setting{Key: "ConnectionStrings:" + k, Value: ls.ConnectionStrings[k], Source: src.name})
	}
	return src, nil
}

// jsonErrorText describes a JSON error without quoting the document's content.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q holds a JSON %s where a %s is expected", te.Field, te.Value, te.Type)
	}
	return "invalid JSON"
}

// Settings is a merged, read-only view of settings sources, as .NET configuration sees them: keys are
// case-insensitive and `__` and `:` are the same separator. The first source that defines a key
// wins (NewDefaultSettings puts the environment before local.settings.json). The zero value is empty.
type Settings struct {
	byKey map[string]Setting // normalized key -> setting
	keys  []string           // normalized keys, sorted
}

// NormalizeKey is the canonical form of a settings key: case-folded, `__` turned into `:`.
// Folding goes through upper case first, as .NET's OrdinalIgnoreCase compares upper-cased
// characters (so "ſ" matches "s").
func NormalizeKey(k string) string {
	return strings.ToLower(strings.ToUpper(strings.ReplaceAll(k, "__", ":")))
}

// NewSettings merges sources; earlier sources win.
func NewSettings(sources ...Source) *Settings {
	s := &Settings{byKey: map[string]Setting{}}
	for _, src := range sources {
		for _, kv := range src.kv {
			nk := NormalizeKey(kv.Key)
			if _, ok := s.byKey[nk]; ok {
				continue
			}
			s.byKey[nk] = kv
			s.keys = append(s.keys, nk)
		}
	}
	sort.Strings(s.keys)
	return s
}

// NewDefaultSettings is the environment followed by localSettingsPath when that file exists (an
// empty path skips it). The environment wins, as Core Tools exports Values into the environment
// without overwriting variables that are already set.
func NewDefaultSettings(localSettingsPath string) (*Settings, error) {
	sources := []Source{FromEnviron(os.Environ())}
	if localSettingsPath != "" {
		src, err := LoadLocalSettings(localSettingsPath)
		switch {
		case err == nil:
			sources = append(sources, src)
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, err
		}
	}
	return NewSettings(sources...), nil
}

// Lookup returns the setting with exactly this key (case-insensitive, `__` ≡ `:`).
func (s *Settings) Lookup(key string) (Setting, bool) {
	if s == nil {
		return Setting{}, false
	}
	kv, ok := s.byKey[NormalizeKey(key)]
	return kv, ok
}

// Get returns the value of key, and whether it exists.
func (s *Settings) Get(key string) (string, bool) {
	kv, ok := s.Lookup(key)
	return kv.Value, ok
}

// Children returns the settings below prefix (every key `prefix:<rest>`), keyed by the normalized
// remainder (e.g. "blobserviceuri" for prefix "Storage1" and key "Storage1__blobServiceUri").
func (s *Settings) Children(prefix string) map[string]Setting {
	if s == nil {
		return nil
	}
	p := NormalizeKey(prefix) + ":"
	i := sort.SearchStrings(s.keys, p)
	var out map[string]Setting
	for ; i < len(s.keys) && strings.HasPrefix(s.keys[i], p); i++ {
		if out == nil {
			out = map[string]Setting{}
		}
		out[s.keys[i][len(p):]] = s.byKey[s.keys[i]]
	}
	return out
}

// Exists reports what .NET's IConfigurationSection.Exists reports: the key has a value or children.
func (s *Settings) Exists(key string) bool {
	if _, ok := s.Lookup(key); ok {
		return true
	}
	return len(s.Children(key)) > 0
}

// All returns every setting in key order (normalized).
func (s *Settings) All() []Setting {
	if s == nil {
		return nil
	}
	out := make([]Setting, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, s.byKey[k])
	}
	return out
}
