package cosmos

import (
	"context"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// Options is host.json's extensions.cosmosDB section, decoded once per binding; the zero value is
// the Functions defaults.
type Options struct {
	// ConnectionMode is Gateway (default) or Direct. azcosmos talks to the gateway only, so Direct
	// is accepted for compatibility and behaves as Gateway.
	ConnectionMode string `binding:"connectionMode"`
	// UserAgentSuffix is appended to the client's User-Agent.
	UserAgentSuffix string `binding:"userAgentSuffix"`
}

// decodeOptions returns the host's extensions.cosmosDB section, decoded and validated once per
// host (driver.Section).
func decodeOptions(ctx context.Context, bc *driver.BindContext) (*Options, error) {
	if bc.Host == nil {
		var o Options
		if err := bc.DecodeConfig(&o); err != nil {
			return nil, err
		}
		return &o, o.Validate()
	}
	return driver.Section[Options](ctx, bc)
}

// Validate implements driver.Validator.
func (o *Options) Validate() error {
	switch strings.ToLower(o.ConnectionMode) {
	case "", "gateway", "direct":
	default:
		return &driver.ConfigError{Where: "host.json: extensions.cosmosDB", Field: "connectionMode",
			Problem: "\"" + o.ConnectionMode + "\" is not a connection mode", Fix: "use Gateway or Direct"}
	}
	return nil
}

// clientKey is what distinguishes two clients of one connection.
func (o *Options) clientKey(preferred []string) string {
	s := strings.Join(preferred, ",")
	if o != nil {
		s += "|" + o.UserAgentSuffix
	}
	return s
}

// splitLocations parses preferredLocations ("East US, West Europe").
func splitLocations(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
