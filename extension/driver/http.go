package driver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// HTTP is owned by the runtime: one server and one router per host. A connector never writes a
// router of its own; it mounts routes on Services.Router and removes them when its trigger
// closes (the unmount func). The router checks Functions keys (Route.Level) before a handler
// runs, so a connector never reads or compares a key.

// AuthLevel is a Functions authorization level (function.json `authLevel`).
type AuthLevel int

const (
	// AuthFunction admits a key of the function (<function>.json), a host function key, a
	// system key or the master key. It is the default of an httpTrigger.
	AuthFunction AuthLevel = iota
	// AuthAnonymous admits every request.
	AuthAnonymous
	// AuthSystem admits the named system key (Route.SystemKey) or the master key; extensions'
	// webhooks use it (Event Grid's `eventgrid_extension`).
	AuthSystem
	// AuthAdmin admits only the master key.
	AuthAdmin
	// AuthUser is accepted in function.json as Functions does and treated as AuthFunction here
	// (App Service authentication is not available outside Azure).
	AuthUser
)

func (l AuthLevel) String() string {
	switch l {
	case AuthAnonymous:
		return "anonymous"
	case AuthFunction:
		return "function"
	case AuthSystem:
		return "system"
	case AuthAdmin:
		return "admin"
	case AuthUser:
		return "user"
	}
	return fmt.Sprintf("AuthLevel(%d)", int(l))
}

// ParseAuthLevel reads a function.json authLevel, case-insensitively ("" is function).
func ParseAuthLevel(s string) (AuthLevel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "function":
		return AuthFunction, nil
	case "anonymous":
		return AuthAnonymous, nil
	case "system":
		return AuthSystem, nil
	case "admin":
		return AuthAdmin, nil
	case "user":
		return AuthUser, nil
	}
	return 0, fmt.Errorf("%q is not an authorization level (anonymous, function, admin, system, user): %w", s, ErrInvalidConfig)
}

// Route is one mount on the host's router.
type Route struct {
	// Template is the path, without a leading slash: literals and, for function routes, the
	// ASP.NET Core template subset Functions accepts ("api/products/{id:int}/{*rest}"). The values
	// of its parameters are read with RouteValues.
	Template string
	// Methods restricts the HTTP methods (upper case); empty admits every method.
	Methods []string
	// Level is who may call the route; the router answers 401 before Handler runs otherwise.
	Level AuthLevel
	// Function names the function whose own keys admit a request at AuthFunction ("" for none).
	Function string
	// SystemKey names the system key that admits a request at AuthSystem (e.g. "eventgrid_extension").
	SystemKey string
	// Handler serves the requests. Its request body is bounded by the host's limit.
	Handler http.Handler
}

// Router is where connectors mount HTTP routes (Services.Router; never nil inside the runtime).
// For an AuthSystem route the runtime makes sure the named system key exists (generated into the
// host's keys when absent); on a host whose storage is the memory fallback that is a
// *ConfigError unless the setting host.systemKey.<name> holds the key.
// Mount fails with ErrConflict when an equal template with overlapping methods is mounted; the
// returned unmount removes the route (idempotent). A trigger mounts in Run, or in its factory,
// and unmounts when Run returns or when it is closed.
type Router interface {
	Mount(r Route) (unmount func(), err error)
}

type routeValuesKey struct{}

// WithRouteValues returns ctx carrying a route's parameter values (the router calls it).
func WithRouteValues(ctx context.Context, v map[string]string) context.Context {
	return context.WithValue(ctx, routeValuesKey{}, v)
}

// RouteValues returns the values of the route template's parameters for r (nil when none).
func RouteValues(r *http.Request) map[string]string {
	v, _ := r.Context().Value(routeValuesKey{}).(map[string]string)
	return v
}

// HTTPReply is the reply of a request/response trigger: what an `http` output binding (or a
// dynamic handler) sets with FunctionContext.SetReply and the HTTP trigger writes.
type HTTPReply struct {
	Status int         // 0 means 200
	Header http.Header // may be nil
	Body   []byte
}
