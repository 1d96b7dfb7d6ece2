package azhttp

import (
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// Options is host.json `extensions.http` as far as the trigger uses it (the host's server reads
// the limits in the same section).
type Options struct {
	// RoutePrefix prefixes every HTTP function's route: default "api"; "" removes it.
	RoutePrefix string `binding:"routePrefix"`
}

// Validate implements driver.Validator.
func (o *Options) Validate() error {
	if strings.ContainsAny(o.RoutePrefix, "{}?") {
		return &driver.ConfigError{Where: "host.json: extensions.http", Field: "routePrefix",
			Problem: "must be a literal path, got " + quote(o.RoutePrefix), Fix: `use a prefix such as "api", or "" for none`}
	}
	return nil
}

// routePrefix returns the prefix for bc: the decoded one, "api" when routePrefix is absent.
// (An explicit "" is kept: Decode treats an empty string as absent, so presence is read here.)
func routePrefix(o *Options, bc *driver.BindContext) string {
	if o.RoutePrefix != "" {
		return strings.Trim(o.RoutePrefix, "/")
	}
	for k, v := range bc.Config {
		if strings.EqualFold(k, "routePrefix") && v == "" {
			return ""
		}
	}
	return "api"
}

func quote(s string) string { return `"` + s + `"` }
