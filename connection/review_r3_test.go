package connection

import (
	"context"
	"errors"
	"fmt"
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
