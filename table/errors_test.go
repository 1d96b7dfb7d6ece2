package table

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactSAS(t *testing.T) {
	inner := &url.Error{Op: "Post", URL: "https://acct.table.core.windows.net/$batch?se=2026&sig=c2VjcmV0%2Bkey&sp=r", Err: errors.New("dial tcp: no such host")}
	err := redact(inner)
	if strings.Contains(err.Error(), "c2VjcmV0") || !strings.Contains(err.Error(), "sig=***&sp=r") {
		t.Fatalf("not redacted: %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatal("redacted error does not unwrap")
	}
	plain := errors.New("nothing secret")
	if redact(plain) != plain {
		t.Fatal("an error without a SAS was wrapped")
	}
}

func TestParseODataError(t *testing.T) {
	code, msg, idx := parseODataError([]byte(`{"odata.error":{"code":"EntityAlreadyExists","message":{"lang":"en-US","value":"12:The specified entity already exists.\nRequestId:x"}}}`), "")
	if code != "EntityAlreadyExists" || msg != "The specified entity already exists." || idx != 12 {
		t.Fatalf("got %q %q %d", code, msg, idx)
	}
	code, _, idx = parseODataError([]byte(`not json`), "Fallback")
	if code != "Fallback" || idx != -1 {
		t.Fatalf("got %q %d", code, idx)
	}
}

func TestGUID(t *testing.T) {
	g, err := ParseGUID("{0F8FAD5B-D9CB-469F-A165-70867728950E}")
	if err != nil || g.String() != "0f8fad5b-d9cb-469f-a165-70867728950e" {
		t.Fatalf("%v %v", g, err)
	}
	if n, err := ParseGUID("0f8fad5bd9cb469fa16570867728950e"); err != nil || n != g {
		t.Fatalf("N form: %v %v", n, err)
	}
	for _, bad := range []string{"", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b_d9cb_469f_a165_70867728950e", "zf8fad5b-d9cb-469f-a165-70867728950e"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) accepted", bad)
		}
	}
}
