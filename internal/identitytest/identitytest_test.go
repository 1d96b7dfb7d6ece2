package identitytest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func claims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("not an unsigned JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// azidentity's ManagedIdentityCredential (App Service source) gets a token from the server.
func TestManagedIdentityCredential(t *testing.T) {
	s := Start(t, nil)
	s.SetEnv(t)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("uami-1")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tk, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://storage.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	c := claims(t, tk.Token)
	if c["aud"] != "https://storage.azure.com" || c["iss"] != "https://sts.windows.net/"+s.Tenant+"/" || c["appid"] != "uami-1" {
		t.Fatalf("claims = %v", c)
	}
	if exp, _ := c["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) < 50*time.Minute {
		t.Fatalf("exp = %v", c["exp"])
	}
	if tk.ExpiresOn.Before(time.Now().Add(50 * time.Minute)) {
		t.Fatalf("ExpiresOn = %v", tk.ExpiresOn)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Resource != "https://storage.azure.com" || reqs[0].ClientID != "uami-1" || reqs[0].Status != 200 {
		t.Fatalf("requests = %+v", reqs)
	}
}

func TestRejectsWrongHeader(t *testing.T) {
	s := Start(t, &Options{TenantID: "tid"})
	for _, h := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"?api-version=2019-08-01&resource=https://storage.azure.com", nil)
		if h != "" {
			req.Header.Set("X-IDENTITY-HEADER", h)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"?api-version=2019-08-01", nil)
	req.Header.Set("X-IDENTITY-HEADER", s.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("missing resource: status %d", resp.StatusCode)
	}
}

func TestTokenShape(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := claims(t, Token("tid", "https://storage.azure.com", "", now, now.Add(time.Hour)))
	for _, k := range []string{"nbf", "iat", "exp", "iss", "aud", "tid", "oid"} {
		if _, ok := c[k]; !ok {
			t.Fatalf("claim %s missing", k)
		}
	}
	if c["exp"].(float64) != float64(now.Add(time.Hour).Unix()) || c["nbf"].(float64) >= float64(now.Unix())+1 {
		t.Fatalf("times %v", c)
	}
}
