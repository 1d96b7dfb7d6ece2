package customhandler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// httpRequestObject is the HTTP trigger's Data value (HttpRequestExtensions.GetRequestAsJObject):
// {Url, Method, Query{k:"v1,v2"}, Headers{k:["v"]}, Params{route values}, Identities[], Body},
// the body as text, or base64 for application/octet-stream and multipart/*.
func httpRequestObject(r *http.Request, fc *extension.FunctionContext) (json.RawMessage, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	headers := map[string][]string{}
	for k, v := range r.Header {
		headers[k] = v
	}
	params := driver.RouteValues(r)
	if params == nil {
		params = map[string]string{}
	}
	var b any
	if len(body) > 0 {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
			b = base64.StdEncoding.EncodeToString(body)
		} else {
			b = string(body)
		}
	}
	u := *r.URL
	if u.Host == "" {
		u.Host = r.Host
	}
	if u.Scheme == "" {
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
	}
	return json.Marshal(map[string]any{"Url": u.String(), "Method": r.Method, "Query": query, "Headers": headers,
		"Params": params, "Identities": []any{}, "Body": b})
}

// hopHeaders are not forwarded (RFC 9110 §7.6.1).
// maxAnswer bounds what is read of a handler's answer (a forwarded reply, an invocation's JSON).
var maxAnswer int64 = 256 << 20

// readAnswer reads a handler's answer, failing (rather than truncating) one over maxAnswer.
func readAnswer(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxAnswer+1))
	if err == nil && int64(len(b)) > maxAnswer {
		return nil, fmt.Errorf("the answer is over the limit of %d bytes", maxAnswer)
	}
	return b, err
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// forward sends the original request to the handler on its original path and query
// (enableForwardingHttpRequest) and replies with the handler's response verbatim: whatever its
// status, the invocation succeeded (redirects are not followed).
func (w *Worker) forward(ctx context.Context, fc *extension.FunctionContext, r *http.Request) error {
	ready, err := w.waitReady(ctx)
	if err != nil {
		return fmt.Errorf("function %q: %w", fc.FunctionName, err)
	}
	// The body is read once, so the whole request is kept for a resend (send) only when it has
	// none; a request with a body that found the process gone fails (the client retries it).
	var body io.Reader
	if r.Body != nil && r.Body != http.NoBody {
		body = r.Body
	}
	id := fc.InvocationID()
	w.track(id, fc.FunctionName)
	defer w.untrack(id)
	mk := func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, r.Method, w.base+r.URL.RequestURI(), body)
		if err != nil {
			return nil, err
		}
		req.Header = r.Header.Clone()
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		req.ContentLength = r.ContentLength
		req.Host = r.Host
		req.Header.Set("X-Azure-Functions-InvocationId", id)
		req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
		return req, nil
	}
	var resp *http.Response
	if body == nil {
		resp, err = w.send(ctx, ready, mk)
	} else if req, mkErr := mk(); mkErr != nil {
		return mkErr
	} else {
		resp, err = w.client.Do(req)
	}
	if err != nil {
		return fmt.Errorf("function %q: forwarding the request to the custom handler failed: %w", fc.FunctionName, withoutQuery(err))
	}
	defer resp.Body.Close()
	b, err := readAnswer(resp.Body)
	if err != nil {
		return fmt.Errorf("function %q: reading the custom handler's response: %w", fc.FunctionName, err)
	}
	h := resp.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Del("Content-Length")
	fc.SetReply(driver.HTTPReply{Status: resp.StatusCode, Header: h, Body: b})
	return nil
}

// withoutQuery drops the query from a client error's URL: the request's `code` parameter is a
// key, and the error is logged.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	u.RawQuery, u.ForceQuery = "", false
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}
