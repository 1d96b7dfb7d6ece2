package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/cosmos"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hoststore"
)

func init() {
	commands["deadletters"] = command{
		summary: "list, show and replay the batches the stream triggers (Event Hubs, Cosmos DB) dead-lettered",
		run: func(args []string, stdout, stderr io.Writer) int {
			return runDeadLetters("azbind deadletters", args, stdout, stderr)
		},
	}
}

const deadLettersUsage = `usage: azbind deadletters list   [APPDIR] [--function NAME] [--host ID] [flags]
       azbind deadletters show   [APPDIR] KEY [flags]
       azbind deadletters replay [APPDIR] KEY [--connection NAME] [flags]

A batch an eventHubTrigger or cosmosDBTrigger function still failed after its retry policy is
not lost: it is written whole to host storage (AzureWebJobsStorage, container
azure-webjobs-hosts) under deadletters/<hostId>/<function>/<time>-<position>.json before the
trigger's checkpoint moves past it (older azbind versions wrote eventhubs-deadletters/… and
cosmosdb-deadletter/…; those are listed, shown and replayed too).

list prints the keys (every host's, unless --host or the setting AzureFunctionsWebHost__hostid
names one), show one batch (function, source position, error, events), and replay sends the
batch back through its service and deletes the dead letter: Event Hubs events go back to their
partition; Cosmos DB documents are rewritten unchanged (skipped when they changed or were deleted
since), so that the trigger processes them again. Replay uses the connection the function's
binding named (recorded in the dead letter, else read from APPDIR/<function>/function.json; the
service's default connection when there is none), or --connection.

APPDIR (default .) is the app folder: its local.settings.json is read after the environment.

flags:
  --settings PATH     local.settings.json to read instead of APPDIR/local.settings.json
  --connection NAME   replay: the connection setting to send with
`

func runDeadLetters(cmd string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, deadLettersUsage)
			return 0
		}
		fmt.Fprint(stderr, deadLettersUsage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	settingsPath := fs.String("settings", "", "")
	function := fs.String("function", "", "")
	hostID := fs.String("host", "", "")
	conn := fs.String("connection", "", "")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, deadLettersUsage)
			return 0
		}
		fmt.Fprintf(stderr, "%s %s: %v\n%s", cmd, verb, err, deadLettersUsage)
		return 2
	}
	keyed := verb != "list"
	if n := len(pos); (keyed && (n < 1 || n > 2)) || (!keyed && n > 1) {
		fmt.Fprintf(stderr, "%s %s: wrong number of arguments\n%s", cmd, verb, deadLettersUsage)
		return 2
	}
	dir, key := ".", ""
	if keyed {
		key = pos[len(pos)-1]
		if len(pos) == 2 {
			dir = pos[0]
		}
	} else if len(pos) == 1 {
		dir = pos[0]
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "%s %s: %v\n", cmd, verb, connection.RedactError(err))
		return 1
	}
	if *settingsPath == "" {
		*settingsPath = filepath.Join(dir, "local.settings.json")
	}
	settings, err := connection.NewDefaultSettings(*settingsPath)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resolver := connection.NewResolver(settings, nil)
	sc, err := resolver.Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
	if err != nil {
		return fail(fmt.Errorf("host storage: %w", err))
	}
	hs, err := hoststore.Open(sc)
	if err != nil {
		return fail(err)
	}
	switch verb {
	case "list":
		if *hostID == "" {
			if kv, ok := settings.Lookup("AzureFunctionsWebHost:hostid"); ok {
				*hostID = kv.Value
			}
		}
		keys, err := listDeadLetters(ctx, hs, *hostID, *function)
		if err != nil {
			return fail(sc.RedactError(err))
		}
		for _, k := range keys {
			fmt.Fprintln(stdout, k)
		}
		fmt.Fprintf(stderr, "%d dead-lettered batch(es)\n", len(keys))
		return 0
	case "show":
		dl, err := readDeadLetter(ctx, hs, key)
		if err != nil {
			return fail(sc.RedactError(err))
		}
		printDeadLetter(stdout, dl)
		return 0
	}
	dl, err := readDeadLetter(ctx, hs, key)
	if err != nil {
		return fail(sc.RedactError(err))
	}
	name := *conn
	if name == "" {
		name = dl.Connection
	}
	if name == "" {
		name = bindingConnection(dir, dl.Function)
	}
	switch dl.Trigger {
	case eventhubs.TriggerType:
		ec, err := resolver.Resolve(ctx, name, connection.EventHubs)
		if err != nil {
			return fail(fmt.Errorf("%w (the function's connection; give --connection NAME to use another)", err))
		}
		producer, err := eventhubs.NewProducerClient(ec, dl.Source.Entity, nil)
		if err != nil {
			return fail(ec.RedactError(err))
		}
		defer producer.Close(context.Background())
		n, err := eventhubs.Replay(ctx, hs, producer, key)
		if err != nil {
			return fail(ec.RedactError(err))
		}
		fmt.Fprintf(stdout, "replayed %d event(s) to %s partition %s; the dead letter is deleted\n", n, dl.Source.Entity, dl.Source.Partition)
		return 0
	case cosmos.TriggerType:
		cc, err := resolver.Resolve(ctx, name, connection.Cosmos)
		if err != nil {
			return fail(fmt.Errorf("%w (the function's connection; give --connection NAME to use another)", err))
		}
		client, err := cosmos.NewClient(cc)
		if err != nil {
			return fail(cc.RedactError(err))
		}
		res, err := cosmos.Replay(ctx, hs, client, key)
		if err != nil {
			return fail(cc.RedactError(err))
		}
		fmt.Fprintf(stdout, "replayed %d document(s) to %s/%s; the dead letter is deleted\n", res.Replayed, dl.Source.Database, dl.Source.Entity)
		if len(res.Skipped) > 0 {
			fmt.Fprintf(stdout, "skipped %d document(s) changed or deleted since (their newer state went through the change feed): %s\n", len(res.Skipped), strings.Join(res.Skipped, ", "))
		}
		return 0
	}
	return fail(fmt.Errorf("%s: cannot replay a dead letter of trigger %q", key, dl.Trigger))
}

