package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

func init() {
	commands["connection"] = command{
		summary: "explain how a binding's connection setting resolves (resolve NAME)",
		run:     runConnection,
	}
}

// checkTransport, when set (by tests), is the HTTP transport used by --check and by credentials.
var checkTransport policy.Transporter

// connectionUsage is the usage text; the services --check supports come from the registry.
func connectionUsage() string {
	return fmt.Sprintf(connectionUsageFormat, strings.Join(checkServices(), ", "))
}

const connectionUsageFormat = `usage: azbind connection resolve NAME [--service blob|queue|table|cosmos|servicebus|eventhubs|eventgrid]
                                [--settings PATH/local.settings.json] [--json] [--check]

Resolves the binding connection NAME ("" = the service's default) the way Azure Functions does and
explains it: the keys tried in order, the key that matched and its source, the kind (connection
string or identity), the endpoint and the credential. Settings come from the environment and from
local.settings.json (default: ./local.settings.json if present); the environment wins.
Secrets are never printed. --check makes one authenticated call (e.g. get service properties)
with the client the connector's bindings use; it is supported for %s.
`

func runConnection(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "resolve" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, connectionUsage())
			return 0
		}
		fmt.Fprint(stderr, connectionUsage())
		return 2
	}
	fs := flag.NewFlagSet("azbind connection resolve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	svcFlag := fs.String("service", "blob", "service the connection is for")
	settingsPath := fs.String("settings", "", "path of local.settings.json")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	check := fs.Bool("check", false, "make one authenticated call to the service")
	// Flags may come before or after NAME.
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, connectionUsage())
			return 0
		}
		fmt.Fprintf(stderr, "azbind connection resolve: %v\n%s", err, connectionUsage())
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "azbind connection resolve: expected exactly one NAME (use \"\" for the service's default connection)\n%s", connectionUsage())
		return 2
	}
	name, svc := pos[0], connection.Service(strings.ToLower(*svcFlag))
	fail := func(msg string) int {
		msg = connection.ScrubText(strings.ReplaceAll(msg, "\n", " "))
		if *jsonOut {
			writeJSON(stdout, map[string]string{"error": msg})
		} else {
			fmt.Fprintln(stderr, "azbind: "+msg)
		}
		return 1
	}

	settings, err := loadSettings(*settingsPath)
	if err != nil {
		return fail(err.Error())
	}
	var opts connection.ResolverOptions
	if checkTransport != nil {
		opts.ClientOptions.Transport = checkTransport
	}
	r := connection.NewResolver(settings, &opts)
	ctx := context.Background()
	ex, err := r.Explain(ctx, name, svc)
	if err != nil {
		if !*jsonOut {
			printExplanation(stdout, ex)
		}
		return fail(err.Error())
	}
	c := ex.Connection
	var checkErr error
	checked := false
	if *check {
		checked = true
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		checkErr = summarizeCheckError(runCheck(cctx, c))
		cancel()
	}
	if *jsonOut {
		out := map[string]any{
			"name": c.Name, "service": c.Service, "source": c.Source, "key": c.Key, "kind": c.Kind,
			"endpoint": c.Endpoint, "credential": c.CredentialType, "tried": ex.Tried(),
		}
		for k, v := range map[string]string{"clientId": c.ClientID, "tenantId": c.TenantID, "resourceId": c.ResourceID,
			"objectId": c.ObjectID, "entityPath": c.EntityPath, "connectionString": c.Redacted()} {
			if v != "" {
				out[k] = v
			}
		}
		if len(ex.Notes) > 0 {
			out["notes"] = ex.Notes
		}
		if checked {
			if checkErr != nil {
				out["error"] = c.Scrub(checkErr.Error())
				out["check"] = "failed"
			} else {
				out["check"] = "ok"
			}
		}
		writeJSON(stdout, out)
		if checkErr != nil {
			return 1
		}
		return 0
	}
	printExplanation(stdout, ex)
	if checked {
		if checkErr != nil {
			return fail(fmt.Sprintf("connection %q (%s): --check failed: %s", c.Name, c.Service, c.Scrub(checkErr.Error())))
		}
		fmt.Fprintf(stdout, "check:      ok (authenticated call to %s succeeded)\n", c.Endpoint)
	}
	return 0
}

