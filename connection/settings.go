package connection

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/azbind/azbind/internal/jsonc"
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

// FileError is a problem in a settings file: the file (as given), the field ("Values.A", or ""
// for the whole file), the problem and its fix, so that callers can print one
// "file: field: problem: fix" line.
type FileError struct {
	File, Field, Problem, Fix string
}

func (e *FileError) Error() string {
	s := e.File + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Problem + ": " + e.Fix
}

func fileErr(file, field, problem, fix string) error {
	return &FileError{File: file, Field: field, Problem: problem, Fix: fix}
}

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

// ParseLocalSettings parses local.settings.json content; path is used in errors only. The file
// is read as Core Tools reads it (Json.NET): a UTF-8 BOM, comments, trailing commas and
// single-quoted strings are accepted, and a Values or ConnectionStrings entry holding a number or
// a boolean is read as its JSON text ("BatchSize": 8 is "8"; true is "true", where .NET would
// write "True"). A null entry is left out; an object or array is an error naming the key.
func ParseLocalSettings(path string, data []byte) (Source, error) {
	var raw struct {
		IsEncrypted       json.RawMessage            `json:"IsEncrypted"`
		Values            map[string]json.RawMessage `json:"Values"`
		ConnectionStrings map[string]json.RawMessage `json:"ConnectionStrings"`
		Host              map[string]any             `json:"Host"`
	}
	if err := jsonc.Unmarshal(data, &raw); err != nil {
		if errors.Is(err, jsonc.ErrEmpty) {
			return Source{}, fileErr(path, "", "the file is empty", `write {"IsEncrypted": false, "Values": {}} or delete it`)
		}
		return Source{}, fileErr(path, "", jsonErrorText(err), `fix the syntax (Values and ConnectionStrings are objects of "name": "value")`)
	}
	var ls LocalSettings
	switch v := strings.TrimSpace(string(raw.IsEncrypted)); strings.ToLower(v) {
	case "", "null", "false", `"false"`:
	case "true", `"true"`:
		ls.IsEncrypted = true
	default:
		return Source{}, fileErr(path, "IsEncrypted", "must be true or false, got "+jsonKindOf(raw.IsEncrypted), `set "IsEncrypted": false`)
	}
	var err error
	if ls.Values, err = settingTexts(path, "Values", raw.Values); err != nil {
		return Source{}, err
	}
	if ls.ConnectionStrings, err = settingTexts(path, "ConnectionStrings", raw.ConnectionStrings); err != nil {
		return Source{}, err
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

// settingTexts turns the entries of a Values or ConnectionStrings object into text: strings as
// they are, numbers and booleans as written; null entries are dropped.
func settingTexts(path, section string, m map[string]json.RawMessage) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		t := strings.TrimSpace(string(v))
		switch {
		case t == "null":
			continue
		case strings.HasPrefix(t, `"`):
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fileErr(path, section+"."+quoteKey(k), "not a valid string", "fix the value")
			}
			out[k] = s
		case t == "true" || t == "false" || strings.IndexFunc(t, func(r rune) bool { return !strings.ContainsRune("0123456789+-.eE", r) }) < 0:
			out[k] = t
		default:
			return nil, fileErr(path, section+"."+quoteKey(k), "holds "+jsonKindOf(v)+", but settings are text", "write the value as a string")
		}
	}
	return out, nil
}

// quoteKey shows a key safely on one line: printable keys as they are, others quoted with
// escapes (a NUL or a line break in a key is never printed raw).
func quoteKey(k string) string {
	for _, r := range k {
		if !unicode.IsPrint(r) || r == '"' {
			return strconv.Quote(k)
		}
	}
	return k
}

func jsonKindOf(v json.RawMessage) string {
	t := strings.TrimSpace(string(v))
	switch {
	case strings.HasPrefix(t, "{"):
		return "an object"
	case strings.HasPrefix(t, "["):
		return "an array"
	case strings.HasPrefix(t, `"`):
		return "a string"
	case t == "true" || t == "false":
		return "a boolean"
	case t == "null":
		return "null"
	}
	return "a number"
}

// jsonErrorText describes a JSON error without quoting the document's content.
func jsonErrorText(err error) string {
	var se *jsonc.SyntaxError
	if errors.As(err, &se) {
		return se.Error()
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s: holds a JSON %s where %s is expected", quoteKey(field), te.Value, jsonTypeName(te.Type.Kind().String()))
	}
	return "not valid JSON"
}

func jsonTypeName(kind string) string {
	switch kind {
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + kind
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
