package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
)

func init() {
	commands["blob"] = command{
		summary: "blob trigger maintenance (reprocess CONTAINER/BLOB)",
		run:     runBlob,
	}
}

const blobUsage = `usage: azbind blob reprocess --host-id ID --function NAME [--connection NAME]
                          [--settings PATH/local.settings.json] CONTAINER/BLOB

Makes a blob-triggered function process a blob again: removes the function's receipt for the
blob's current version and hands the blob to the host's internal queue
(azure-webjobs-blobtrigger-<host id>), so that a running host — or the next one to start — invokes
the function once more. --host-id is the id the host logs at start ("host started host_id=…");
--connection is the trigger's connection setting ("" = AzureWebJobsStorage). Settings come from the
environment and local.settings.json (default ./local.settings.json if present); the environment wins.
`

func runBlob(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "reprocess" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, blobUsage)
			return 0
		}
		fmt.Fprint(stderr, blobUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind blob reprocess", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	hostID := fs.String("host-id", "", "the host id")
	function := fs.String("function", "", "the blob-triggered function")
	conn := fs.String("connection", "", "the trigger's connection setting")
	settingsPath := fs.String("settings", "", "path of local.settings.json")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, blobUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind blob reprocess: %v\n%s", err, blobUsage)
		return 2
	}
	container, name, ok := strings.Cut(strings.Join(pos, ""), "/")
	if len(pos) != 1 || !ok || container == "" || name == "" || *hostID == "" || *function == "" {
		fmt.Fprintf(stderr, "azbind blob reprocess: need --host-id, --function and one CONTAINER/BLOB\n%s", blobUsage)
		return 2
	}
	path := *settingsPath
	if path == "" {
		path = "local.settings.json"
	}
	settings, err := connection.NewDefaultSettings(path)
	if err != nil {
		fmt.Fprintf(stderr, "azbind blob reprocess: %v\n", connection.RedactError(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resolver := connection.NewResolver(settings, &connection.ResolverOptions{})
	if err := blob.ReprocessWith(ctx, resolver, *conn, *hostID, *function, container, name); err != nil {
		fmt.Fprintf(stderr, "azbind blob reprocess: %v\n", connection.RedactError(err))
		return 1
	}
	fmt.Fprintf(stdout, "%s/%s handed over to azure-webjobs-blobtrigger-%s for %s\n", container, name, *hostID, *function)
	return 0
}
