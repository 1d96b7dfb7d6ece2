package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	commands["eventgrid"] = command{
		summary: "print the Event Grid webhook URL (with its key) of each function of an app folder",
		run:     runEventGrid,
	}
}

const eventGridUsage = `usage: azbind eventgrid url [--base URL] [--function NAME] APPDIR

Prints, for every eventGridTrigger function of the app folder APPDIR, the URL to give an Event
Grid subscription as its webhook endpoint:

  <base>/runtime/webhooks/eventgrid?functionName=<Name>&code=<eventgrid_extension key>

and for every blobTrigger function with "source": "EventGrid" the endpoint of a subscription to
the storage account's Microsoft.Storage.BlobCreated events:

  <base>/runtime/webhooks/blobs?functionName=Host.Functions.<Name>&code=<blobs_extension key>

The key is the host's system key eventgrid_extension (blobs_extension): the setting
host.systemKey.eventgrid_extension (host.systemKey.blobs_extension) when defined, else the key the
host keeps with its other keys (host.json systemKeys in the azure-webjobs-secrets container of
AzureWebJobsStorage; see azbind keys), generated now if the host has not generated it yet —
exactly the key a running host of this app accepts. Settings come from the environment and
APPDIR/local.settings.json (the environment wins). --base defaults to http://localhost:<port> of
AZBIND_HTTP_ADDR, else http://localhost:7071; give the public https address of the app when
Azure delivers. The URL holds a secret: keep it out of logs.
`

func runEventGrid(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "url" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, eventGridUsage)
			return 0
		}
		fmt.Fprint(stderr, eventGridUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind eventgrid url", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("base", "", "the app's base URL")
	function := fs.String("function", "", "only this function")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, eventGridUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind eventgrid url: %v\n%s", err, eventGridUsage)
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "azbind eventgrid url: expected exactly one APPDIR argument\n%s", eventGridUsage)
		return 2
	}
	dir := pos[0]
	app, err := extension.LoadAppDir(dir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "azbind eventgrid url: %v (run azbind validate %s)\n", connection.RedactError(err), dir)
		return 1
	}
	var hooks []webhookFn
	for _, f := range app.Functions {
		if *function != "" && f.Name != *function {
			continue
		}
		if h, ok := webhookOf(f); ok {
			hooks = append(hooks, h)
		}
	}
	sort.Slice(hooks, func(i, j int) bool { return hooks[i].name < hooks[j].name })
	if len(hooks) == 0 {
		if *function != "" {
			fmt.Fprintf(stderr, "azbind eventgrid url: %s has no eventGridTrigger function named %q (nor a blobTrigger with source EventGrid)\n", dir, *function)
		} else {
			fmt.Fprintf(stderr, "azbind eventgrid url: %s has no eventGridTrigger function (nor a blobTrigger with source EventGrid)\n", dir)
		}
		return 1
	}

	// The host as it would run: its id and its storage decide where the key is kept.
	h, err := extension.NewHost(extension.HostOptions{Settings: app.Settings, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = h.LoadAppDir(dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "azbind eventgrid url: %v\n", connection.RedactError(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.Verify(ctx); err != nil {
		if storageBroken(err) {
			// The host could not open its storage: any key printed now would not be the one a
			// running host reads from there.
			fmt.Fprintf(stderr, "azbind eventgrid url: %v\n", connection.RedactError(err))
			return 1
		}
		// Problems elsewhere in the app do not change the key; report them and go on.
		fmt.Fprintf(stderr, "azbind eventgrid url: warning: the app does not verify (run azbind validate %s): %v\n", dir, connection.RedactError(err))
	}
	h0 := h
	if h.Services().HostID == "" {
		fmt.Fprintln(stderr, "azbind eventgrid url: cannot determine the host id (set AzureFunctionsWebHost__hostid)")
		return 1
	}
	keys := map[string]string{}
	for _, h := range hooks {
		if _, ok := keys[h.keyName]; ok {
			continue
		}
		key, err := systemKey(ctx, h0, h.keyName)
		if err != nil {
			fmt.Fprintf(stderr, "azbind eventgrid url: %v\n", connection.RedactError(err))
			return 1
		}
		keys[h.keyName] = key
	}
	b := strings.TrimRight(*base, "/")
	if b == "" {
		b = "http://localhost:7071"
		if addr, ok := app.Settings.Get("AZBIND_HTTP_ADDR"); ok {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(addr)); err == nil && port != "" {
				b = "http://localhost:" + port
			}
		}
	}
	for _, h := range hooks {
		fmt.Fprintf(stdout, "%s %s%s%s?functionName=%s&code=%s\n", h.name, b, eventgrid.WebhookPrefix, h.extension, url.QueryEscape(h.functionName), url.QueryEscape(keys[h.keyName]))
	}
	return 0
}

// webhookFn is a function served on an extension webhook.
type webhookFn struct {
	name         string // the function's name
	extension    string // the webhook's segment: eventgrid, blobs
	functionName string // the functionName query value
	keyName      string // the system key callers present
}

// webhookOf reports the webhook of an eventGridTrigger function, or of a blobTrigger with source
// EventGrid (functionName is then the function id, Host.Functions.<Name>, as in Functions).
func webhookOf(f *extension.FunctionSpec) (webhookFn, bool) {
	tr := f.Trigger()
	switch {
	case tr == nil:
	case strings.EqualFold(tr.Type, "eventGridTrigger"):
		return webhookFn{f.Name, "eventgrid", f.Name, eventgrid.SystemKeyName}, true
	case strings.EqualFold(tr.Type, "blobTrigger"):
		if src, _ := tr.String("source"); strings.EqualFold(src, "EventGrid") {
			return webhookFn{f.Name, "blobs", "Host.Functions." + f.Name, "blobs_extension"}, true
		}
	}
	return webhookFn{}, false
}

// storageBroken reports whether err holds the host's failure to open AzureWebJobsStorage.
func storageBroken(err error) bool {
	var ce *driver.ConfigError
	if errors.As(err, &ce) && ce.Where == "setting AzureWebJobsStorage" {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if storageBroken(e) {
				return true
			}
		}
	case interface{ Unwrap() error }:
		if e := u.Unwrap(); e != nil {
			return storageBroken(e)
		}
	}
	return false
}
