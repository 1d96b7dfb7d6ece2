package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/expr"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/queue"
)

// The commands of a first hour with azbind: start the pinned Azurite, then put a message on a
// queue or a blob in a container to trigger a function.

func init() {
	commands["emulators"] = command{
		summary: "start the pinned Azurite and print the settings to use (emulators start)",
		run:     runEmulators,
	}
	commands["put"] = command{
		summary: "put a message on a queue or a blob in a container (put queue Q TEXT, put blob C/B FILE)",
		run:     runPut,
	}
}

const emulatorsUsage = `usage: azbind emulators start [--free-ports] [--dir DIR]

Starts the Azurite pinned in emulators/package-lock.json (install it once with
` + "`npm ci --prefix emulators`" + ` in the azbind repository, or set AZBIND_EMULATORS_DIR to a folder
holding its node_modules) on the standard ports 10000 (blob), 10001 (queue) and 10002 (table),
prints the app setting to use — AzureWebJobsStorage=UseDevelopmentStorage=true — and runs until
Ctrl-C. --free-ports picks free ports instead and prints the full connection string (with the
emulator's public, well-known account key). --dir keeps the data in DIR (default: a temporary
folder, removed on exit).
`

func runEmulators(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "start" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, emulatorsUsage)
			return 0
		}
		fmt.Fprint(stderr, emulatorsUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind emulators start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	free := fs.Bool("free-ports", false, "")
	dir := fs.String("dir", "", "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, emulatorsUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind emulators start: bad arguments\n%s", emulatorsUsage)
		return 2
	}
	opts := &emulator.AzuriteOptions{Dir: *dir}
	if !*free {
		opts.Ports = [3]int{10000, 10001, 10002}
	}
	az, err := emulator.LaunchAzurite(opts)
	if err != nil {
		msg := err.Error()
		if !*free && strings.Contains(msg, "in use") {
			msg += " (another Azurite may already be running there — then UseDevelopmentStorage=true already works — or use --free-ports)"
		}
		fmt.Fprintf(stderr, "azbind emulators start: %s\n", msg)
		return 1
	}
	defer az.Stop()
	fmt.Fprintf(stdout, "Azurite is running: blob %s, queue %s, table %s\n", az.BlobEndpoint, az.QueueEndpoint, az.TableEndpoint)
	fmt.Fprintln(stdout, "Use this app setting (an environment variable, or in local.settings.json \"Values\"):")
	if *free {
		fmt.Fprintf(stdout, "  AzureWebJobsStorage=%s\n", az.ConnectionString)
	} else {
		fmt.Fprintln(stdout, "  AzureWebJobsStorage=UseDevelopmentStorage=true")
	}
	fmt.Fprintln(stdout, "Try a function with:  azbind put queue QUEUE 'TEXT'   or   azbind put blob CONTAINER/NAME FILE")
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
	if err := az.Stop(); err != nil {
		fmt.Fprintf(stderr, "azbind emulators: stopping Azurite: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "Azurite stopped.")
	return 0
}

const putUsage = `usage: azbind put queue [flags] QUEUE TEXT     put a message on a queue (created if missing)
       azbind put blob  [flags] CONTAINER/NAME FILE   upload FILE ("-" for stdin) as a blob

flags:
  --connection NAME   the connection setting (default: AzureWebJobsStorage)
  --settings PATH     local.settings.json to read after the environment (default ./local.settings.json)
  --encoding E        queue only: base64 (default, what queueTrigger expects by default) or none
                      (for host.json extensions.queues.messageEncoding "none")
`

func runPut(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "queue" && args[0] != "blob" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, putUsage)
			return 0
		}
		fmt.Fprint(stderr, putUsage)
		return 2
	}
	what := args[0]
	fs := flag.NewFlagSet("azbind put", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conn := fs.String("connection", "", "")
	settingsPath := fs.String("settings", "local.settings.json", "")
	encoding := fs.String("encoding", "base64", "")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, putUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind put %s: %v\n%s", what, err, putUsage)
		return 2
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "azbind put %s: need two arguments\n%s", what, putUsage)
		return 2
	}
	settings, err := connection.NewDefaultSettings(*settingsPath)
	if err != nil {
		fmt.Fprintf(stderr, "azbind put %s: %v\n", what, connection.RedactError(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc := connection.Queue
	if what == "blob" {
		svc = connection.Blob
	}
	c, err := connection.NewResolver(settings, nil).Resolve(ctx, *conn, svc)
	if err != nil {
		fmt.Fprintf(stderr, "azbind put %s: %v\n", what, connection.RedactError(err))
		return 1
	}
	if what == "queue" {
		err = putQueue(ctx, c, pos[0], pos[1], *encoding, stdout)
	} else {
		err = putBlob(ctx, c, pos[0], pos[1], stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "azbind put %s: %v\n", what, c.RedactError(err))
		return 1
	}
	return 0
}

func putQueue(ctx context.Context, c *connection.Connection, name, text, encoding string, stdout io.Writer) error {
	name = expr.NormalizeQueueName(name)
	if err := expr.ValidateQueueName(name); err != nil {
		return err
	}
	body := text
	switch strings.ToLower(encoding) {
	case "base64":
		body = base64.StdEncoding.EncodeToString([]byte(text))
	case "none":
	default:
		return fmt.Errorf("--encoding %q: use base64 or none", encoding)
	}
	svc, err := queue.NewServiceClient(c)
	if err != nil {
		return err
	}
	q := svc.NewQueueClient(name)
	if _, err := q.Create(ctx, nil); err != nil && !strings.Contains(err.Error(), "QueueAlreadyExists") {
		return fmt.Errorf("create queue %s: %w", name, err)
	}
	resp, err := q.EnqueueMessage(ctx, body, nil)
	if err != nil {
		return fmt.Errorf("send to queue %s: %w", name, err)
	}
	id := ""
	if len(resp.Messages) > 0 && resp.Messages[0].MessageID != nil {
		id = *resp.Messages[0].MessageID
	}
	fmt.Fprintf(stdout, "put message %s on queue %s (%s)\n", id, name, strings.ToLower(encoding))
	return nil
}

func putBlob(ctx context.Context, c *connection.Connection, path, file string, stdout io.Writer) error {
	container, name, ok := strings.Cut(path, "/")
	if !ok || name == "" {
		return fmt.Errorf("%q: use CONTAINER/NAME", path)
	}
	if err := expr.ValidateContainerName(container); err != nil {
		return err
	}
	if err := expr.ValidateBlobName(name); err != nil {
		return err
	}
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return err
	}
	opts := &service.ClientOptions{ClientOptions: c.SDKOptions()}
	var svc *service.Client
	switch c.Kind {
	case connection.KindConnectionString:
		svc, err = service.NewClientFromConnectionString(c.ConnectionString, opts)
	case connection.KindIdentity:
		svc, err = service.NewClient(c.Endpoint, c.Credential, opts)
	default:
		err = fmt.Errorf("connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		return err
	}
	cc := svc.NewContainerClient(container)
	if _, err := cc.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("create container %s: %w", container, err)
	}
	if _, err := cc.NewBlockBlobClient(name).UploadStream(ctx, bytes.NewReader(data), nil); err != nil {
		return fmt.Errorf("upload %s/%s: %w", container, name, err)
	}
	fmt.Fprintf(stdout, "put blob %s/%s (%d bytes)\n", container, name, len(data))
	return nil
}
