package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/hostkeys"
)

func init() {
	commands["keys"] = command{
		summary: "list, set or generate the Functions keys (master, host, function, system) of an app folder",
		run:     runKeys,
	}
}

const keysUsage = `usage: azbind keys list|set|new APPDIR [--function F] [--name N] [--value V] [--show]

The host's Functions keys, kept where a running host of APPDIR keeps and reads them: the
container azure-webjobs-secrets of AzureWebJobsStorage, blobs <hostid>/host.json (master key,
host function keys, system keys) and <hostid>/<function>.json (a function's keys), in the
Functions host's shapes. Settings override stored keys: host.master, host.function.<name>,
host.systemKey.<name>, functions.<function>.<name> (or with "__" for "."). Keys are created
as the host creates them (master and default on first use). A running host sees a change
within a minute.

  list  the key names (with --function, also that function's); values only with --show
  set   set key --name (default "default") to --value ("-" reads it from stdin); without
        --function: "master" is the master key, a name ending in _extension a system key,
        any other a host function key
  new   like set with a newly generated value (printed only with --show)

Keys are secrets: --show prints them to stdout only; keep that output out of logs.
`

func runKeys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, keysUsage)
			return 2
		}
		fmt.Fprint(stdout, keysUsage)
		return 0
	}
	verb := args[0]
	if verb != "list" && verb != "set" && verb != "new" {
		fmt.Fprintf(stderr, "azbind keys: unknown verb %q\n%s", verb, keysUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind keys "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	function := fs.String("function", "", "the function whose keys")
	name := fs.String("name", "", "the key name")
	value := fs.String("value", "", "the key value")
	show := fs.Bool("show", false, "print key values")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, keysUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind keys %s: %v\n%s", verb, err, keysUsage)
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "azbind keys %s: expected exactly one APPDIR argument\n%s", verb, keysUsage)
		return 2
	}
	switch {
	case verb == "set" && *value == "":
		fmt.Fprintf(stderr, "azbind keys set: give --value (or --value - to read it from stdin), or use azbind keys new\n")
		return 2
	case verb == "new" && *value != "":
		fmt.Fprintf(stderr, "azbind keys new: generates the value; use azbind keys set to give one\n")
		return 2
	case verb == "list" && (*name != "" || *value != ""):
		fmt.Fprintf(stderr, "azbind keys list: --name and --value are for set and new\n")
		return 2
	}
	if *value == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "azbind keys set: read the value from stdin: %v\n", err)
			return 1
		}
		if *value = strings.TrimSpace(line); *value == "" {
			fmt.Fprintf(stderr, "azbind keys set: stdin held no value\n")
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys, err := openAppKeys(ctx, pos[0], stderr, "azbind keys "+verb)
	if err != nil {
		return 1
	}
	if verb == "list" {
		es, err := keys.List(ctx, *function)
		if err != nil {
			fmt.Fprintf(stderr, "azbind keys list: %v\n", connection.RedactError(err))
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, e := range es {
			line := e.Scope + "\t" + e.Kind + "\t" + e.Name + "\t" + e.From
			if *show {
				line += "\t" + e.Value
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
		return 0
	}
	v, err := keys.Set(ctx, *function, *name, *value)
	if err != nil {
		fmt.Fprintf(stderr, "azbind keys %s: %v\n", verb, connection.RedactError(err))
		return 1
	}
	n := *name
	if n == "" {
		n = hostkeys.DefaultKeyName
	}
	scope := "host"
	if *function != "" {
		scope = "function " + *function
	}
	fmt.Fprintf(stderr, "azbind keys %s: %s key %q set\n", verb, scope, n)
	if verb == "new" && *show {
		fmt.Fprintln(stdout, v)
	}
	return 0
}

// openAppKeys opens the keys of the app folder dir as a running host of it would.
func openAppKeys(ctx context.Context, dir string, stderr io.Writer, who string) (*hostkeys.Store, error) {
	app, err := extension.LoadAppDir(dir, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (run azbind validate %s)\n", who, connection.RedactError(err), dir)
		return nil, err
	}
	if _, ok := app.Settings.Get("AzureWebJobsStorage"); !ok && !app.Settings.Exists("AzureWebJobsStorage") {
		err := errors.New("no AzureWebJobsStorage")
		fmt.Fprintf(stderr, "%s: %s has no AzureWebJobsStorage setting, so its host keeps its keys in memory (new at each start): define AzureWebJobsStorage, or set the keys as settings (host.master, host.function.<name>, host.systemKey.<name>)\n", who, dir)
		return nil, err
	}
	h, err := extension.NewHost(extension.HostOptions{Settings: app.Settings, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = h.LoadAppDir(dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", who, connection.RedactError(err))
		return nil, err
	}
	if err := h.Verify(ctx); err != nil {
		if storageBroken(err) {
			fmt.Fprintf(stderr, "%s: %v\n", who, connection.RedactError(err))
			return nil, err
		}
		// Problems elsewhere in the app do not change where the keys are.
		fmt.Fprintf(stderr, "%s: warning: the app does not verify (run azbind validate %s): %v\n", who, dir, connection.RedactError(err))
	}
	keys := h.HostKeys()
	if keys == nil || h.HostID() == "" {
		err := errors.New("no host id")
		fmt.Fprintf(stderr, "%s: cannot determine the host id (set AzureFunctionsWebHost__hostid)\n", who)
		return nil, err
	}
	return keys, nil
}

// systemKey returns the value of the system key name of the host h (after Verify), creating it
// as a running host would.
func systemKey(ctx context.Context, h *extension.Host, name string) (string, error) {
	keys := h.HostKeys()
	if keys == nil {
		return "", errors.New("the host keys are not available (the host storage could not be opened)")
	}
	if h.Services().StorageVolatile {
		if _, ok := h.Services().Settings.Get("host.systemKey." + name); !ok {
			if _, ok := h.Services().Settings.Get("host__systemKey__" + name); !ok {
				return "", fmt.Errorf("the %s system key is not set and the app has no AzureWebJobsStorage to keep a generated one in: define the setting host.systemKey.%s (any long random string), or AzureWebJobsStorage", name, name)
			}
		}
	}
	if err := keys.EnsureSystemKey(ctx, name); err != nil {
		return "", err
	}
	es, err := keys.List(ctx, "")
	if err != nil {
		return "", err
	}
	for _, e := range es {
		if e.Kind == "system" && strings.EqualFold(e.Name, name) {
			return e.Value, nil
		}
	}
	return "", fmt.Errorf("the system key %s is not in the host keys", name)
}
