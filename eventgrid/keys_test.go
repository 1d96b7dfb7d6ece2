package eventgrid_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

func readSecrets(t *testing.T, st driver.HostStorage, hostID string) map[string]json.RawMessage {
	t.Helper()
	rec, err := st.Get(context.Background(), secretsKey(hostID))
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

// With only the memory storage the host fell back to, and no key setting, the trigger does not
// start (its route is refused when it mounts): the error names both ways out. (Key generation,
// concurrency, encrypted keys: internal/hostkeys.)
func TestSystemKeyNeedsSettingOrDurableStorage(t *testing.T) {
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "volatile"})
	if err != nil {
		t.Fatal(err)
	}
	h.Func("Fn", extension.Action(func(ctx context.Context, s string) error { return nil }), eventgrid.Trigger("ev"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = h.Run(ctx)
	if !errors.Is(err, driver.ErrInvalidConfig) {
		t.Fatalf("Run: %v", err)
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
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(runCtx) }()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	waitUntil(t, func() bool {
		return doRequest(t, http.MethodPost, srv.URL+"/runtime/webhooks/eventgrid?functionName=Fn&code=k", map[string]string{"aeg-event-type": "Unsubscribe"}, "").code == http.StatusAccepted
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run with the key setting: %v", err)
	}
}

// waitUntil polls cond until it holds (10 s at most).
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
