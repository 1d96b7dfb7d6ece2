package table

import (
	"testing"
)

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
