package connection

// STUB: signatures fixed; implementation in progress.

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// ResolverOptions configure a Resolver; the zero value is what a Functions host does.
type ResolverOptions struct {
	// ClientOptions are copied into every Connection (transport, cloud, retry) and used by the
	// credentials the resolver builds.
	ClientOptions azcore.ClientOptions
}

// Resolver resolves connection names against settings. It makes no network call while
// resolving; credentials are built lazily and cached per connection name. Safe for concurrent use.
type Resolver struct{}

// NewResolver returns a resolver over settings (nil settings = empty).
func NewResolver(settings *Settings, opts *ResolverOptions) *Resolver { return &Resolver{} }

// Resolve resolves name (after %x% expansion; "" = the service's default) for svc.
func (r *Resolver) Resolve(ctx context.Context, name string, svc Service) (*Connection, error) {
	panic("not implemented")
}
