package eventgrid

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// NewClient builds an azeventgrid client for a topic from a resolved Event Grid connection. A key
// connection (a connection string Endpoint=<topic endpoint>;AccessKey=<key>, which is also what
// topicEndpointUri + topicKeySetting become) sends the key in the aeg-sas-key header; an identity
// connection (<name>__topicEndpointUri plus credential properties) sends a bearer token for
// https://eventgrid.azure.net/.default. c.SDKOptions() are used (transport, retry, cloud, and the
// policy that scrubs the connection's secrets from every error).
// azeventgrid refuses to send credentials over plain http: the endpoint must be https.
func NewClient(c *connection.Connection) (*azeventgrid.Client, error) {
	if c == nil {
		return nil, fmt.Errorf("eventgrid: nil connection")
	}
	opts := &azeventgrid.ClientOptions{ClientOptions: c.SDKOptions()}
	var (
		cl  *azeventgrid.Client
		err error
	)
	switch c.Kind {
	case connection.KindConnectionString:
		ep, key := connStringParts(c.ConnectionString)
		if ep == "" || key == "" {
			return nil, fmt.Errorf("eventgrid: connection %q: the connection string needs Endpoint=<topic endpoint>;AccessKey=<key>", c.Name)
		}
		cl, err = azeventgrid.NewClientWithSharedKeyCredential(ep, azcore.NewKeyCredential(key), opts)
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, fmt.Errorf("eventgrid: connection %q has no topic endpoint: set %s__topicEndpointUri", c.Name, c.Name)
		}
		cl, err = azeventgrid.NewClient(c.Endpoint, c.Credential, opts)
	default:
		return nil, fmt.Errorf("eventgrid: connection %q has unsupported kind %q", c.Name, c.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("eventgrid: connection %q (%s %s): %w", c.Name, c.Source, c.Key, err)
	}
	return cl, nil
}

// connStringParts returns Endpoint and AccessKey of an Event Grid connection string (keys matched
// case-insensitively; a value may contain '=').
func connStringParts(cs string) (endpoint, key string) {
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "endpoint":
			endpoint = strings.TrimSpace(v)
		case "accesskey":
			key = strings.TrimSpace(v)
		}
	}
	return endpoint, key
}

// ClientOptionsProvider is implemented by a host's connection resolver that carries SDK client
// options (transport, retry, cloud). The topicEndpointUri + topicKeySetting form of the output
// does not go through the resolver, so it asks the resolver for them this way; without it the
// defaults are used.
type ClientOptionsProvider interface {
	ClientOptions() azcore.ClientOptions
}

// keyConnection builds the connection of the topicEndpointUri + topicKeySetting form: endpoint and
// key read from the named app settings, as a redacting *connection.Connection.
func keyConnection(ctx context.Context, s *driver.Services, endpointSetting, keySetting string) (*connection.Connection, error) {
	var opts connection.ResolverOptions
	if p, ok := s.Connections.(ClientOptionsProvider); ok {
		opts.ClientOptions = p.ClientOptions()
	}
	ep, _ := s.Settings.Get(endpointSetting)
	key, _ := s.Settings.Get(keySetting)
	const name = "topic"
	settings := connection.NewSettings(connection.FromMap("settings "+endpointSetting+" and "+keySetting,
		map[string]string{name: "Endpoint=" + strings.TrimSpace(ep) + ";AccessKey=" + strings.TrimSpace(key)}))
	c, err := connection.NewResolver(settings, &opts).Resolve(ctx, name, connection.EventGrid)
	if err != nil {
		return nil, err
	}
	c.Name, c.Key = keySetting, endpointSetting+" + "+keySetting
	return c, nil
}

// check proves a connection by publishing an empty batch: the topic authenticates the request
// before it looks at the body, so 401 and 403 mean the key or identity is refused, and any other
// answer (the empty batch is rejected as a bad request) means the credential works.
func check(ctx context.Context, c *connection.Connection) error {
	cl, err := NewClient(c)
	if err != nil {
		return err
	}
	_, err = cl.PublishEvents(ctx, []azeventgrid.Event{}, nil)
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode != http.StatusUnauthorized && re.StatusCode != http.StatusForbidden {
		return nil
	}
	return fmt.Errorf("eventgrid: connection %q: %w", c.Name, err) // (scrubbed by c.SDKOptions)
}
