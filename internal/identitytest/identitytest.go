// Package identitytest serves managed-identity tokens on loopback the way Azure App Service does
// (IDENTITY_ENDPOINT + IDENTITY_HEADER), so tests can run azidentity's ManagedIdentityCredential
// (and DefaultAzureCredential) against Azurite started with --oauth basic.
//
// The tokens are unsigned JWTs (alg "none"): Azurite does not verify signatures but checks iss
// (https://sts.windows.net/<tenant>/), aud (the requested resource), nbf, exp and iat.
//
// Note: MSAL caches managed-identity tokens process-wide, so a second credential in the same test
// binary may not call the server again.
package identitytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure Start; the zero value serves one-hour tokens for a fixed test tenant.
type Options struct {
	TenantID string        // default "72f988bf-0000-0000-0000-000000000001"
	Lifetime time.Duration // default 1h
	Now      func() time.Time
}

// Request is one token request the server answered (or refused).
type Request struct {
	Resource   string // the resource (audience) asked for, e.g. https://storage.azure.com
	ClientID   string // user-assigned identity selectors, when given
	ResourceID string
	ObjectID   string
	Status     int
}

// Server is a running token endpoint.
type Server struct {
	URL    string // the IDENTITY_ENDPOINT value
	Header string // the IDENTITY_HEADER value (a random secret the client must echo)
	Tenant string

	srv  *httptest.Server
	opts Options
	mu   sync.Mutex
	reqs []Request
}

// Start starts a token server on 127.0.0.1 and closes it in t.Cleanup.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	s := New(opts)
	t.Cleanup(s.Close)
	return s
}

// New starts a token server; the caller must Close it.
func New(opts *Options) *Server {
	s := &Server{}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.TenantID == "" {
		s.opts.TenantID = "72f988bf-0000-0000-0000-000000000001"
	}
	if s.opts.Lifetime <= 0 {
		s.opts.Lifetime = time.Hour
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	s.Header = hex.EncodeToString(b[:])
	s.Tenant = s.opts.TenantID
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/msi/token"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetEnv points azidentity's managed identity at this server for the test (t.Setenv), and clears
// the variables that would select another managed-identity source.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("IDENTITY_ENDPOINT", s.URL)
	t.Setenv("IDENTITY_HEADER", s.Header)
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET"} {
		t.Setenv(k, "")
	}
}

// Requests returns the requests served so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := Request{Resource: q.Get("resource"), ClientID: q.Get("client_id"), ResourceID: q.Get("mi_res_id"), ObjectID: q.Get("object_id")}
	fail := func(code int, msg string) {
		req.Status = code
		s.record(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": msg})
	}
	switch {
	case r.Method != http.MethodGet:
		fail(http.StatusMethodNotAllowed, "use GET")
		return
	case r.Header.Get("X-IDENTITY-HEADER") != s.Header:
		fail(http.StatusUnauthorized, "missing or wrong X-IDENTITY-HEADER")
		return
	case q.Get("api-version") == "":
		fail(http.StatusBadRequest, "api-version is required")
		return
	case req.Resource == "":
		fail(http.StatusBadRequest, "resource is required")
		return
	}
	now := s.opts.Now()
	exp := now.Add(s.opts.Lifetime)
	tok := Token(s.Tenant, strings.TrimSuffix(req.Resource, "/.default"), req.ClientID, now, exp)
	req.Status = http.StatusOK
	s.record(req)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     req.Resource,
		"token_type":   "Bearer",
		"client_id":    req.ClientID,
	})
}

// Token returns an unsigned JWT for tenant and audience, valid from now to exp, in the shape
// Azurite's OAuth check accepts.
func Token(tenant, audience, clientID string, now, exp time.Time) string {
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	if clientID == "" {
		clientID = "00000000-0000-0000-0000-00000000a11d"
	}
	claims, _ := json.Marshal(map[string]any{
		"iss":   fmt.Sprintf("https://sts.windows.net/%s/", tenant),
		"aud":   audience,
		"tid":   tenant,
		"oid":   "00000000-0000-0000-0000-0000000000b1",
		"appid": clientID,
		"sub":   "00000000-0000-0000-0000-0000000000b1",
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   exp.Unix(),
	})
	return enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims) + "."
}
