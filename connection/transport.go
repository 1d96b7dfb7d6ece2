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
// c.ClientOptions, with the shared pooled HTTP client when they carry no transport, and with a
// first per-call policy that scrubs this connection's secrets from every error the pipeline
// returns (Connection.Scrub). This is the one place connectors' service errors are redacted:
// net/http quotes the full request URL — SAS signature included — in transport errors, which the
// SDKs pass on as they are; responses from the service (azcore.ResponseError) print the URL
// without its query.
func (c *Connection) SDKOptions() azcore.ClientOptions {
	o := c.ClientOptions
	if o.Transport == nil {
		o.Transport = pooledHTTPClient()
	}
	if len(o.PerCallPolicies) == 0 || !isScrubPolicy(o.PerCallPolicies[0]) {
		o.PerCallPolicies = append([]policy.Policy{scrubPolicy{c}}, o.PerCallPolicies...)
	}
	return o
}

// scrubPolicy passes the request on and scrubs the error that comes back (from the transport,
// the retry policy, authentication or any later policy); the scrubbed error unwraps to the
// original, so errors.Is and errors.As keep working.
type scrubPolicy struct{ c *Connection }

func (p scrubPolicy) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err != nil {
		return resp, p.c.RedactError(err)
	}
	return resp, nil
}

func isScrubPolicy(p policy.Policy) bool { _, ok := p.(scrubPolicy); return ok }
