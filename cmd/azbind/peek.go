package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventhubs"
	"github.com/azbind/azbind/queue"
	"github.com/azbind/azbind/servicebus"
)

// Commands to see what a function wrote: peek at a queue, a Service Bus entity or an event hub
// without removing anything, and read a blob.

func init() {
	commands["peek"] = command{
		summary: "show messages without removing them (peek queue Q, peek servicebus ENTITY, peek eventhub HUB)",
		run:     runPeek,
	}
	commands["get"] = command{
		summary: "print a blob, or list a container (get blob CONTAINER/NAME, get blob CONTAINER/)",
		run:     runGet,
	}
}

const peekUsage = `usage: azbind peek queue [flags] QUEUE          Storage queue messages (text; base64 decoded)
       azbind peek servicebus [flags] ENTITY    Service Bus: QUEUE or TOPIC/SUBSCRIPTION
                                                 (--deadletter: its dead-letter queue)
       azbind peek eventhub [flags] HUB          events of every partition, oldest first

Nothing is removed, locked or checkpointed.

flags:
  --connection NAME   the connection setting (default: AzureWebJobsStorage for queues,
                      AzureWebJobsServiceBus for Service Bus; required for Event Hubs)
  --settings PATH     local.settings.json to read after the environment (default ./local.settings.json)
  --max N             at most N messages (default 32)
  --deadletter        servicebus only: the entity's dead-letter queue
  --consumer-group G  eventhub only (default $Default)
`

const getUsage = `usage: azbind get blob [flags] CONTAINER/NAME   print the blob (or --out FILE)
       azbind get blob [flags] CONTAINER/        list the container's blobs

flags:
  --connection NAME   the connection setting (default: AzureWebJobsStorage)
  --settings PATH     local.settings.json to read after the environment (default ./local.settings.json)
  --out FILE          write the blob to FILE instead of standard output
`

// cliConnection resolves a connection for a CLI command. A missing connection gets one line that
// names the setting the user has to define (the app setting, not the resolver's internal
// default name) and how to get one locally.
func cliConnection(ctx context.Context, cmd, settingsPath, name string, svc connection.Service) (*connection.Connection, error) {
	settings, err := connection.NewDefaultSettings(settingsPath)
	if err != nil {
		return nil, connection.RedactError(err)
	}
	if name == "" && svc == connection.EventHubs {
		return nil, errors.New("--connection is required for Event Hubs (the name of the app setting holding the connection string; `azbind emulators start` prints it)")
	}
	c, err := connection.NewResolver(settings, nil).Resolve(ctx, name, svc)
	if err == nil {
		return c, nil
	}
	var re *connection.ResolveError
	if name == "" && errors.As(err, &re) && errors.Is(err, connection.ErrNotFound) {
		setting, local := "AzureWebJobsStorage", "AzureWebJobsStorage=UseDevelopmentStorage=true"
		if svc == connection.ServiceBus {
			setting, local = "AzureWebJobsServiceBus", "AzureWebJobsServiceBus=<the connection string it prints>"
		}
		where := settingsPath
		if _, statErr := os.Stat(settingsPath); statErr != nil {
			where += ", which does not exist"
		}
		return nil, fmt.Errorf("the app setting %s is not defined (looked in the environment and %s): start the local emulators with `azbind emulators start` and set %s, pass --settings APPDIR/local.settings.json, or --connection NAME", setting, where, local)
	}
	return nil, connection.RedactError(err)
}

func peekFlags(name string) (*flag.FlagSet, *string, *string, *int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conn := fs.String("connection", "", "")
	settings := fs.String("settings", "local.settings.json", "")
	max := fs.Int("max", 32, "")
	return fs, conn, settings, max
}

