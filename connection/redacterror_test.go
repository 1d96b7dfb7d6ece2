package connection

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactError(t *testing.T) {
	if RedactError(nil) != nil {
		t.Fatal("RedactError(nil) != nil")
	}
	plain := errors.New("queue not found")
	if RedactError(plain) != plain {
		t.Error("an error without secrets should be returned as is")
	}
	inner := &url.Error{Op: "Get", URL: "https://acct.queue.core.windows.net/q/messages?se=2030&sig=c2VjcmV0%2Bsig&sp=r", Err: errors.New("connection refused")}
	err := RedactError(inner)
	if strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "sig=***") {
		t.Errorf("not redacted: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) || !errors.Is(err, inner) {
		t.Error("redacted error does not unwrap to the original")
	}
	key := RedactError(errors.New("bad string AccountKey=" + DevStoreAccountKey + ";x"))
	if strings.Contains(key.Error(), DevStoreAccountKey) {
		t.Errorf("account key not redacted: %v", key)
	}
}

func TestConnectionRedactError(t *testing.T) {
	s := NewSettings(FromMap("t", map[string]string{"S": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5c2VjcmV0a2V5;EndpointSuffix=core.windows.net"}))
	c, err := NewResolver(s, nil).Resolve(t.Context(), "S", Blob)
	if err != nil {
		t.Fatal(err)
	}
	e := c.RedactError(errors.New("parse failed near c2VjcmV0a2V5c2VjcmV0a2V5 in " + c.ConnectionString))
	if strings.Contains(e.Error(), "c2VjcmV0a2V5") {
		t.Errorf("connection secret not redacted: %v", e)
	}
}
