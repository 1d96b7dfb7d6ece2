package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
)

func writeEventGridApp(t *testing.T, values string) string {
	dir := t.TempDir()
	w := appWriter(t, dir)
	w("host.json", `{"version": "2.0"}`)
	w("OnEvent/function.json", `{"bindings": [{"type": "eventGridTrigger", "direction": "in", "name": "ev"}]}`)
	w("Other_Fn/function.json", `{"bindings": [{"type": "EventGridTrigger", "direction": "in", "name": "ev"}]}`)
	w("local.settings.json", `{"IsEncrypted": false, "Values": {`+values+`}}`)
	return dir
}

func TestEventGridURL(t *testing.T) {
	const key = "k+/=ey"
	dir := writeEventGridApp(t, `"AzureFunctionsWebHost__hostid": "egcli", "host.systemKey.eventgrid_extension": "`+key+`", "AZBIND_HTTP_ADDR": ":8088"`)
	code, out, errs := runCmd(t, "eventgrid", "url", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "OnEvent http://localhost:8088/runtime/webhooks/eventgrid?functionName=OnEvent&code=" + url.QueryEscape(key) + "\n" +
		"Other_Fn http://localhost:8088/runtime/webhooks/eventgrid?functionName=Other_Fn&code=" + url.QueryEscape(key) + "\n"
	if out != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
	code, out, _ = runCmd(t, "eventgrid", "url", "--base", "https://myapp.azurewebsites.net/", "--function", "OnEvent", dir)
	if code != 0 || out != "OnEvent https://myapp.azurewebsites.net/runtime/webhooks/eventgrid?functionName=OnEvent&code="+url.QueryEscape(key)+"\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	if code, _, errs := runCmd(t, "eventgrid", "url", "--function", "Nope", dir); code != 1 || !strings.Contains(errs, `no eventGridTrigger function named "Nope"`) {
		t.Fatalf("unknown function: exit %d %q", code, errs)
	}
}

// Without the key setting and without usable AzureWebJobsStorage there is no key a host would
// accept: nothing is printed.
func TestEventGridURLNeedsKeySource(t *testing.T) {
	t.Setenv("AzureWebJobsStorage", "")
	os.Unsetenv("AzureWebJobsStorage")
	dir := writeEventGridApp(t, `"AzureFunctionsWebHost__hostid": "egcli"`)
	code, out, errs := runCmd(t, "eventgrid", "url", dir)
	if code != 1 || out != "" || !strings.Contains(errs, "host.systemKey.eventgrid_extension") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// A storage setting that cannot be used is reported, not replaced by memory.
	t.Setenv("AzureWebJobsStorage", "")
	code, out, errs = runCmd(t, "eventgrid", "url", dir)
	if code != 1 || out != "" || !strings.Contains(errs, "AzureWebJobsStorage") {
		t.Fatalf("empty AzureWebJobsStorage: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestEventGridUsage(t *testing.T) {
	if code, _, errs := runCmd(t, "eventgrid"); code != 2 || !strings.Contains(errs, "usage: azbind eventgrid url") {
		t.Fatalf("exit %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "eventgrid", "url"); code != 2 {
		t.Fatalf("no APPDIR: exit %d", code)
	}
}

// End to end against Azurite: the CLI generates the key into the app's host storage, prints the
// same key again, and a host of the app accepts exactly that URL.
func TestEventGridURLWithHostStorage(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	dir := writeEventGridApp(t, `"AzureFunctionsWebHost__hostid": "egcli-e2e", "AzureWebJobsStorage": "`+az.ConnectionString+`"`)
	code, first, errs := runCmd(t, "eventgrid", "url", "--function", "OnEvent", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	_, second, _ := runCmd(t, "eventgrid", "url", "--function", "OnEvent", dir)
	if first != second || !strings.Contains(first, "&code=") {
		t.Fatalf("the key changed between runs or is missing:\n%s%s", first, second)
	}
	hookURL := strings.TrimSpace(strings.TrimPrefix(first, "OnEvent "))

	h, err := extension.NewHost(extension.HostOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LoadAppDir(dir); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	h.Handle("OnEvent", extension.Action(func(ctx context.Context, s string) error { got <- s; return nil }))
	h.Handle("Other_Fn", extension.Action(func(ctx context.Context, s string) error { return nil }))
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	u := srv.URL + strings.TrimPrefix(hookURL, "http://localhost:7071")
	body := `[{"id":"1","subject":"s","eventType":"T","eventTime":"2026-01-01T00:00:00Z","data":{},"dataVersion":"1"}]`
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("aeg-event-type", "Notification")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 202 {
				break
			}
			if resp.StatusCode == 401 {
				t.Fatal("the host refuses the key the CLI printed")
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook did not accept the delivery: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := <-got; !strings.Contains(s, `"id":"1"`) {
		t.Fatalf("handler got %q", s)
	}
}

// A blobTrigger with source EventGrid is served on the blobs webhook with its own key and the
// function id as functionName; a scanning blobTrigger has no webhook.
func TestEventGridURLBlobSource(t *testing.T) {
	const egKey, blobsKey = "eg-key", "blobs+key"
	dir := t.TempDir()
	w := appWriter(t, dir)
	w("host.json", `{"version": "2.0"}`)
	w("OnEvent/function.json", `{"bindings": [{"type": "eventGridTrigger", "direction": "in", "name": "ev"}]}`)
	w("Thumb/function.json", `{"bindings": [{"type": "blobTrigger", "direction": "in", "name": "b", "path": "images/{name}", "source": "EventGrid"}]}`)
	w("Scan/function.json", `{"bindings": [{"type": "blobTrigger", "direction": "in", "name": "b", "path": "images/{name}"}]}`)
	w("local.settings.json", `{"IsEncrypted": false, "Values": {"AzureFunctionsWebHost__hostid": "egcli", `+
		`"host.systemKey.eventgrid_extension": "`+egKey+`", "host.systemKey.blobs_extension": "`+blobsKey+`"}}`)
	code, out, errs := runCmd(t, "eventgrid", "url", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := "OnEvent http://localhost:7071/runtime/webhooks/eventgrid?functionName=OnEvent&code=" + url.QueryEscape(egKey) + "\n" +
		"Thumb http://localhost:7071/runtime/webhooks/blobs?functionName=Host.Functions.Thumb&code=" + url.QueryEscape(blobsKey) + "\n"
	if out != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
	if code, _, errs := runCmd(t, "eventgrid", "url", "--function", "Scan", dir); code != 1 || !strings.Contains(errs, `no eventGridTrigger function named "Scan"`) {
		t.Fatalf("scanning blob trigger: exit %d %q", code, errs)
	}
}
