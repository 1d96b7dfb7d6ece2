package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
)

// The Functions key format (SecretGenerator: 40 bytes, URL-safe base64, "AzFu" signature).
var keyFormat = regexp.MustCompile(`^[A-Za-z0-9_\-]{44}AzFu[A-Za-z0-9_\-]{5}[AQgw]==$`)

// Against Azurite: the CLI creates the keys where Functions keeps them (azure-webjobs-secrets,
// <hostid>/host.json and <hostid>/<function>.json, Functions' shapes), shows values only with
// --show, sets and generates keys, and a host of the app accepts exactly those keys.
func TestKeysRoundTrip(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	dir := t.TempDir()
	w := appWriter(t, dir)
	w("host.json", `{"version": "2.0"}`)
	w("Manual/function.json", `{"bindings": [{"type": "manualTrigger", "direction": "in", "name": "input"}]}`)
	w("local.settings.json", `{"IsEncrypted": false, "Values": {"AzureFunctionsWebHost__hostid": "keyscli", "AzureWebJobsStorage": "`+az.ConnectionString+`"}}`)

	code, hidden, errs := runCmd(t, "keys", "list", dir)
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errs)
	}
	code, shown, _ := runCmd(t, "keys", "list", "--show", dir)
	if code != 0 {
		t.Fatalf("list --show: exit %d", code)
	}
	values := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(shown), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("list --show line %q", line)
		}
		values[f[1]+"/"+f[2]] = f[len(f)-1]
	}
	master := values["master/master"]
	if !keyFormat.MatchString(master) || !keyFormat.MatchString(values["function/default"]) {
		t.Fatalf("keys not in the Functions format: %v", len(values))
	}
	if strings.Contains(hidden, master) || strings.Contains(hidden, values["function/default"]) || strings.Contains(errs, master) {
		t.Fatal("list without --show prints a key value")
	}

	if code, _, errs := runCmd(t, "keys", "set", dir, "--function", "Manual", "--name", "deploy", "--value", "deploy-key-0123456789"); code != 0 {
		t.Fatalf("set: exit %d: %s", code, errs)
	}
	code, gen, errs := runCmd(t, "keys", "new", dir, "--name", "ci", "--show")
	gen = strings.TrimSpace(gen)
	if code != 0 || !keyFormat.MatchString(gen) {
		t.Fatalf("new: exit %d (%s), key in the Functions format: %v", code, errs, keyFormat.MatchString(gen))
	}
	if _, out, _ := runCmd(t, "keys", "new", dir, "--name", "quiet"); strings.TrimSpace(out) != "" {
		t.Fatal("new without --show prints the key")
	}
	if code, _, _ := runCmd(t, "keys", "set", dir, "--name", "x"); code != 2 {
		t.Fatalf("set without --value: exit %d, want 2", code)
	}
	_, fn, _ := runCmd(t, "keys", "list", dir, "--function", "Manual", "--show")
	if !strings.Contains(fn, "deploy-key-0123456789") || !strings.Contains(fn, gen) {
		t.Fatalf("list --function does not show the keys set")
	}

	// The blobs, as Functions keeps them.
	bc, err := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) map[string]json.RawMessage {
		t.Helper()
		resp, err := bc.DownloadStream(context.Background(), "azure-webjobs-secrets", name, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	host := read("keyscli/host.json")
	for _, m := range []string{"masterKey", "functionKeys", "systemKeys", "hostName", "instanceId", "source", "decryptionKeyId"} {
		if _, ok := host[m]; !ok {
			t.Errorf("host.json lacks %s", m)
		}
	}
	var mk struct {
		Name      string `json:"name"`
		Value     string `json:"value"`
		Encrypted bool   `json:"encrypted"`
	}
	json.Unmarshal(host["masterKey"], &mk)
	if mk.Name != "master" || mk.Value != master || mk.Encrypted {
		t.Errorf("masterKey: name %q, encrypted %v, same value %v", mk.Name, mk.Encrypted, mk.Value == master)
	}
	var keys []struct{ Name, Value string }
	json.Unmarshal(read("keyscli/manual.json")["keys"], &keys)
	if len(keys) != 2 || keys[0].Name != "default" || keys[1].Name != "deploy" || keys[1].Value != "deploy-key-0123456789" {
		t.Errorf("manual.json keys: %d", len(keys))
	}

	// A host of the app accepts the keys the CLI printed and set.
	h, err := extension.NewHost(extension.HostOptions{Logger: slog.New(slog.DiscardHandler), HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	h.Handle("Manual", extension.Action(func(_ context.Context, s string) error { got <- s; return nil }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for h.Addr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("host not listening")
		}
		time.Sleep(10 * time.Millisecond)
	}
	status := func(key string) int {
		req, _ := http.NewRequest("GET", "http://"+h.Addr()+"/admin/host/status", nil)
		req.Header.Set("x-functions-key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := status(master); c != 200 {
		t.Fatalf("the host refuses the master key the CLI printed: %d", c)
	}
	if c := status(gen); c != 401 {
		t.Fatalf("a host function key reaches an admin route: %d", c)
	}
	req, _ := http.NewRequest("POST", "http://"+h.Addr()+"/admin/functions/Manual?code="+master, strings.NewReader(`{"input": "by hand"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("invoke: %v %v", resp, err)
	}
	resp.Body.Close()
	select {
	case s := <-got:
		if s != "by hand" {
			t.Fatalf("input %q", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the manualTrigger function did not run")
	}
}
