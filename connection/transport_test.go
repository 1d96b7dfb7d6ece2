package connection

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type failingTransport struct{ err error }

func (f failingTransport) Do(*http.Request) (*http.Response, error) { return nil, f.err }

// SDK clients built with SDKOptions get transport errors scrubbed at the source (moved from the
// table connector's call-site redact test): the SAS signature is gone, the error still unwraps,
// and an error without secrets is passed on as it is.
func TestSDKOptionsScrubsTransportErrors(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://acct.table.core.windows.net/$batch?se=2026&sig=c2VjcmV0%2Bkey&sp=r", Err: errors.New("dial tcp: no such host")}
	c := &Connection{Name: "Storage"}
	c.ClientOptions.Transport = failingTransport{inner}
	tr := c.SDKOptions().Transport
	req, _ := http.NewRequest(http.MethodPost, inner.URL, nil)
	_, err := tr.Do(req)
	if strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "sig=***&sp=r") {
		t.Fatalf("not redacted: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatal("redacted error does not unwrap")
	}
	plain := errors.New("nothing secret")
	c.ClientOptions.Transport = failingTransport{plain}
	if _, err := c.SDKOptions().Transport.Do(req); err != plain {
		t.Fatal("an error without a SAS was wrapped")
	}
	// SDKOptions of options that already scrub does not wrap twice.
	c2 := &Connection{}
	c2.ClientOptions = c.SDKOptions()
	if _, ok := c2.SDKOptions().Transport.(*scrubbingTransport).next.(*scrubbingTransport); ok {
		t.Fatal("transport wrapped twice")
	}
}
