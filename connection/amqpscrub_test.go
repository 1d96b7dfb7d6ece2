package connection_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/azbind/azbind/connection"
)

// The AMQP scrub boundary removes the connection's own key (which no generic pattern would catch
// in free text) from log records and returned errors, and errors still unwrap to the original.
func TestScrubberLoggerAndErrors(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZS0xMjM0NTY3ODkw"
	r := connection.NewResolver(connection.NewSettings(connection.FromMap("t", map[string]string{
		"AzureWebJobsServiceBus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + key,
	})), nil)
	c, err := r.Resolve(context.Background(), "", connection.ServiceBus)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Scrubber()
	sdkErr := errors.New("amqp: link detached: token " + key + " rejected")

	var buf bytes.Buffer
	log := s.Logger(slog.New(slog.NewTextHandler(&buf, nil))).With("conn", "raw "+key)
	log.Error("receive failed with "+key, "error", sdkErr, slog.Group("g", "detail", key))
	if strings.Contains(buf.String(), key) {
		t.Errorf("the key reached the log: %s", buf.String())
	}
	if strings.Count(buf.String(), "***") < 4 {
		t.Errorf("want the message, the With attribute, the error and the group attribute scrubbed: %s", buf.String())
	}

	e := s.Errorf("servicebus: q: %w", sdkErr)
	if strings.Contains(e.Error(), key) || !errors.Is(e, sdkErr) {
		t.Errorf("Errorf = %v (unwraps to the SDK error: %v)", e, errors.Is(e, sdkErr))
	}
	if s.Err(nil) != nil {
		t.Error("Err(nil) != nil")
	}
	plain := errors.New("not found")
	if s.Err(plain) != plain {
		t.Error("an error with nothing to scrub should be returned as is")
	}
	if got := (connection.Scrubber{}).Errorf("x %s", "SharedAccessKey=abcd1234").Error(); strings.Contains(got, "abcd1234") {
		t.Errorf("the zero Scrubber does not apply the generic patterns: %s", got)
	}
}
