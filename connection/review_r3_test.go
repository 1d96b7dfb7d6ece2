package connection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// C13: a connection string given as the name is redacted even when it does not parse cleanly
// (a stray segment without '=', an empty key, a trailing fragment copied along), and a SAS URL
// given as the name is redacted too.
func TestMalformedConnectionStringAsNameIsRedacted(t *testing.T) {
	ctx := context.Background()
	names := []string{
		storageCS("x") + ";oops",
		"=;" + storageCS("x"),
		sbCS("ns") + ";EntityPath",
		"https://a.blob.core.windows.net/c?" + sasTok,
	}
	for _, svc := range allServices {
		for i, name := range names {
			for _, viaSetting := range []bool{false, true} {
				m := map[string]string{}
				n := name
				if viaSetting {
					m["Indirect"] = name
					n = "%Indirect%"
				}
				ex, err := resolver(m).Explain(ctx, n, svc)
				if err == nil {
					t.Fatalf("%s name %d: resolved", svc, i)
				}
				var re *ResolveError
				if !errors.As(err, &re) {
					t.Fatalf("err = %T", err)
				}
				assertNoSecrets(t, "error", err.Error())
				assertNoSecrets(t, "explanation", fmt.Sprintf("%+v %v %v %v", ex.Steps, ex.RawName, ex.Name, re.Fix))
			}
		}
	}
}

// Secrets never leak through a Connection held by value or nested in another value (a connector
// keeping `conn connection.Connection` in its state and logging it), or in slog attributes.
func TestConnectionValueAndJSONNeverPrintSecrets(t *testing.T) {
	for _, cs := range []string{storageCS("a"), "UseDevelopmentStorage=true", "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=" + sasTok} {
		c, err := resolver(map[string]string{"S": cs}).Resolve(context.Background(), "S", Blob)
		if err != nil {
			t.Fatal(err)
		}
		type holder struct {
			Conn Connection
			Ptr  *Connection
		}
		h := holder{Conn: *c, Ptr: c}
		var logBuf strings.Builder
		slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("resolved", "connection", *c, "holder", h)
		slog.New(slog.NewTextHandler(&logBuf, nil)).Info("resolved", "connection", *c, "holder", h)
		out := fmt.Sprintf("%v %+v %#v %v", *c, h, h, []Connection{*c}) + logBuf.String()
		assertNoSecrets(t, "printed connection value", out)
	}
	// An identity section's child that holds a connection string or a key is not shown in
	// Properties either.
	c, err := resolver(map[string]string{"I__blobServiceUri": "https://i.blob.core.windows.net", "I__connectionString": storageCS("i"),
		"I__accountKey": key1, "I__sharedAccessSignature": sasTok}).Resolve(context.Background(), "I", Blob)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "identity properties", fmt.Sprint(c.Properties))
	if c.Properties["blobserviceuri"] != "https://i.blob.core.windows.net" {
		t.Fatalf("properties = %v", c.Properties)
	}
}
