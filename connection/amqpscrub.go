package connection

import (
	"fmt"
	"log/slog"
)

// Scrubber is the scrub boundary of a connector whose SDK takes no azcore.ClientOptions — the
// AMQP SDKs azservicebus and azeventhubs: the transport scrub of SDKOptions does not reach their
// errors, which may quote a connection string or a SAS token. Everything that crosses from such
// an SDK into a log or a returned error goes through the connection's one Scrubber, instead of a
// redaction at every call site: log through Logger, return errors through Errorf or Err. Each
// removes the connection's own secret values (key, SAS, client secret, whole connection string)
// and anything that looks like a key, signature or token; errors keep unwrapping to the
// original, so errors.Is and errors.As still work.
//
// The zero Scrubber (or one of a nil *Connection) scrubs with the generic patterns only.
type Scrubber struct{ c *Connection }

// Scrubber returns the connection's scrub boundary.
func (c *Connection) Scrubber() Scrubber { return Scrubber{c} }

// Logger returns l with every record scrubbed: its message and its string and error attributes,
// in groups and in attributes added With.
func (s Scrubber) Logger(l *slog.Logger) *slog.Logger {
	return slog.New(scrubHandler{l.Handler(), s.c.Scrub})
}

// Err returns err scrubbed (nil stays nil; an error with nothing to scrub is returned as is).
func (s Scrubber) Err(err error) error { return s.c.RedactError(err) }

// Errorf is fmt.Errorf whose result is scrubbed: wrap an SDK error with %w and context.
func (s Scrubber) Errorf(format string, args ...any) error {
	return s.c.RedactError(fmt.Errorf(format, args...))
}
