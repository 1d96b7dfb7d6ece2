package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/internal/hoststore"
)

func init() {
	commands["eventhubs"] = command{
		summary: "list, show and replay the Event Hubs trigger's dead-lettered batches",
		run:     runEventHubs,
	}
}

const eventHubsUsage = `usage: azbind eventhubs deadletters list   [--function NAME] [flags]
       azbind eventhubs deadletters show   KEY [flags]
       azbind eventhubs deadletters replay KEY [--connection NAME] [flags]

A batch the eventHubTrigger's function still failed after its retry policy is not lost: it is
written whole to the host storage (AzureWebJobsStorage, container azure-webjobs-hosts, under
eventhubs-deadletters/<function>/…) before the partition's checkpoint moves past it.
list prints the keys, show one batch (error, partition, sequence numbers, event bodies), and
replay sends the batch's events back to their partition (the trigger then processes them again)
and deletes the dead letter.

flags:
  --settings PATH     local.settings.json to read after the environment (default ./local.settings.json)
  --connection NAME   replay: the Event Hubs connection setting (default AzureWebJobsEventHub)
`

func runEventHubs(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "deadletters" || (args[1] != "list" && args[1] != "show" && args[1] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, eventHubsUsage)
			return 0
		}
		fmt.Fprint(stderr, eventHubsUsage)
		return 2
	}
	verb := args[1]
	fs := flag.NewFlagSet("azbind eventhubs deadletters", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	settingsPath := fs.String("settings", "local.settings.json", "")
	function := fs.String("function", "", "")
	conn := fs.String("connection", "", "")
	pos, err := parseInterspersed(fs, args[2:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, eventHubsUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind eventhubs deadletters %s: %v\n%s", verb, err, eventHubsUsage)
		return 2
	}
	if want := map[string]int{"list": 0, "show": 1, "replay": 1}[verb]; len(pos) != want {
		fmt.Fprintf(stderr, "azbind eventhubs deadletters %s: takes %d argument(s)\n%s", verb, want, eventHubsUsage)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "azbind eventhubs deadletters %s: %v\n", verb, connection.RedactError(err))
		return 1
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
		keys, err := eventhubs.ListDeadLetters(ctx, hs, *function)
		if err != nil {
			return fail(sc.RedactError(err))
		}
		for _, k := range keys {
			fmt.Fprintln(stdout, k)
		}
		fmt.Fprintf(stderr, "%d dead-lettered batch(es)\n", len(keys))
		return 0
	case "show":
		dl, err := eventhubs.ReadDeadLetter(ctx, hs, pos[0])
		if err != nil {
			return fail(sc.RedactError(err))
		}
		printDeadLetter(stdout, dl)
		return 0
	}
	dl, err := eventhubs.ReadDeadLetter(ctx, hs, pos[0])
	if err != nil {
		return fail(sc.RedactError(err))
	}
	ec, err := resolver.Resolve(ctx, *conn, connection.EventHubs)
	if err != nil {
		return fail(err)
	}
	producer, err := eventhubs.NewProducerClient(ec, dl.EventHubName, nil)
	if err != nil {
		return fail(ec.RedactError(err))
	}
	defer producer.Close(context.Background())
	n, err := eventhubs.Replay(ctx, hs, producer, pos[0])
	if err != nil {
		return fail(ec.RedactError(err))
	}
	fmt.Fprintf(stdout, "replayed %d event(s) to %s partition %s; the dead letter is deleted\n", n, dl.EventHubName, dl.PartitionID)
	return 0
}

func printDeadLetter(w io.Writer, dl *eventhubs.DeadLetter) {
	fmt.Fprintf(w, "function:   %s\nevent hub:  %s/%s (consumer group %s, partition %s)\nsequence:   %d–%d (%d event(s))\nfailed at:  %s\nerror:      %s\n",
		dl.Function, dl.FullyQualifiedNamespace, dl.EventHubName, dl.ConsumerGroup, dl.PartitionID,
		dl.FirstSequenceNumber, dl.LastSequenceNumber, len(dl.Events), dl.FailedAt.Format(time.RFC3339), oneLine(dl.Error))
	for i, ev := range dl.Events {
		fmt.Fprintf(w, "event %d: %s\n", i, oneLine(string(ev.Body)))
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
