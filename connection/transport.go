package connection

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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
// c.ClientOptions, with the shared pooled HTTP client when they carry no transport.
func (c *Connection) SDKOptions() azcore.ClientOptions {
	o := c.ClientOptions
	if o.Transport == nil {
		o.Transport = pooledHTTPClient()
	}
	return o
}