func runPeek(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "queue" && args[0] != "servicebus" && args[0] != "eventhub" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, peekUsage)
			return 0
		}
		fmt.Fprint(stderr, peekUsage)
		return 2
	}
	what := args[0]
	fs, conn, settingsPath, max := peekFlags("azbind peek " + what)
	dead := fs.Bool("deadletter", false, "")
	group := fs.String("consumer-group", "$Default", "")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) != 1 || *max < 1 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, peekUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind peek %s: need one entity name\n%s", what, peekUsage)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	svc := map[string]connection.Service{"queue": connection.Queue, "servicebus": connection.ServiceBus, "eventhub": connection.EventHubs}[what]
	c, err := cliConnection(ctx, what, *settingsPath, *conn, svc)
	if err != nil {
		fmt.Fprintf(stderr, "azbind peek %s: %v\n", what, err)
		return 1
	}
	switch what {
	case "queue":
		err = peekQueue(ctx, c, pos[0], *max, stdout)
	case "servicebus":
		err = peekServiceBus(ctx, c, pos[0], *dead, *max, stdout)
	default:
		err = peekEventHub(ctx, c, pos[0], *group, *max, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "azbind peek %s: %v\n", what, c.RedactError(err))
		return 1
	}
	return 0
}

// showBody prints a message body as text when it is UTF-8, else as base64.
func showBody(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "(binary, base64) " + base64.StdEncoding.EncodeToString(b)
}

func peekQueue(ctx context.Context, c *connection.Connection, name string, max int, stdout io.Writer) error {
	svc, err := queue.NewServiceClient(c)
	if err != nil {
		return err
	}
	q := svc.NewQueueClient(name)
	props, err := q.GetProperties(ctx, nil)
	if err != nil {
		return fmt.Errorf("queue %s: %w", name, err)
	}
	n := int32(min(max, 32)) // the service's limit per peek
	resp, err := q.PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		return fmt.Errorf("queue %s: %w", name, err)
	}
	total := int32(0)
	if props.ApproximateMessagesCount != nil {
		total = *props.ApproximateMessagesCount
	}
	fmt.Fprintf(stdout, "queue %s: about %d message(s); showing %d (peeked, not removed)\n", name, total, len(resp.Messages))
	for _, m := range resp.Messages {
		text := deref(m.MessageText)
		shown := text
		if raw, err := base64.StdEncoding.DecodeString(text); err == nil && utf8.Valid(raw) && text != "" {
			shown = string(raw) + "   (base64 on the queue)"
		}
		dq := int64(0)
		if m.DequeueCount != nil {
			dq = *m.DequeueCount
		}
		ins := ""
		if m.InsertionTime != nil {
			ins = m.InsertionTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s  dequeued %d  inserted %s\n  %s\n", deref(m.MessageID), dq, ins, shown)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func peekServiceBus(ctx context.Context, c *connection.Connection, entity string, dead bool, max int, stdout io.Writer) error {
	cl, err := servicebus.NewClient(c, servicebus.RetryOptions{})
	if err != nil {
		return err
	}
	defer cl.Close(context.Background())
	opts := &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock}
	if dead {
		opts.SubQueue = azservicebus.SubQueueDeadLetter
	}
	var r *azservicebus.Receiver
	if topic, sub, ok := strings.Cut(entity, "/"); ok {
		sub = strings.TrimPrefix(strings.TrimPrefix(sub, "Subscriptions/"), "subscriptions/")
		r, err = cl.NewReceiverForSubscription(topic, sub, opts)
	} else {
		r, err = cl.NewReceiverForQueue(entity, opts)
	}
	if err != nil {
		return err
	}
	defer r.Close(context.Background())
	msgs, err := r.PeekMessages(ctx, max, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", entity, err)
	}
	label := entity
	if dead {
		label += " (dead-letter queue)"
	}
	fmt.Fprintf(stdout, "%s: %d message(s) (peeked, not locked or removed)\n", label, len(msgs))
	for _, m := range msgs {
		line := fmt.Sprintf("#%d  id %s  delivered %d", deref64(m.SequenceNumber), m.MessageID, m.DeliveryCount)
		if m.SessionID != nil {
			line += "  session " + *m.SessionID
		}
		if m.DeadLetterReason != nil {
			line += "  reason " + *m.DeadLetterReason
		}
		fmt.Fprintf(stdout, "%s\n  %s\n", line, showBody(m.Body))
	}
	return nil
}

