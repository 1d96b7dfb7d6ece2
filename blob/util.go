package blob

import (
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

var zeroTime time.Time

func deref[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

// etagString returns an ETag in its quoted header form ("0x8D…" with quotes), as the real
// system stores it in receipts and trigger messages.
func etagString(e *azcore.ETag) string {
	if e == nil {
		return ""
	}
	return quoteETag(string(*e))
}

func quoteETag(s string) string {
	if s == "" || strings.HasPrefix(s, "\"") {
		return s
	}
	return "\"" + s + "\""
}

type responseError = azcore.ResponseError

const anyETag = azcore.ETagAny

// blobURI is the blob's URI with its name escaped segment by segment ("/" kept), as the
// service and the real binding data show it.
func blobURI(containerURL, name string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(containerURL, "/") + "/" + strings.Join(segs, "/")
}
