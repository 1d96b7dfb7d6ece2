package hostkeys_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"sync"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hostkeys"
)

// The format secret scanners look for (microsoft/security-utilities SEC101/158
// AzureFunctionIdentifiableKey): 44 URL-safe base64 characters, "AzFu", 5 more, one of
// [AQgw], "==".
var functionsKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{44}AzFu[A-Za-z0-9_\-]{5}[AQgw]==$`)

func TestGenerateMatchesSecretGenerator(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range []hostkeys.Kind{hostkeys.MasterKey, hostkeys.SystemKey, hostkeys.FunctionKey} {
		for range 200 {
			v, err := hostkeys.Generate(k)
			if err != nil {
				t.Fatal(err)
			}
			if !functionsKeyPattern.MatchString(v) || seen[v] {
				t.Fatalf("kind %d: key of length %d does not have the Functions format (or repeats)", k, len(v))
			}
			seen[v] = true
			if !hostkeys.Valid(v, k) {
				t.Fatalf("kind %d: checksum does not validate", k)
			}
			// The checksum seed is per kind, as SecretGenerator's.
			other := (k + 1) % 3
			if hostkeys.Valid(v, other) {
				t.Fatalf("kind %d key validates as kind %d", k, other)
			}
		}
	}
}

// Marvin32 test vectors of the .NET runtime (MarvinTests, seed 0x004FB61A001BDBCC): the 64-bit
// hashes of "af" and "e70f" collapsed to 32 bits as ComputeHash32 does.
func TestMarvinVectors(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{{"af", 0x48E73FC77D75DDC1}, {"e70f", 0xB5F6E1FC485DBFF8}} {
		b, _ := hex.DecodeString(c.in)
		got := hostkeys.Marvin32ForTest(b, 0x004FB61A001BDBCC)
		if want := int32(uint32(c.want>>32) ^ uint32(c.want)); got != want {
			t.Errorf("marvin32(%s) = %x, want %x", c.in, got, want)
		}
	}
}

func docOf(t *testing.T, st driver.HostStorage, key string) map[string]json.RawMessage {
	t.Helper()
	rec, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Blob names and shapes as Functions' (ScriptSecrets: HostSecrets, FunctionSecrets).
func TestShapesAsFunctions(t *testing.T) {
	st := extension.NewMemoryStorage()
	s := hostkeys.New(st, "MyHost", hostkeys.Options{HostName: "localhost:7071", InstanceID: "i1"})
	ctx := context.Background()
	if _, err := s.Host(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Function(ctx, "HttpTrigger1"); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureSystemKey(ctx, "eventgrid_extension"); err != nil {
		t.Fatal(err)
	}
	h := docOf(t, st, "myhost/host.json")
	for _, m := range []string{"masterKey", "functionKeys", "systemKeys", "hostName", "instanceId", "source", "decryptionKeyId"} {
		if _, ok := h[m]; !ok {
			t.Errorf("host.json lacks %s", m)
		}
	}
	var mk hostkeys.Key
	json.Unmarshal(h["masterKey"], &mk)
	if mk.Name != "master" || mk.Encrypted || !hostkeys.Valid(mk.Value, hostkeys.MasterKey) {
		t.Errorf("masterKey = name %q encrypted %v valid %v", mk.Name, mk.Encrypted, hostkeys.Valid(mk.Value, hostkeys.MasterKey))
	}
	var fks, sks []hostkeys.Key
	json.Unmarshal(h["functionKeys"], &fks)
	json.Unmarshal(h["systemKeys"], &sks)
	if len(fks) != 1 || fks[0].Name != "default" || !hostkeys.Valid(fks[0].Value, hostkeys.FunctionKey) {
		t.Errorf("functionKeys = %d keys, first %q", len(fks), fks[0].Name)
	}
	if len(sks) != 1 || sks[0].Name != "eventgrid_extension" || !hostkeys.Valid(sks[0].Value, hostkeys.SystemKey) {
		t.Errorf("systemKeys: %d keys", len(sks))
	}
	var src string
	json.Unmarshal(h["source"], &src)
	if src != "runtime" {
		t.Errorf("source = %q", src)
	}
	f := docOf(t, st, "myhost/httptrigger1.json")
	var keys []hostkeys.Key
	json.Unmarshal(f["keys"], &keys)
	if len(keys) != 1 || keys[0].Name != "default" || !hostkeys.Valid(keys[0].Value, hostkeys.FunctionKey) {
		t.Errorf("function keys: %d", len(keys))
	}
}

func value(t *testing.T, s *hostkeys.Store, function, kind, name string) string {
	t.Helper()
	es, err := s.List(context.Background(), function)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Kind == kind && e.Name == name && (function == "" || e.Scope != "host" || kind != "function") {
			if kind == "function" && function != "" && e.Scope == "host" {
				continue
			}
			return e.Value
		}
	}
	t.Fatalf("no %s key %q", kind, name)
	return ""
}

// Match order and levels ([FH] Security: master ⇒ admin, system keys ⇒ system, host function
// keys ⇒ function, the function's keys ⇒ function, only for that function).
func TestMatchLevels(t *testing.T) {
	st := extension.NewMemoryStorage()
	s := hostkeys.New(st, "h", hostkeys.Options{})
	ctx := context.Background()
	if err := s.EnsureSystemKey(ctx, "blobs_extension"); err != nil {
		t.Fatal(err)
	}
	master := value(t, s, "", "master", "master")
	system := value(t, s, "", "system", "blobs_extension")
	host := value(t, s, "", "function", "default")
	fn := value(t, s, "F", "function", "default")
	for _, c := range []struct {
		key, function string
		want          driver.AuthLevel
		name          string
	}{
		{master, "", driver.AuthAdmin, "master"},
		{system, "", driver.AuthSystem, "blobs_extension"},
		{host, "F", driver.AuthFunction, "default"},
		{fn, "F", driver.AuthFunction, "default"},
		{fn, "G", driver.AuthAnonymous, ""}, // F's key is not G's
		{fn, "", driver.AuthAnonymous, ""},
		{"wrong", "F", driver.AuthAnonymous, ""},
		{"", "F", driver.AuthAnonymous, ""},
	} {
		m, err := s.Match(ctx, c.key, c.function)
		if err != nil {
			t.Fatal(err)
		}
		if m.Level != c.want || m.Name != c.name {
			t.Errorf("match for %s key of %q = %v %q, want %v %q", c.name, c.function, m.Level, m.Name, c.want, c.name)
		}
	}
	sysM, _ := s.Match(ctx, system, "")
	if !sysM.Admits(driver.AuthSystem, "blobs_extension") || sysM.Admits(driver.AuthSystem, "eventgrid_extension") || sysM.Admits(driver.AuthAdmin, "") || !sysM.Admits(driver.AuthFunction, "") {
		t.Error("a system key admits its own system routes and function routes only")
	}
	fnM, _ := s.Match(ctx, host, "F")
	if fnM.Admits(driver.AuthSystem, "blobs_extension") || fnM.Admits(driver.AuthAdmin, "") || !fnM.Admits(driver.AuthFunction, "") {
		t.Error("a function key admits function routes only")
	}
}

// Settings override keys (Functions' Kubernetes secret names) and add new ones.
func TestSettingsOverride(t *testing.T) {
	settings := connection.NewSettings(connection.FromMap("t", map[string]string{
		"host__master":                       "m-from-setting",
		"host.systemKey.eventgrid_extension": "eg-from-setting",
		"host.function.ci":                   "ci-from-setting",
		"functions__F__deploy":               "f-from-setting",
	}))
	st := extension.NewMemoryStorage()
	s := hostkeys.New(st, "h", hostkeys.Options{Settings: settings})
	ctx := context.Background()
	stored := value(t, hostkeys.New(st, "h", hostkeys.Options{}), "", "master", "master")
	for key, want := range map[string]driver.AuthLevel{"m-from-setting": driver.AuthAdmin, "eg-from-setting": driver.AuthSystem, "ci-from-setting": driver.AuthFunction, "f-from-setting": driver.AuthFunction, stored: driver.AuthAnonymous} {
		m, err := s.Match(ctx, key, "F")
		if err != nil {
			t.Fatal(err)
		}
		if m.Level != want {
			t.Errorf("level = %v, want %v", m.Level, want)
		}
	}
	// EnsureSystemKey writes nothing for a key a setting holds.
	if err := s.EnsureSystemKey(ctx, "eventgrid_extension"); err != nil {
		t.Fatal(err)
	}
	var sks []hostkeys.Key
	json.Unmarshal(docOf(t, st, "h/host.json")["systemKeys"], &sks)
	if len(sks) != 0 {
		t.Errorf("systemKeys = %v, want none stored", len(sks))
	}
}

// Hosts sharing the storage agree on one set of keys, and unknown members of the document
// (written by a newer Functions host) survive an update.
func TestConcurrentHostsAgree(t *testing.T) {
	st := extension.NewMemoryStorage()
	ctx := context.Background()
	var wg sync.WaitGroup
	vals := make([]string, 8)
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := hostkeys.New(st, "h", hostkeys.Options{})
			if err := s.EnsureSystemKey(ctx, "eventgrid_extension"); err != nil {
				t.Error(err)
				return
			}
			if err := s.EnsureSystemKey(ctx, "blobs_extension"); err != nil {
				t.Error(err)
				return
			}
			vals[i] = value(t, s, "", "master", "master") + value(t, s, "", "system", "eventgrid_extension") + value(t, s, "", "system", "blobs_extension")
		}()
	}
	wg.Wait()
	for _, v := range vals[1:] {
		if v != vals[0] {
			t.Fatal("hosts on one storage disagree on their keys")
		}
	}
}

// The keys azbind kept before (secrets/<hostid>/host.json of the host storage) are carried over.
func TestLegacySystemKeysCarriedOver(t *testing.T) {
	legacy := extension.NewMemoryStorage()
	legacy.Put(context.Background(), "secrets/h/host.json", driver.Record{Data: []byte(`{"systemKeys":[{"name":"eventgrid_extension","value":"old-key","encrypted":false}],"source":"runtime"}`)}, driver.Cond{})
	s := hostkeys.New(extension.NewMemoryStorage(), "h", hostkeys.Options{Legacy: legacy})
	m, err := s.Match(context.Background(), "old-key", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Level != driver.AuthSystem || m.Name != "eventgrid_extension" {
		t.Fatalf("legacy key = %v %q", m.Level, m.Name)
	}
}

// Set and a new store on the same storage (the CLI, then the host) see the same keys.
func TestSetRoundTrip(t *testing.T) {
	st := extension.NewMemoryStorage()
	ctx := context.Background()
	cli := hostkeys.New(st, "h", hostkeys.Options{})
	if _, err := cli.Set(ctx, "", "ci", "ci-value-1"); err != nil {
		t.Fatal(err)
	}
	gen, err := cli.Set(ctx, "F", "deploy", "")
	if err != nil || !hostkeys.Valid(gen, hostkeys.FunctionKey) {
		t.Fatalf("generated %v", err)
	}
	if _, err := cli.Set(ctx, "", "master", "new-master"); err != nil {
		t.Fatal(err)
	}
	host := hostkeys.New(st, "h", hostkeys.Options{})
	for key, want := range map[string]driver.AuthLevel{"ci-value-1": driver.AuthFunction, gen: driver.AuthFunction, "new-master": driver.AuthAdmin} {
		m, _ := host.Match(ctx, key, "F")
		if m.Level != want {
			t.Errorf("level %v, want %v", m.Level, want)
		}
	}
}
