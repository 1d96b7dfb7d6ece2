package connection

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Redacted returns the connection string with every secret (AccountKey, SharedAccessKey,
// SharedAccessSignature, AccessKey) replaced by ***; "" for identity connections.
func (c *Connection) Redacted() string {
	if c == nil {
		return ""
	}
	return c.redactedCS
}

// String describes the connection without secrets.
func (c *Connection) String() string {
	if c == nil {
		return "<nil connection>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "connection %q for %s: %s (%s) from %s key %s", c.Name, c.Service, c.Kind, c.CredentialType, c.Source, c.Key)
	if c.Endpoint != "" {
		fmt.Fprintf(&b, ", endpoint %s", c.Endpoint)
	}
	if c.EntityPath != "" {
		fmt.Fprintf(&b, ", entity %s", c.EntityPath)
	}
	if c.ClientID != "" {
		fmt.Fprintf(&b, ", client id %s", c.ClientID)
	}
	return b.String()
}

// LogValue implements slog.LogValuer: the connection's non-secret fields.
func (c *Connection) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	attrs := []slog.Attr{
		slog.String("name", c.Name), slog.String("service", string(c.Service)),
		slog.String("source", c.Source), slog.String("key", c.Key), slog.String("kind", string(c.Kind)),
		slog.String("endpoint", c.Endpoint), slog.String("credential", c.CredentialType),
	}
	for _, a := range []struct{ k, v string }{{"client_id", c.ClientID}, {"tenant_id", c.TenantID}, {"resource_id", c.ResourceID}, {"entity_path", c.EntityPath}} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, a.v))
		}
	}
	if c.redactedCS != "" {
		attrs = append(attrs, slog.String("connection_string", c.redactedCS))
	}
	return slog.GroupValue(attrs...)
}

// GoString keeps %#v from printing secrets.
func (c *Connection) GoString() string { return c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q) print the redacted String. It has a value
// receiver so that a Connection held by value (or nested by value in another struct, or logged
// by value through slog's text handler) is redacted too; fmt prints "<nil>" for a nil
// *Connection.
func (c Connection) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	fmt.Fprint(f, c.String())
}

// genericSecrets matches secret-looking fragments in free text (SAS signatures, keys in
// connection strings, bearer tokens).
var genericSecrets = regexp.MustCompile(`(?i)((?:AccountKey|SharedAccessKey|AccessKey|SharedAccessSignature|ClientSecret|sig|se?cret|password)=)[^;&\s"']+|(Bearer\s+)[A-Za-z0-9._~+/=-]+`)

// Scrub removes this connection's secret values (and anything that looks like a key, signature or
// token) from s, e.g. an SDK error message before it is printed.
func (c *Connection) Scrub(s string) string {
	if c != nil {
		for _, sec := range c.secrets {
			if len(sec) >= 4 {
				s = strings.ReplaceAll(s, sec, "***")
			}
		}
	}
	return ScrubText(s)
}

// ScrubText removes anything that looks like a key, signature or token from s.
func ScrubText(s string) string {
	s = strings.ReplaceAll(s, DevStoreAccountKey, "***")
	return genericSecrets.ReplaceAllString(s, "${1}${2}***")
}

// redactedError is an error whose text went through ScrubText; Unwrap gives the original error,
// so errors.Is and errors.As keep working.
type redactedError struct {
	msg string
	err error
}

func (r *redactedError) Error() string { return r.msg }
func (r *redactedError) Unwrap() error { return r.err }

// RedactError returns err, or a wrapper whose text has every key, SAS signature and token
// replaced (ScrubText). Connectors pass every service error they log or return through it: the
// SDKs clean their own logs, but a transport error from net/http quotes the full request URL,
// SAS signature included.
func RedactError(err error) error { return redactWith(err, ScrubText) }

// RedactError is the package-level RedactError that also removes this connection's own secret
// values (its key, SAS, client secret, whole connection string) from the text.
func (c *Connection) RedactError(err error) error { return redactWith(err, c.Scrub) }

func redactWith(err error, scrub func(string) string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := scrub(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// ScrubHandler returns a slog.Handler that passes every record to h with its message and its
// string and error attributes scrubbed (ScrubText; errors keep unwrapping to the original). For
// loggers of components that take SDK clients built elsewhere, such as queue.Listener.
func ScrubHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(scrubHandler); ok {
		return h
	}
	return scrubHandler{h, ScrubText}
}

// scrubHandler scrubs with scrub: ScrubText, or a connection's Scrub (Scrubber.Logger).
type scrubHandler struct {
	h     slog.Handler
	scrub func(string) string
}

func (s scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.h.Enabled(ctx, l) }

func (s scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, s.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(s.attr(a))
		return true
	})
	return s.h.Handle(ctx, nr)
}

func (s scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = s.attr(a)
	}
	return scrubHandler{s.h.WithAttrs(out), s.scrub}
}

func (s scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{s.h.WithGroup(name), s.scrub}
}

func (s scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if c := s.scrub(v.String()); c != v.String() {
			return slog.String(a.Key, c)
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.Any(a.Key, redactWith(err, s.scrub))
		}
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = s.attr(x)
		}
		return slog.Group(a.Key, out...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}
