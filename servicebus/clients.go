package servicebus

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/admin"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// NewClient builds an azservicebus client from a resolved connection: from its connection string,
// or from its fully qualified namespace and token credential (identity). retry is host.json's
// clientRetryOptions (the zero value gives the SDK defaults of Functions).
func NewClient(c *connection.Connection, retry RetryOptions) (*azservicebus.Client, error) {
	if c == nil {
		return nil, errors.New("servicebus: nil connection")
	}
	opts := &azservicebus.ClientOptions{RetryOptions: retry.SDK()}
	var (
		cl  *azservicebus.Client
		err error
	)
	switch c.Kind {
	case connection.KindConnectionString:
		cl, err = azservicebus.NewClientFromConnectionString(c.ConnectionString, opts)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("servicebus: connection %q has no namespace: set %s__fullyQualifiedNamespace", c.Name, c.Name)
		}
		cl, err = azservicebus.NewClient(c.Endpoint, c.Credential, opts)
	default:
		return nil, fmt.Errorf("servicebus: connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		return nil, c.Scrubber().Errorf("servicebus: connection %q (%s %s): %w", c.Name, c.Source, c.Key, err)
	}
	return cl, nil
}

// newAdminClient builds the administration (HTTPS) client used for scale metrics.
func newAdminClient(c *connection.Connection) (*admin.Client, error) {
	opts := &admin.ClientOptions{ClientOptions: c.SDKOptions()}
	switch c.Kind {
	case connection.KindConnectionString:
		return admin.NewClientFromConnectionString(c.ConnectionString, opts)
	case connection.KindIdentity:
		return admin.NewClient(c.Endpoint, c.Credential, opts)
	}
	return nil, fmt.Errorf("servicebus: connection %q has unsupported kind %q", c.Name, c.Kind)
}

// clientKey identifies one AMQP connection per host: namespace and credential.
type clientKey struct {
	kind   connection.Kind
	secret [32]byte // hash of the connection string (never the string itself)
	ns     string
	cred   any
	retry  azservicebus.RetryOptions
}

func keyOf(c *connection.Connection, retry RetryOptions) clientKey {
	k := clientKey{kind: c.Kind, ns: c.Endpoint, retry: retry.SDK()}
	if c.Kind == connection.KindConnectionString {
		k.secret = sha256.Sum256([]byte(c.ConnectionString))
	} else {
		k.cred = c.Credential
	}
	return k
}

// sharedClient is the host's azservicebus.Client for one namespace and credential: one AMQP
// connection shared by every Service Bus binding of the host, closed by the runtime at stop.
type sharedClient struct {
	*azservicebus.Client
	conn  *connection.Connection
	scrub connection.Scrubber // every SDK error logged or returned passes through it
	admin func() (*admin.Client, error)
}

var _ io.Closer = (*sharedClient)(nil)

// Close closes the AMQP connection (at most 30 s).
func (s *sharedClient) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.scrub.Err(s.Client.Close(ctx))
}

// bindingClient resolves the binding's connection and returns the host's shared client for it.
func bindingClient(ctx context.Context, bc *driver.BindContext, retry RetryOptions) (*sharedClient, error) {
	conn, err := bc.Connection(ctx, connection.ServiceBus)
	if err != nil {
		return nil, err
	}
	return driver.Shared(ctx, bc.Host, keyOf(conn, retry), func(context.Context) (*sharedClient, error) {
		cl, err := NewClient(conn, retry)
		if err != nil {
			return nil, &driver.ConfigError{Where: bc.Spec.Where, Field: "connection", Err: err}
		}
		return &sharedClient{Client: cl, conn: conn, scrub: conn.Scrubber(), admin: sync.OnceValues(func() (*admin.Client, error) { return newAdminClient(conn) })}, nil
	})
}

// checkEntity is the entity Check peeks at when the connection names none: the service
// authenticates the credential before it looks the entity up, so "not found" proves the
// credential works.
const checkEntity = "azbind-connection-check"

// check proves that a resolved Service Bus connection works (azbind connection resolve --check):
// it peeks one message of the connection string's EntityPath, or of a name that does not exist.
func check(ctx context.Context, c *connection.Connection) error {
	cl, err := NewClient(c, RetryOptions{MaxRetries: 0, set: map[string]bool{"maxRetries": true}})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cl.Close(cctx)
	}()
	entity := c.EntityPath
	if entity == "" {
		entity = checkEntity
	}
	r, err := cl.NewReceiverForQueue(entity, nil)
	if err != nil {
		return c.Scrubber().Err(err)
	}
	defer r.Close(context.WithoutCancel(ctx))
	_, err = r.PeekMessages(ctx, 1, nil)
	var sbErr *azservicebus.Error
	if err != nil && c.EntityPath == "" && errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeNotFound {
		return nil
	}
	if err != nil {
		return c.Scrubber().Errorf("servicebus: connection %q: %w", c.Name, err)
	}
	return nil
}

// errEntityPathTwice is the .NET client's message when a connection string's EntityPath and the
// entity name disagree (Azure.Messaging.ServiceBus Resources.OnlyOneEntityNameMayBeSpecified,
// thrown by ServiceBusClient.ValidateEntityName).
const errEntityPathTwice = "The path to an Service Bus entity may be specified as part of the connection string or as a separate value, but not both."

// entityPathMismatch reports whether entity (a queue or topic, or "topic/Subscriptions/sub")
// disagrees with the connection string's EntityPath. As the .NET client: the comparison ignores
// case, and a subscription matches an EntityPath naming its topic.
func entityPathMismatch(c *connection.Connection, entity string) bool {
	if c.EntityPath == "" || strings.EqualFold(c.EntityPath, entity) {
		return false
	}
	if topic, _, ok := strings.Cut(entity, "/Subscriptions/"); ok && strings.EqualFold(c.EntityPath, topic) {
		return false
	}
	return true
}

// checkEntityPath refuses an entity name that disagrees with the connection's EntityPath.
func checkEntityPath(bc *driver.BindContext, c *connection.Connection, field, entity string) error {
	if !entityPathMismatch(c, entity) {
		return nil
	}
	return bc.Errorf(field, fmt.Sprintf("remove EntityPath from connection %q, or name the entity %q", c.Name, c.EntityPath),
		"%q disagrees with EntityPath %q of connection %q: %s", entity, c.EntityPath, c.Name, errEntityPathTwice)
}