// listDeadLetters is every stream trigger's dead letters: the one layout, then each connector's
// legacy one.
func listDeadLetters(ctx context.Context, hs driver.HostStorage, hostID, function string) ([]string, error) {
	eh, err := eventhubs.ListDeadLetters(ctx, hs, hostID, function)
	if err != nil {
		return nil, err
	}
	cd, err := cosmos.ListDeadLetters(ctx, hs, hostID, function)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range append(eh, cd...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

func readDeadLetter(ctx context.Context, hs driver.HostStorage, key string) (*driver.DeadLetter, error) {
	switch {
	case strings.HasPrefix(key, eventhubs.LegacyDeadLetterPrefix):
		return eventhubs.ReadDeadLetter(ctx, hs, key)
	case strings.HasPrefix(key, cosmos.LegacyDeadLetterPrefix):
		return cosmos.ReadDeadLetter(ctx, hs, key)
	}
	return driver.ReadDeadLetter(ctx, hs, key)
}

// bindingConnection is the `connection` of function fn's trigger in dir/<fn>/function.json
// ("" when there is none).
func bindingConnection(dir, fn string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.EqualFold(e.Name(), fn) {
			continue
		}
		file := filepath.Join(dir, e.Name(), "function.json")
		data, err := os.ReadFile(file)
		if err != nil {
			return ""
		}
		spec, _ := extension.ParseFunctionJSON(e.Name(), file, data)
		if spec == nil {
			return ""
		}
		for _, b := range spec.Bindings {
			if b.IsTrigger() {
				if b.RawConnection != "" {
					return b.RawConnection
				}
				return b.Connection()
			}
		}
	}
	return ""
}

func printDeadLetter(w io.Writer, dl *driver.DeadLetter) {
	s := dl.Source
	fmt.Fprintf(w, "function:   %s (%s, host %s)\n", dl.Function, dl.Trigger, dl.HostID)
	switch dl.Trigger {
	case eventhubs.TriggerType:
		seq := ""
		if s.FirstSequence != nil && s.LastSequence != nil {
			seq = fmt.Sprintf("%d–%d ", *s.FirstSequence, *s.LastSequence)
		}
		fmt.Fprintf(w, "event hub:  %s/%s (consumer group %s, partition %s)\nsequence:   %s(%d event(s))\n", s.Account, s.Entity, s.ConsumerGroup, s.Partition, seq, len(dl.Events))
	case cosmos.TriggerType:
		fmt.Fprintf(w, "container:  %s/%s (lease %s)\nposition:   %s → %s (%d document(s))\n", s.Database, s.Entity, s.FeedRange, orStart(s.Continuation), s.NextContinuation, len(dl.Events))
	}
	if dl.Connection != "" {
		fmt.Fprintf(w, "connection: %s\n", dl.Connection)
	}
	fmt.Fprintf(w, "failed at:  %s\nerror:      %s\n", dl.Time.Format(time.RFC3339), oneLine(dl.Reason))
	for i, ev := range dl.Events {
		body := string(ev.Body)
		if len(ev.Document) > 0 {
			var c bytes.Buffer
			if json.Compact(&c, ev.Document) == nil {
				body = c.String()
			} else {
				body = string(ev.Document)
			}
		}
		fmt.Fprintf(w, "event %d: %s\n", i, oneLine(body))
	}
}

func orStart(s string) string {
	if s == "" {
		return "(start)"
	}
	return s
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
