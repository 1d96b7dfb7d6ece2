package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/queue"
)

// The blob trigger with source EventGrid (checklist C35): no container scans; Event Grid posts
// Microsoft.Storage.BlobCreated events to the host's webhook
//
//	/runtime/webhooks/blobs?functionName=Host.Functions.<name>&code=<blobs_extension key>
//
// (mounted on the host's router by eventgrid.Listen at AuthSystem, system key blobs_extension)
// and every event of the trigger's container and path pattern is handed over to the internal
// queue with a receipt, exactly as a scan hands a blob over; the host's dispatcher then invokes
// the function (retries, poison queue) as for scanned blobs.

const (
	// blobsWebhook is the extension segment of the blobs webhook.
	blobsWebhook = "blobs"
	// blobCreated is the only event type that hands a blob over.
	blobCreated = "Microsoft.Storage.BlobCreated"
	// handOverWorkers bounds the concurrent hand-overs of one Notification request.
	handOverWorkers = 16
)

// runEventGrid serves the function's endpoint on the blobs webhook until ctx is done.
func (t *trigger) runEventGrid(ctx context.Context, iq *azqueue.QueueClient) error {
	rc := &receipts{hosts: t.svc.NewContainerClient(HostsContainer)}
	enqueue := func(ctx context.Context, m *Message) error {
		if t.handOverHook != nil {
			if err := t.handOverHook(ctx, m); err != nil {
				return err
			}
		}
		return queue.Enqueue(ctx, t.state.hub, iq, m.encode())
	}
	err := eventgrid.Listen(ctx, t.host, eventgrid.Endpoint{
		Extension: blobsWebhook,
		Function:  t.fnID, // the real webhook's functionName is the function id, which it queues as is
		Schema:    eventgrid.SchemaAny,
		Deliver: func(rctx context.Context, events []json.RawMessage) error {
			return connection.RedactError(t.deliverEvents(rctx, rc, enqueue, events))
		},
	})
	if err != nil && ctx.Err() != nil {
		return nil // stopped while starting
	}
	if err != nil {
		return fmt.Errorf("%s: blob trigger (source EventGrid): %w", t.where, err)
	}
	return nil
}

// blobEvent is what the trigger reads of a BlobCreated event (Event Grid schema or CloudEvents).
type blobEvent struct {
	EventType string `json:"eventType"` // Event Grid schema
	Type      string `json:"type"`      // CloudEvents
	Data      struct {
		URL      string `json:"url"`
		BlobType string `json:"blobType"`
		ETag     string `json:"eTag"`
	} `json:"data"`
}

// deliverEvents hands over the blob of every event that concerns the trigger; an error (a
// hand-over that failed, or that another host holds right now) makes the webhook answer 500 so
// that Event Grid delivers the request again. Receipts make the redelivery of events already
// handed over harmless.
func (t *trigger) deliverEvents(ctx context.Context, rc *receipts, enqueue func(context.Context, *Message) error, events []json.RawMessage) error {
	errs := make([]error, len(events))
	sem := make(chan struct{}, handOverWorkers)
	var wg sync.WaitGroup
	for i, raw := range events {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = t.deliverEvent(ctx, rc, enqueue, raw)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (t *trigger) deliverEvent(ctx context.Context, rc *receipts, enqueue func(context.Context, *Message) error, raw json.RawMessage) error {
	var ev blobEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		// Delivering it again cannot help (the real extension fails the request forever).
		t.log.Warn("blob trigger: ignoring an Event Grid event that is not a storage event", "error", err)
		return nil
	}
	typ := ev.EventType
	if typ == "" {
		typ = ev.Type
	}
	if typ != "" && !strings.EqualFold(typ, blobCreated) {
		t.log.Debug("blob trigger: ignoring an Event Grid event that is not BlobCreated", "event_type", typ)
		return nil
	}
	containerName, name, ok := blobFromURL(ev.Data.URL, t.svc.URL())
	if !ok {
		t.log.Warn("blob trigger: ignoring a BlobCreated event without a blob URL in data.url")
		return nil
	}
	if containerName != t.pattern.Container() {
		t.log.Debug("blob trigger: ignoring a BlobCreated event of another container", "container", containerName)
		return nil
	}
	if _, ok := t.pattern.Match(name); !ok {
		t.log.Debug("blob trigger: ignoring a BlobCreated event of a blob that does not match the path pattern", "blob", name, "path", t.pattern.String())
		return nil
	}
	log := t.log.With("container", containerName, "blob", name)
	etag, blobType := quoteETag(strings.TrimSpace(ev.Data.ETag)), strings.TrimSpace(ev.Data.BlobType)
	if etag == "" {
		// Receipts are per version: without the event's ETag, take the blob's current one.
		props, err := t.svc.NewContainerClient(containerName).NewBlobClient(name).GetProperties(ctx, nil)
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			log.Info("blob trigger: the blob of a BlobCreated event no longer exists; ignoring it")
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob %s/%s: read its ETag: %w", containerName, name, err)
		}
		etag, blobType = etagString(props.ETag), blobTypeName(props.BlobType)
	}
	if blobType == "" {
		blobType = "BlockBlob"
	}
	msg := &Message{Type: "BlobTrigger", FunctionID: t.fnID, BlobType: blobType, ContainerName: containerName, BlobName: name, ETag: etag}
	res, err := rc.claim(ctx, t.hostID, t.fnID, etag, containerName, name, true, func(ctx context.Context) error {
		return enqueue(ctx, msg)
	})
	switch res {
	case claimed:
		if err != nil {
			// The message is queued; only marking the receipt complete failed.
			log.Warn("blob trigger: handed the blob over, but its receipt stays incomplete", "error", err)
		}
		return nil
	case alreadyDone:
		log.Debug("blob trigger: this blob version was handed over already")
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob %s/%s: hand-over failed: %w", containerName, name, err)
	}
	return fmt.Errorf("blob %s/%s: another host is handing this version over right now; deliver the event again", containerName, name)
}

// blobFromURL returns the container and the (decoded) blob name of a blob URL:
// https://<account>.blob.core.windows.net/<container>/<blob>, or the path style of the emulator
// and IP endpoints, http://127.0.0.1:10000/<account>/<container>/<blob> (as BlobUriBuilder
// reads them). serviceURL is the trigger's blob service: when it is path-style, its account
// segment is removed from URLs of the same host.
func blobFromURL(raw, serviceURL string) (containerName, name string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", "", false
	}
	p := strings.TrimPrefix(u.Path, "/")
	host := u.Hostname()
	pathStyle := net.ParseIP(host) != nil || strings.EqualFold(host, "localhost")
	if su, err := url.Parse(serviceURL); err == nil && strings.EqualFold(su.Host, u.Host) && strings.Trim(su.Path, "/") != "" {
		pathStyle = true
	}
	if pathStyle {
		_, rest, found := strings.Cut(p, "/")
		if !found {
			return "", "", false
		}
		p = rest
	}
	containerName, name, found := strings.Cut(p, "/")
	if !found || containerName == "" || name == "" {
		return "", "", false
	}
	return containerName, name, true
}
