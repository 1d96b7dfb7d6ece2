package connection

import (
	"context"
	"strings"
	"testing"
)

func FuzzConnectionString(f *testing.F) {
	for _, s := range []string{
		storageCS("a"), "UseDevelopmentStorage=true", "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://[::1]:5",
		sbCS("ns") + ";EntityPath=q", cosmosCS("c"), egCS("t"), "a=b=c;;=;", ";", "", "BlobEndpoint=%zz;SharedAccessSignature=x",
		"Endpoint=sb://;SharedAccessSignature=x", "AccountName=a;AccountKey=" + key1 + ";BlobEndpoint=http://h/a?x=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, svc := range allServices {
			p, err := parseForService(s, svc)
			if err != nil {
				if p != nil {
					t.Fatal("result and error")
				}
				continue
			}
			if p.endpoint == "" || p.credential == "" {
				t.Fatalf("%s: parsed without endpoint or credential", svc)
			}
			red := p.cs.redacted()
			for _, fld := range p.cs.fields {
				if secretConnStringKeys[strings.ToLower(fld.Key)] && !strings.Contains(red, fld.Key+"=***;") {
					t.Fatalf("redacted form does not hide %s", fld.Key)
				}
			}
			// Canonical form parses to the same thing (idempotent).
			p2, err := parseForService(p.cs.String(), svc)
			if err != nil || p2.endpoint != p.endpoint || p2.credential != p.credential {
				t.Fatalf("%s: canonical form does not round-trip: %v", svc, err)
			}
		}
		_ = looksLikeConnectionString(s)
		_ = ScrubText(s)
	})
}

func FuzzKeyMatch(f *testing.F) {
	for _, s := range []string{"AzureWebJobsStorage", "a__b", "A:B:c", "___", "::", "x__", "ConnectionStrings:AzureWebJobsX", "%a%", "%"} {
		f.Add(s, "blobServiceUri")
	}
	f.Fuzz(func(t *testing.T, name, child string) {
		if name == "" || strings.Contains(name, "=") {
			return
		}
		s := NewSettings(FromMap("env", map[string]string{name: "v", name + "__" + child: "w"}))
		if v, ok := s.Get(name); !ok || v != "v" {
			t.Fatalf("Get(%q) = %q %v", name, v, ok)
		}
		if !s.Exists(strings.ToUpper(name)) {
			t.Fatal("Exists is case-sensitive")
		}
		if n := strings.Count(NormalizeKey(name), ":") + 1; NormalizeKey(spelledPrefix(name+"__"+child, n)) != NormalizeKey(name) && !strings.HasSuffix(name, "_") {
			t.Fatalf("spelledPrefix(%q, %d) = %q", name+"__"+child, n, spelledPrefix(name+"__"+child, n))
		}
		for _, svc := range allServices {
			_, _ = NewResolver(s, nil).Explain(context.Background(), name, svc)
		}
	})
}
