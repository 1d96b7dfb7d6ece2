package connection

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

type failingTransport struct{ err error }

func (f failingTransport) Do(*http.Request) (*http.Response, error) { return nil, f.err }

// SDK clients built with SDKOptions get pipeline errors scrubbed at the source (moved from the
// table connector's call-site redact test): the SAS signature is gone, the error still unwraps,
// and an error without secrets is passed on as it is.
func TestSDKOptionsScrubsTransportErrors(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://acct.table.core.windows.net/$batch?se=2026&sig=c2VjcmV0%2Bkey&sp=r", Err: errors.New("dial tcp: no such host")}
	do := func(c *Connection) error {
		o := c.SDKOptions()
		pl := runtime.NewPipeline("test", "v0", runtime.PipelineOptions{}, &policy.ClientOptions{Transport: o.Transport, PerCallPolicies: o.PerCallPolicies, Retry: policy.RetryOptions{MaxRetries: -1}})
		req, err := runtime.NewRequest(context.Background(), http.MethodPost, inner.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pl.Do(req)
		return err
	}
	c := &Connection{Name: "Storage"}
	c.ClientOptions.Transport = failingTransport{inner}
	err := do(c)
	if strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "sig=***&sp=r") {
		t.Fatalf("not redacted: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatal("redacted error does not unwrap")
	}
	plain := errors.New("nothing secret")
	c.ClientOptions.Transport = failingTransport{plain}
	if err := do(c); !errors.Is(err, plain) || err.Error() != plain.Error() {
		t.Fatalf("an error without a SAS was changed: %v", err)
	}
	// SDKOptions of options that already scrub adds no second policy.
	c2 := &Connection{}
	c2.ClientOptions = c.SDKOptions()
	if n := len(c2.SDKOptions().PerCallPolicies); n != 1 {
		t.Fatalf("%d per-call policies, want 1", n)
	}
}

func TestScrubHandler(t *testing.T) {
	var b strings.Builder
	log := slog.New(ScrubHandler(slog.NewTextHandler(&b, nil))).With("url", "https://a/q?sig=secretsig1")
	err := &url.Error{Op: "Get", URL: "https://a/q?sig=secretsig2", Err: errors.New("refused")}
	log.Error("failed sig=secretsig3", "error", err, slog.Group("g", "s", "AccountKey=secretkey4"))
	if out := b.String(); strings.Contains(out, "secret") || !strings.Contains(out, "sig=***") {
		t.Fatalf("not scrubbed: %s", out)
	}
}