func loadSettings(path string) (*connection.Settings, error) {
	if path == "" {
		return connection.NewDefaultSettings("local.settings.json")
	}
	src, err := connection.LoadLocalSettings(path)
	if err != nil {
		return nil, fmt.Errorf("--settings: %w", err)
	}
	return connection.NewSettings(connection.FromEnviron(os.Environ()), src), nil
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func printExplanation(w io.Writer, ex *connection.Explanation) {
	if ex == nil {
		return
	}
	name := ex.Name
	if ex.Defaulted {
		name += " (the default for " + string(ex.Service) + ")"
	}
	fmt.Fprintf(w, "connection: %s\nservice:    %s\n", name, ex.Service)
	if len(ex.Steps) > 0 {
		fmt.Fprintln(w, "lookup (first key that exists wins):")
		for i, s := range ex.Steps {
			state := "not set"
			if s.Exists {
				switch {
				case s.HasValue:
					state = fmt.Sprintf("FOUND %s in %s (a value: connection string)", s.Matched, s.Source)
				case s.Children > 0:
					state = fmt.Sprintf("FOUND %s in %s (%d settings below it: identity connection)", s.Matched, s.Source, s.Children)
				default:
					state = fmt.Sprintf("FOUND %s in %s (empty)", s.Matched, s.Source)
				}
			}
			fmt.Fprintf(w, "  %d. %-45s %s\n", i+1, s.Key, state)
		}
	}
	if c := ex.Connection; c != nil {
		fmt.Fprintf(w, "kind:       %s\nendpoint:   %s\ncredential: %s\n", c.Kind, c.Endpoint, c.CredentialType)
		for _, kv := range []struct{ k, v string }{{"client id", c.ClientID}, {"tenant id", c.TenantID}, {"resource id", c.ResourceID}, {"object id", c.ObjectID}, {"entity", c.EntityPath}} {
			if kv.v != "" {
				fmt.Fprintf(w, "%-11s %s\n", kv.k+":", kv.v)
			}
		}
		if r := c.Redacted(); r != "" {
			fmt.Fprintf(w, "value:      %s\n", r)
		}
	}
	for _, n := range ex.Notes {
		fmt.Fprintf(w, "note:       %s\n", n)
	}
	if ex.Err != nil {
		var re *connection.ResolveError
		if errors.As(ex.Err, &re) {
			fmt.Fprintf(w, "problem:    %s\n", connection.ScrubText(re.Err.Error()))
			if re.Fix != "" {
				fmt.Fprintf(w, "fix:        %s\n", connection.ScrubText(re.Fix))
			}
		}
	}
}

// runCheck makes one cheap authenticated call through the Check hook of the connector whose
// bindings use c's service (driver.Extension.Check): the same client builder as its bindings.
func runCheck(ctx context.Context, c *connection.Connection) error {
	check, ok := driver.CheckFor(c.Service)
	if !ok {
		return fmt.Errorf("--check is not supported for %s yet", c.Service)
	}
	return check(ctx, c)
}

// checkServices lists, sorted, the services whose registered connector has a Check hook.
func checkServices() []string {
	seen := map[string]bool{}
	var out []string
	for _, typ := range driver.BindingTypes() {
		bt, ext, ok := driver.Lookup(typ)
		if !ok || bt.Service == "" || ext.Check == nil || seen[string(bt.Service)] {
			continue
		}
		seen[string(bt.Service)] = true
		out = append(out, string(bt.Service))
	}
	sort.Strings(out)
	return out
}

// summarizeCheckError shortens an SDK response error to one line: method, URL path, status and
// error code (the SDK's full text spans many lines and repeats the body).
func summarizeCheckError(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	where := ""
	if re.RawResponse != nil && re.RawResponse.Request != nil {
		u := re.RawResponse.Request.URL
		where = fmt.Sprintf("%s %s://%s%s: ", re.RawResponse.Request.Method, u.Scheme, u.Host, u.EscapedPath())
	}
	return fmt.Errorf("%sHTTP %d %s", where, re.StatusCode, re.ErrorCode)
}
