package eventgrid_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
)

func readSecrets(t *testing.T, st driver.HostStorage, hostID string) map[string]json.RawMessage {
	t.Helper()
	rec, err := st.Get(context.Background(), eventgrid.SecretsKey(hostID))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func systemKeys(t *testing.T, doc map[string]json.RawMessage) map[string]string {
	t.Helper()
	var keys []struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		Encrypted bool   `json:"encrypted"`
	}
	if err := json.Unmarshal(doc["systemKeys"], &keys); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		if k.Encrypted {
			t.Fatalf("key %s stored encrypted", k.Name)
		}
		out[k.Name] = k.Value
	}
	return out
}

// Without the setting, the key is generated once, kept in host storage in the Functions host's
// secrets shape, and the next host on the same storage uses the same key.
func TestSystemKeyGeneratedAndKept(t *testing.T) {
	st := extension.NewMemoryStorage()
	declare := func(t *testing.T, h *extension.Host) {
		h.Func("Fn", extension.Action(func(ctx context.Context, s string) error { return nil }), eventgrid.Trigger("ev"))
	}
	th := startHost(t, hostConfig{noKey: true, storage: st, hostID: "keyhost", declare: declare})
	keys := systemKeys(t, readSecrets(t, st, "keyhost"))
	key := keys["eventgrid_extension"]
	if len(keys) != 1 || len(key) != 56 || strings.Contains(key, "+") || th.key != key {
		t.Fatalf("stored keys %d, key length %d (want one key of 40 random bytes in base64 without '+')", len(keys), len(key))
	}
	if r := th.post("Fn", "Notification", "[]"); r.code != 202 {
		t.Fatalf("with the generated key: %d", r.code)
	}
	th.key = testKey
	if r := th.post("Fn", "Notification", "[]"); r.code != 401 {
		t.Fatalf("with another key: %d", r.code)
	}
	th.key = key
	th.stop()

	th2 := startHost(t, hostConfig{noKey: true, storage: st, hostID: "keyhost", declare: declare})
	th2.key = key
	if r := th2.post("Fn", "Notification", "[]"); r.code != 202 {
		t.Fatalf("second host with the first host's key: %d", r.code)
	}
	if k := systemKeys(t, readSecrets(t, st, "keyhost")); len(k) != 1 || k["eventgrid_extension"] != key {
		t.Fatal("the second host changed the stored key")
	}
}

// A secrets document written by someone else keeps its other members; the key is added to it.
// Concurrent first uses on several hosts agree on one key.
func TestSystemKeyConcurrentAndPreserving(t *testing.T) {
	st := extension.NewMemoryStorage()
	ctx := context.Background()
	orig := `{"masterKey":{"name":"master","value":"m","encrypted":false},"functionKeys":[],"systemKeys":[{"name":"blobs_extension","value":"b","encrypted":false}],"hostName":"h","source":"runtime"}`
	if _, err := st.Put(ctx, eventgrid.SecretsKey("shared"), driver.Record{Data: []byte(orig)}, driver.Cond{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := testhost.Services(t, extension.HostOptions{Storage: st, HostID: "shared"})
			k, err := eventgrid.SystemKey(ctx, s, eventgrid.SystemKeyName)
			if err != nil {
				t.Error(err)
			}
			got[i] = k
		}()
	}
	wg.Wait()
	for _, k := range got[1:] {
		if k != got[0] || k == "" {
			t.Fatal("hosts starting together got different keys")
		}
	}
	doc := readSecrets(t, st, "shared")
	keys := systemKeys(t, doc)
	if keys["blobs_extension"] != "b" || keys["eventgrid_extension"] != got[0] || len(keys) != 2 {
		t.Fatalf("system keys after adding: %d keys", len(keys))
	}
	if string(doc["masterKey"]) != `{"name":"master","value":"m","encrypted":false}` || string(doc["hostName"]) != `"h"` {
		t.Fatal("other members of the secrets document were not kept")
	}
	// The other extension's key is served as stored.
	if k, err := eventgrid.SystemKey(ctx, testhost.Services(t, extension.HostOptions{Storage: st, HostID: "shared"}), "blobs_extension"); err != nil || k != "b" {
		t.Fatalf("blobs_extension: %v", err)
	}
}

func TestSystemKeyEncryptedIsAnError(t *testing.T) {
	st := extension.NewMemoryStorage()
	ctx := context.Background()
	doc := `{"systemKeys":[{"name":"eventgrid_extension","value":"CfDJ8AAAAA-secret-ciphertext","encrypted":true}]}`
	st.Put(ctx, eventgrid.SecretsKey("enc"), driver.Record{Data: []byte(doc)}, driver.Cond{})
	_, err := eventgrid.SystemKey(ctx, testhost.Services(t, extension.HostOptions{Storage: st, HostID: "enc"}), eventgrid.SystemKeyName)
	if err == nil || !strings.Contains(err.Error(), "host.systemKey.eventgrid_extension") || strings.Contains(err.Error(), "CfDJ8") {
		t.Fatalf("error %v: want one naming the setting to use, without the stored value", err)
	}
}

// With only the memory storage the host fell back to, and no key setting, the trigger does not
// load: the error names both ways out.
func TestSystemKeyNeedsSettingOrDurableStorage(t *testing.T) {
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "volatile"})
	if err != nil {
		t.Fatal(err)
	}
	h.Func("Fn", extension.Action(func(ctx context.Context, s string) error { return nil }), eventgrid.Trigger("ev"))
	err = h.Verify(context.Background())
	if !errors.Is(err, driver.ErrInvalidConfig) {
		t.Fatalf("Verify: %v", err)
	}
	for _, want := range []string{"host.systemKey.eventgrid_extension", "AzureWebJobsStorage"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %s", err, want)
		}
	}
	// The same host with the setting verifies.
	settings = connection.NewSettings(connection.FromMap("test", map[string]string{"host__systemKey__eventgrid_extension": "k"}))
	h, _ = extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "volatile"})
	h.Func("Fn", extension.Action(func(ctx context.Context, s string) error { return nil }), eventgrid.Trigger("ev"))
	if err := h.Verify(context.Background()); err != nil {
		t.Fatalf("Verify with the key setting: %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, err := eventgrid.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != 56 || strings.ContainsAny(k, "+ ") || seen[k] {
			t.Fatalf("bad or repeated key of length %d", len(k))
		}
		seen[k] = true
	}
}