func deref64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func peekEventHub(ctx context.Context, c *connection.Connection, hub, group string, max int, stdout io.Writer) error {
	cc, err := eventhubs.NewConsumerClient(c, hub, group, nil)
	if err != nil {
		return err
	}
	defer cc.Close(context.Background())
	props, err := cc.GetEventHubProperties(ctx, nil)
	if err != nil {
		return fmt.Errorf("event hub %s: %w", hub, err)
	}
	shown := 0
	for _, pid := range props.PartitionIDs {
		pp, err := cc.GetPartitionProperties(ctx, pid, nil)
		if err != nil {
			return fmt.Errorf("event hub %s partition %s: %w", hub, pid, err)
		}
		if pp.IsEmpty {
			fmt.Fprintf(stdout, "partition %s: empty\n", pid)
			continue
		}
		fmt.Fprintf(stdout, "partition %s: sequence numbers %d to %d\n", pid, pp.BeginningSequenceNumber, pp.LastEnqueuedSequenceNumber)
		pc, err := cc.NewPartitionClient(pid, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to(true)}})
		if err != nil {
			return err
		}
		last := int64(-1)
		for last < pp.LastEnqueuedSequenceNumber && shown < max {
			evs, err := pc.ReceiveEvents(ctx, max-shown, nil)
			if err != nil && len(evs) == 0 {
				_ = pc.Close(context.Background())
				return fmt.Errorf("event hub %s partition %s: %w", hub, pid, err)
			}
			for _, e := range evs {
				last = e.SequenceNumber
				shown++
				pk := ""
				if e.PartitionKey != nil {
					pk = "  partition key " + *e.PartitionKey
				}
				fmt.Fprintf(stdout, "#%d  offset %s%s\n  %s\n", e.SequenceNumber, e.Offset, pk, showBody(e.Body))
			}
		}
		_ = pc.Close(context.Background())
		if shown >= max {
			break
		}
	}
	fmt.Fprintf(stdout, "event hub %s: %d event(s) shown (read from the start; nothing checkpointed)\n", hub, shown)
	return nil
}

func to[T any](v T) *T { return &v }

func runGet(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "blob" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, getUsage)
			return 0
		}
		fmt.Fprint(stderr, getUsage)
		return 2
	}
	fs, conn, settingsPath, _ := peekFlags("azbind get blob")
	out := fs.String("out", "", "")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) != 1 || !strings.Contains(pos[0], "/") {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, getUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind get blob: need one CONTAINER/NAME (or CONTAINER/)\n%s", getUsage)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := cliConnection(ctx, "blob", *settingsPath, *conn, connection.Blob)
	if err != nil {
		fmt.Fprintf(stderr, "azbind get blob: %v\n", err)
		return 1
	}
	if err := getBlob(ctx, c, pos[0], *out, stdout); err != nil {
		fmt.Fprintf(stderr, "azbind get blob: %v\n", c.RedactError(err))
		return 1
	}
	return 0
}

func getBlob(ctx context.Context, c *connection.Connection, path, out string, stdout io.Writer) error {
	container, name, _ := strings.Cut(path, "/")
	svc, err := blob.NewServiceClient(c)
	if err != nil {
		return err
	}
	cc := svc.NewContainerClient(container)
	if name == "" {
		pager := cc.NewListBlobsFlatPager(nil)
		n := 0
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list %s: %w", container, err)
			}
			for _, b := range page.Segment.BlobItems {
				size := int64(0)
				if b.Properties != nil && b.Properties.ContentLength != nil {
					size = *b.Properties.ContentLength
				}
				fmt.Fprintf(stdout, "%s/%s  %d bytes\n", container, deref(b.Name), size)
				n++
			}
		}
		fmt.Fprintf(stdout, "%d blob(s)\n", n)
		return nil
	}
	resp, err := cc.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", container, name, err)
	}
	defer resp.Body.Close()
	w := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("%s/%s: %w", container, name, err)
	}
	return nil
}
