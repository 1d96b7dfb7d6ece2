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
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/extension/expr"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/servicebus"
)

// The commands of a first hour with azbind: put a message on a queue or a blob in a container to
// trigger a function (emulators.go starts the local emulators).

func init() {
	commands["put"] = command{
		summary: "put a message on a queue or a blob in a container (put queue Q TEXT, put blob C/B FILE)",
		run:     runPut,
	}
}

const putUsage = `usage: azbind put queue [flags] QUEUE TEXT     put a message on a queue (created if missing)
       azbind put blob  [flags] CONTAINER/NAME FILE   upload FILE ("-" for stdin) as a blob
       azbind put servicebus [flags] ENTITY TEXT     send a message to a Service Bus queue or topic
       azbind put eventhub [flags] HUB TEXT          send an event to an event hub

flags:
  --connection NAME   the connection setting (default: AzureWebJobsStorage for queue and blob,
                      AzureWebJobsServiceBus for Service Bus; required for Event Hubs)
  --settings PATH     local.settings.json to read after the environment (default ./local.settings.json)
  --encoding E        queue only: base64 (default, what queueTrigger expects by default) or none
                      (for host.json extensions.queues.messageEncoding "none")
  --session ID        servicebus only: the message's session id (for a session-enabled entity)
  --partition-key K   eventhub only: the event's partition key
`

func runPut(args []string, stdout, stderr io.Writer) int {
	services := map[string]connection.Service{"queue": connection.Queue, "blob": connection.Blob,
		"servicebus": connection.ServiceBus, "eventhub": connection.EventHubs}
	if len(args) == 0 || services[args[0]] == "" {
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
	session := fs.String("session", "", "")
	pkey := fs.String("partition-key", "", "")
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := cliConnection(ctx, what, *settingsPath, *conn, services[what])
	if err != nil {
		fmt.Fprintf(stderr, "azbind put %s: %v\n", what, err)
		return 1
	}
	switch what {
	case "queue":
		err = putQueue(ctx, c, pos[0], pos[1], *encoding, stdout)
	case "blob":
		err = putBlob(ctx, c, pos[0], pos[1], stdout)
	case "servicebus":
		err = putServiceBus(ctx, c, pos[0], pos[1], *session, stdout)
	default:
		err = putEventHub(ctx, c, pos[0], pos[1], *pkey, stdout)
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
	svc, err := blob.NewServiceClient(c) // the blob connector's client, as its bindings build it
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

func putServiceBus(ctx context.Context, c *connection.Connection, entity, text, session string, stdout io.Writer) error {
	cl, err := servicebus.NewClient(c, servicebus.RetryOptions{})
	if err != nil {
		return err
	}
	defer cl.Close(context.Background())
	s, err := cl.NewSender(entity, nil)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	m := &azservicebus.Message{Body: []byte(text)}
	if session != "" {
		m.SessionID = &session
	}
	if err := s.SendMessage(ctx, m, nil); err != nil {
		return fmt.Errorf("send to %s: %w", entity, err)
	}
	fmt.Fprintf(stdout, "sent a message to %s (%d bytes)\n", entity, len(text))
	return nil
}

func putEventHub(ctx context.Context, c *connection.Connection, hub, text, key string, stdout io.Writer) error {
	pc, err := eventhubs.NewProducerClient(c, hub, nil)
	if err != nil {
		return err
	}
	defer pc.Close(context.Background())
	var pk *string
	if key != "" {
		pk = &key
	}
	if err := eventhubs.Send(ctx, pc, pk, []*azeventhubs.EventData{{Body: []byte(text)}}); err != nil {
		return fmt.Errorf("send to %s: %w", hub, err)
	}
	fmt.Fprintf(stdout, "sent an event to %s (%d bytes)\n", hub, len(text))
	return nil
}
