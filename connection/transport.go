package connection

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// pooledHTTPClient is shared by every SDK client built without a transport of its own: enough
// idle connections per host for a connector's concurrent requests (Go's default keeps only 2,
// which turns every burst into new TCP connections), and an idle timeout below Azurite's and the
// service's keep-alive so that pooled connections are not reused after the server closed them.
var pooledHTTPClient = sync.OnceValue(func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 256
	tr.IdleConnTimeout = 4 * time.Second
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Transport: tr}
})

// SDKOptions returns the azcore.ClientOptions an SDK client built from this connection must use:
// c.ClientOptions, with the shared pooled HTTP client when they carry no transport, and that
// transport wrapped so that its errors come out scrubbed of this connection's secrets. This is
// the one place connectors' service errors are redacted: net/http quotes the full request URL —
// SAS signature included — in transport errors, which the SDKs pass on as they are; responses
// from the service (azcore.ResponseError) print the URL without its query.
func (c *Connection) SDKOptions() azcore.ClientOptions {
	o := c.ClientOptions
	if o.Transport == nil {
		o.Transport = pooledHTTPClient()
	}
	if _, ok := o.Transport.(*scrubbingTransport); !ok {
		o.Transport = &scrubbingTransport{next: o.Transport, c: c}
	}
	return o
}

// scrubbingTransport passes requests to next and scrubs the errors it returns (Connection.Scrub);
// the scrubbed error unwraps to the original, so errors.Is and errors.As keep working.
type scrubbingTransport struct {
	next policy.Transporter
	c    *Connection
}

func (t *scrubbingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.next.Do(req)
	if err != nil {
		return resp, t.c.RedactError(err)
	}
	return resp, nil
}
