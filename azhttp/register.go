package azhttp

import (
	"net/http"

	"github.com/azbind/azbind/extension/driver"
)

func init() {
	driver.Register(driver.Extension{
		Name: "http",
		Bindings: []driver.BindingType{
			{Type: "httpTrigger", NewTrigger: newTrigger},
			{Type: "http", NewOutput: newOutput},
		},
	})
}

// TriggerOptions are an httpTrigger's function.json properties for the Go API. The zero value is
// Functions' default: the route is the function's name, every method, authLevel function.
type TriggerOptions struct {
	// Route is the template after the host's routePrefix ("products/{id:int}"); "" is the
	// function's name.
	Route string
	// Methods admits only these methods ("GET", "POST"); empty admits every method.
	Methods []string
	// AuthLevel is who may call the function; the zero value is driver.AuthFunction (a key).
	AuthLevel driver.AuthLevel
}

// Trigger declares an httpTrigger for the Go API (Host.Func). opts may be nil.
func Trigger(name string, opts *TriggerOptions, props ...driver.Props) *driver.BindingSpec {
	if opts == nil {
		opts = &TriggerOptions{}
	}
	p := driver.Props{"authLevel": opts.AuthLevel.String()}
	if opts.Route != "" {
		p["route"] = opts.Route
	}
	if len(opts.Methods) > 0 {
		m := make([]any, len(opts.Methods))
		for i, s := range opts.Methods {
			m[i] = s
		}
		p["methods"] = m
	}
	for _, x := range props {
		for k, v := range x {
			p[k] = v
		}
	}
	return driver.Binding("httpTrigger", name, driver.DirIn, p)
}

// Output declares an `http` output binding: the response of the function's httpTrigger. name is
// "$return" for the handler's return value, or the name of a field of a result struct tagged
// `azbind:"name"` (next to queue or blob outputs).
func Output(name string) *driver.BindingSpec {
	return driver.Binding("http", name, driver.DirOut, nil)
}

// Authorization levels for TriggerOptions.AuthLevel (function.json authLevel).
const (
	Function  = driver.AuthFunction  // a function key, a host key or the master key (the default)
	Anonymous = driver.AuthAnonymous // every request
	Admin     = driver.AuthAdmin     // the master key only
)

// RouteValues returns the values of the route template's parameters for r (URL-decoded; an
// absent optional parameter is missing).
func RouteValues(r *http.Request) map[string]string { return driver.RouteValues(r) }
