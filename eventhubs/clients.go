package eventhubs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/hoststore"
)

// CheckpointContainer is the AzureWebJobsStorage container holding ownership and checkpoint
// blobs, as Functions and KEDA read them.
const CheckpointContainer = "azure-webjobs-eventhub"

// hubOf returns the event hub a binding talks to: the connection string's EntityPath overrides
// eventHubName (reference §3.6).
func hubOf(c *connection.Connection, declared string) string {
	if c != nil && c.EntityPath != "" {
		return c.EntityPath
	}
	return declared
}

// credKey identifies a connection's credential without holding a secret in readable form.
func credKey(c *connection.Connection) string {
	if c.Kind == connection.KindConnectionString {
		sum := sha256.Sum256([]byte(c.ConnectionString))
		return "cs:" + hex.EncodeToString(sum[:8])
	}
	return fmt.Sprintf("id:%s:%p", c.Key, c.Credential)
}

// namespaceOf is the fully qualified namespace (host[:port]) the SDK reports for the connection.
func namespaceOf(c *connection.Connection) string {
	ns := c.Endpoint
	ns = strings.TrimPrefix(strings.TrimPrefix(ns, "sb://"), "amqps://")
	return strings.TrimSuffix(ns, "/")
}

// NewConsumerClient builds a consumer client for hub and consumerGroup from a resolved
// connection: from its connection string (EntityPath, when present, names the hub) or from
// fullyQualifiedNamespace and the token credential.
func NewConsumerClient(c *connection.Connection, hub, consumerGroup string, opts *azeventhubs.ConsumerClientOptions) (*azeventhubs.ConsumerClient, error) {
	if c == nil {
		return nil, errors.New("eventhubs: nil connection")
	}
	var (
		cc  *azeventhubs.ConsumerClient
		err error
	)
	switch c.Kind {
	case connection.KindConnectionString:
		h := hub
		if c.EntityPath != "" {
			h = ""
		}
		cc, err = azeventhubs.NewConsumerClientFromConnectionString(c.ConnectionString, h, consumerGroup, opts)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("eventhubs: connection %q has no namespace: set %s__fullyQualifiedNamespace", c.Name, c.Name)
		}
		cc, err = azeventhubs.NewConsumerClient(namespaceOf(c), hub, consumerGroup, c.Credential, opts)
	default:
		return nil, fmt.Errorf("eventhubs: connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("eventhubs: connection %q (%s %s): %w", c.Name, c.Source, c.Key, c.RedactError(err))
	}
	return cc, nil
}

// NewProducerClient builds a producer client for hub from a resolved connection (EntityPath,
// when present, names the hub).
func NewProducerClient(c *connection.Connection, hub string, opts *azeventhubs.ProducerClientOptions) (*azeventhubs.ProducerClient, error) {
	if c == nil {
		return nil, errors.New("eventhubs: nil connection")
	}
	var (
		pc  *azeventhubs.ProducerClient
		err error
	)
	switch c.Kind {
	case connection.KindConnectionString:
		h := hub
		if c.EntityPath != "" {
			h = ""
		}
		pc, err = azeventhubs.NewProducerClientFromConnectionString(c.ConnectionString, h, opts)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("eventhubs: connection %q has no namespace: set %s__fullyQualifiedNamespace", c.Name, c.Name)
		}
		pc, err = azeventhubs.NewProducerClient(namespaceOf(c), hub, c.Credential, opts)
	default:
		return nil, fmt.Errorf("eventhubs: connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("eventhubs: connection %q (%s %s): %w", c.Name, c.Source, c.Key, c.RedactError(err))
	}
	return pc, nil
}

// producer is the host's Shared producer for one namespace, credential and hub (the SDK binds an
// AMQP connection to one hub); the runtime closes it after the drain.
type producer struct {
	*azeventhubs.ProducerClient
}

func (p producer) Close() error { return p.ProducerClient.Close(context.Background()) }

type producerKey struct{ ns, cred, hub string }

func sharedProducer(ctx context.Context, s *driver.Services, c *connection.Connection, hub string, retry azeventhubs.RetryOptions) (*azeventhubs.ProducerClient, error) {
	key := producerKey{namespaceOf(c), credKey(c), strings.ToLower(hub)}
	p, err := driver.Shared(ctx, s, key, func(context.Context) (producer, error) {
		pc, err := NewProducerClient(c, hub, &azeventhubs.ProducerClientOptions{RetryOptions: retry})
		return producer{pc}, err
	})
	return p.ProducerClient, err
}

// checkpointContainer is the host's Shared container client for azure-webjobs-eventhub of
// AzureWebJobsStorage.
type checkpointContainerKey struct{}

func sharedCheckpointContainer(ctx context.Context, s *driver.Services) (*container.Client, error) {
	return driver.Shared(ctx, s, checkpointContainerKey{}, func(ctx context.Context) (*container.Client, error) {
		c, err := s.Connections.Resolve(ctx, "AzureWebJobsStorage", connection.Blob)
		if err != nil {
			return nil, &driver.ConfigError{Where: "setting AzureWebJobsStorage", Problem: "eventHubTrigger keeps its checkpoints and partition ownership in AzureWebJobsStorage (container " + CheckpointContainer + ")", Err: err,
				Fix: "define AzureWebJobsStorage (a storage connection string, or AzureWebJobsStorage__accountName with an identity)"}
		}
		return NewCheckpointContainer(c)
	})
}

// NewCheckpointContainer returns the azure-webjobs-eventhub container client of a storage
// connection (resolved for the blob service).
func NewCheckpointContainer(c *connection.Connection) (*container.Client, error) {
	sc, err := hoststore.ServiceClient(c)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: checkpoint store: %w", err)
	}
	return sc.NewContainerClient(CheckpointContainer), nil
}

// ensureContainer creates the checkpoint container if it is missing.
func ensureContainer(ctx context.Context, cc *container.Client) error {
	_, err := cc.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("eventhubs: creating container %s: %w", CheckpointContainer, err)
	}
	return nil
}

// Check implements driver.Extension.Check: one authenticated management call. With a hub in the
// connection (EntityPath) it reads the hub's properties; without one it asks for a hub that does
// not exist, and a "not found" answer proves the credential was accepted.
func Check(ctx context.Context, c *connection.Connection) error {
	hub := c.EntityPath
	probe := hub == ""
	if probe {
		hub = "azbind-connection-check"
	}
	pc, err := NewProducerClient(c, hub, &azeventhubs.ProducerClientOptions{RetryOptions: azeventhubs.RetryOptions{MaxRetries: -1}})
	if err != nil {
		return err
	}
	defer pc.Close(context.WithoutCancel(ctx))
	_, err = pc.GetEventHubProperties(ctx, nil)
	if err == nil {
		return nil
	}
	var ehErr *azeventhubs.Error
	if probe && !(errors.As(err, &ehErr) && ehErr.Code == azeventhubs.ErrorCodeUnauthorizedAccess) && isNotFound(err) {
		return nil
	}
	return fmt.Errorf("eventhubs: connection %q: %w", c.Name, c.RedactError(err))
}

func isNotFound(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "not-found") || strings.Contains(s, "notfound") || strings.Contains(s, "not found") || strings.Contains(s, "could not be found")
}
