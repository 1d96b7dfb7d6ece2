package blob

import (
	"context"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue"
)

// Reprocess makes the blob trigger of a function process the current version of a blob again:
// it removes the function's receipt for that version and hands the blob over to the internal
// queue azure-webjobs-blobtrigger-<hostID> anew (with a new receipt), so a running host — or the
// next one to start — invokes the function once more. Deleting the receipt alone, as the real
// system documents, is not enough there: a scan only looks at blobs newer than its watermark.
//
// blobs is the blob service of the trigger's connection (receipts live there); queues is the
// queue service of the same account. function is the function name or its id
// ("Host.Functions.<name>").
func Reprocess(ctx context.Context, blobs *service.Client, queues *azqueue.ServiceClient, hostID, function, containerName, blobName string) error {
	// A transport error quotes the request URL, SAS signature included.
	return connection.RedactError(reprocess(ctx, blobs, queues, hostID, function, containerName, blobName))
}

func reprocess(ctx context.Context, blobs *service.Client, queues *azqueue.ServiceClient, hostID, function, containerName, blobName string) error {
	fnID := function
	if !strings.Contains(fnID, ".") {
		fnID = FunctionID(function)
	}
	props, err := blobs.NewContainerClient(containerName).NewBlobClient(blobName).GetProperties(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return fmt.Errorf("reprocess %s/%s: the blob does not exist: %w", containerName, blobName, err)
		}
		return fmt.Errorf("reprocess %s/%s: %w", containerName, blobName, err)
	}
	etag := etagString(props.ETag)
	hosts := blobs.NewContainerClient(HostsContainer)
	rb := hosts.NewBlockBlobClient(receiptName(hostID, fnID, etag, containerName, blobName))
	if _, err := rb.Delete(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
		if bloberror.HasCode(err, bloberror.LeaseIDMissing) || isStatus(err, 412) {
			// A host is handing it over right now; break its lease and delete.
			lc, lerr := lease.NewBlobClient(rb, nil)
			if lerr == nil {
				zero := int32(0)
				_, lerr = lc.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: &zero})
			}
			if lerr == nil {
				_, err = rb.Delete(ctx, nil)
			}
		}
		if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
			return fmt.Errorf("reprocess %s/%s: delete receipt: %w", containerName, blobName, err)
		}
	}
	iq := queues.NewQueueClient(InternalQueueName(hostID))
	if err := createQueue(ctx, iq); err != nil {
		return fmt.Errorf("reprocess %s/%s: create queue %s: %w", containerName, blobName, InternalQueueName(hostID), err)
	}
	msg := &Message{Type: "BlobTrigger", FunctionID: fnID, BlobType: blobTypeName(props.BlobType), ContainerName: containerName, BlobName: blobName, ETag: etag}
	rc := &receipts{hosts: hosts}
	res, err := rc.claim(ctx, hostID, fnID, etag, containerName, blobName, true, func(ctx context.Context) error {
		_, err := iq.EnqueueMessage(ctx, msg.encode(), nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("reprocess %s/%s: %w", containerName, blobName, err)
	}
	if res != claimed {
		return fmt.Errorf("reprocess %s/%s: another host handed the blob over at the same time; it will be processed", containerName, blobName)
	}
	return nil
}

// ReprocessWith is Reprocess for a connection name (as in the trigger's `connection`
// property; "" for AzureWebJobsStorage), resolved with resolver (e.g. connection.NewResolver):
// the entry point for a command-line tool.
func ReprocessWith(ctx context.Context, resolver driver.ConnectionResolver, connectionName, hostID, function, containerName, blobName string) error {
	bc, err := resolver.Resolve(ctx, connectionName, connection.Blob)
	if err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	blobs, err := NewServiceClient(bc)
	if err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	qc, err := resolver.Resolve(ctx, connectionName, connection.Queue)
	if err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	queues, err := queue.NewServiceClient(qc)
	if err != nil {
		return fmt.Errorf("reprocess: %w", err)
	}
	return Reprocess(ctx, blobs, queues, hostID, function, containerName, blobName)
}
