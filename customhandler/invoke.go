package customhandler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/azbind/azbind/extension"
	"github.com/google/uuid"
)

// Handler is the extension.Dynamic handler that forwards each invocation to the process; use
// it as HostOptions.DefaultHandler (or Host.Handle for some functions).
func (w *Worker) Handler() extension.Handler { return extension.Dynamic(w.invoke) }

// request is the invocation request body (HttpScriptInvocationContext).
type request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// response is the handler's answer (HttpScriptInvocationResult).
type response struct {
	Outputs     map[string]json.RawMessage `json:"Outputs"`
	Logs        []json.RawMessage          `json:"Logs"`
	ReturnValue json.RawMessage            `json:"ReturnValue"`
}

func (w *Worker) invoke(ctx context.Context, inv *extension.DynamicInvocation) (extension.Outputs, error) {
	fc := extension.FromContext(ctx)
	if r, ok := inv.Data.(*http.Request); ok && w.cfg.EnableForwardingHTTPRequest && onlyHTTPOutputs(inv) {
		return nil, w.forward(ctx, fc, r)
	}
	body, err := w.buildRequest(ctx, inv, fc)
	if err != nil {
		return nil, err
	}
	ready, err := w.waitReady(ctx)
	if err != nil {
		return nil, fmt.Errorf("function %q: %w", inv.Function, err)
	}
	id := fc.InvocationID()
	w.track(id, inv.Function)
	defer w.untrack(id)
	resp, err := w.send(ctx, ready, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.base+"/"+url.PathEscape(inv.Function), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Azure-Functions-InvocationId", id)
		req.Header.Set("X-Azure-Functions-HostVersion", HostVersion)
		req.Header.Set("User-Agent", "Azure-Functions-Host/"+HostVersion)
		return req, nil
	})
	if err != nil {
		return nil, fmt.Errorf("function %q: custom handler request failed: %w", inv.Function, err)
	}
	defer resp.Body.Close()
	raw, err := readAnswer(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("function %q: reading the custom handler's response: %w", inv.Function, err)
	}
	// EnsureSuccessStatusCode: a non-2xx fails the invocation; its Outputs and Logs are dropped
	// (as in Functions, azure-functions-host#11086).
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("function %q: the custom handler answered %s: %s", inv.Function, resp.Status, excerpt(raw))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, fmt.Errorf("function %q: the custom handler answered Content-Type %q: answer application/json with {\"Outputs\":{…},\"Logs\":[…],\"ReturnValue\":…}", inv.Function, resp.Header.Get("Content-Type"))
	}
	var res response
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("function %q: Invalid HttpResponseMessage: StatusCode: %d: %v: %s", inv.Function, resp.StatusCode, err, excerpt(raw))
		}
	}
	lg := fc.Logger()
	for _, l := range res.Logs {
		var s string
		if json.Unmarshal(l, &s) != nil {
			s = string(l)
		}
		lg.LogAttrs(ctx, slog.LevelInfo, s, slog.String("source", "customHandler"))
	}
	return w.outputs(inv, &res)
}

// send sends the request mk makes to the process that was ready. A request that found nothing
// listening (the process had just exited, before the worker saw it) never reached the handler:
// it waits for the restarted process and is sent again (at most twice), rather than failing an
// invocation, and burning a delivery, for a crash it was not part of.
func (w *Worker) send(ctx context.Context, ready chan struct{}, mk func() (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := mk()
		if err != nil {
			return nil, err
		}
		resp, err := w.client.Do(req)
		if err == nil || attempt == 2 || !errors.Is(err, syscall.ECONNREFUSED) || !w.awaitRestart(ctx, ready) {
			return resp, err
		}
		w.mu.Lock()
		ready = w.readyCh
		w.mu.Unlock()
	}
}

func excerpt(b []byte) string {
	const n = 512
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

func (w *Worker) track(id, fn string) {
	w.mu.Lock()
	w.inflight[id] = fn
	w.mu.Unlock()
}

// untrack ends an invocation. When it was the only one in flight, what the handler printed
// before it answered is logged first (up to 100 ms), so those lines name it.
func (w *Worker) untrack(id string) {
	w.mu.Lock()
	outs := w.outs
	sole := len(w.inflight) == 1
	w.mu.Unlock()
	if sole {
		for _, o := range outs {
			o.settle(100 * time.Millisecond)
		}
	}
	w.mu.Lock()
	delete(w.inflight, id)
	w.mu.Unlock()
}

// buildRequest encodes the trigger, the inputs and the binding data as Functions does
// (ScriptInvocationContextExtensions.ToHttpScriptInvocationContext).
func (w *Worker) buildRequest(ctx context.Context, inv *extension.DynamicInvocation, fc *extension.FunctionContext) ([]byte, error) {
	rq := request{Data: map[string]json.RawMessage{}, Metadata: map[string]json.RawMessage{}}
	tb := inv.TriggerBinding
	var tv json.RawMessage
	var err error
	switch {
	case inv.Batch != nil:
		tv, err = w.encodeBatch(inv.Batch, tb.DataType)
	default:
		if r, ok := inv.Data.(*http.Request); ok {
			tv, err = httpRequestObject(r, fc)
		} else if _, isJSON := inv.Data.(json.RawMessage); !isJSON && isContent(inv.Data) {
			// (a json.RawMessage trigger value — the timer's TimerInfo, an event — is a value:
			// an object stays an object)
			var b []byte
			if b, err = inv.Bytes(); err == nil {
				tv, err = w.encodeContent(b, tb.DataType)
			}
		} else {
			tv, err = w.encodeValue(inv.Data, tb.DataType)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("trigger %q: %w", tb.Name, err)
	}
	rq.Data[tb.Name] = tv
	for _, b := range inv.Bindings {
		v, ok := inv.Inputs[b.Name]
		if !ok {
			continue
		}
		var e json.RawMessage
		if isContent(v) {
			e, err = w.encodeContent(v, b.DataType)
		} else {
			e, err = w.encodeValue(v, b.DataType)
		}
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", b.Name, err)
		}
		rq.Data[b.Name] = e
	}
	// Metadata: binding data minus *trigger keys (the trigger's value is in Data) and requests.
	for k, v := range inv.Metadata {
		if v == nil || strings.HasSuffix(strings.ToLower(k), "trigger") {
			continue
		}
		if _, isReq := v.(*http.Request); isReq {
			continue
		}
		e, err := w.encodeValue(v, "")
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", k, err)
		}
		rq.Metadata[k] = e
	}
	sys, _ := json.Marshal(map[string]any{"MethodName": inv.Function, "UtcNow": time.Now().UTC().Format("2006-01-02T15:04:05.9999999Z"), "RandGuid": uuid.NewString()})
	rq.Metadata["sys"] = sys
	if fc.Retry.MaxRetryCount != 0 {
		var exc any
		if fc.Retry.LastErr != nil {
			exc = map[string]any{"Message": fc.Retry.LastErr.Error()}
		}
		rc, _ := json.Marshal(map[string]any{"RetryCount": fc.Retry.RetryCount, "MaxRetryCount": fc.Retry.MaxRetryCount, "Exception": exc})
		rq.Metadata["RetryContext"] = rc
	}
	return json.Marshal(rq)
}

// encodeBatch encodes a `cardinality: many` trigger value as Functions does an array (string[]
// or byte[][]): JObject.FromObject fails on an array, so it arrives as its JSON text inside a
// string; each item is text, or base64 for binary. StrictTypes sends the array itself.
func (w *Worker) encodeBatch(batch []any, dataType string) (json.RawMessage, error) {
	items := make([]any, len(batch))
	for i, it := range batch {
		var b []byte
		switch x := it.(type) {
		case json.RawMessage:
			if isJSONObject(x) {
				items[i] = x
				continue
			}
			b = x
		default:
			var err error
			if b, err = contentOf(it); err != nil {
				return nil, err
			}
		}
		if strings.EqualFold(dataType, "binary") || !utf8.Valid(b) {
			items[i] = base64.StdEncoding.EncodeToString(b)
		} else {
			items[i] = string(b)
		}
	}
	text, err := json.Marshal(items)
	if err != nil || w.cfg.StrictTypes {
		return text, err
	}
	return json.Marshal(string(text))
}

// contentOf returns the bytes of a content value, or the JSON of any other value.
func contentOf(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case io.Reader:
		return io.ReadAll(x)
	}
	return json.Marshal(v)
}

func isContent(v any) bool {
	switch v.(type) {
	case nil, []byte, string, json.RawMessage, io.Reader:
		return true
	}
	return false
}

// encodeContent encodes a payload: text (a string) unless the binding is dataType binary or the
// bytes are not UTF-8 (then base64, as byte[] is).
func (w *Worker) encodeContent(v any, dataType string) (json.RawMessage, error) {
	var b []byte
	switch x := v.(type) {
	case nil:
		return w.encodeValue(nil, dataType)
	case []byte:
		b = x
	case json.RawMessage:
		b = x
	case string:
		return w.encodeValue(x, dataType)
	case io.Reader:
		var err error
		if b, err = io.ReadAll(x); err != nil {
			return nil, err
		}
	}
	if strings.EqualFold(dataType, "binary") || !utf8.Valid(b) {
		return w.encodeValue(b, dataType)
	}
	return w.encodeValue(string(b), dataType)
}

// encodeValue is GetHttpScriptInvocationContextValue: bytes ⇒ base64; a value that is a JSON
// object ⇒ that object; anything else (strings, numbers, times, arrays) ⇒ its JSON text as a
// JSON string — the quirk that delivers "hello" as "\"hello\"" and 4 as "4". StrictTypes keeps
// every value as its own JSON.
func (w *Worker) encodeValue(v any, _ string) (json.RawMessage, error) {
	var text []byte
	switch x := v.(type) {
	case []byte:
		return json.Marshal(base64.StdEncoding.EncodeToString(x))
	case json.RawMessage:
		text = x
	case time.Time:
		// Json.NET's DateTimeOffset form: up to 7 fraction digits, the offset as ±hh:mm.
		text, _ = json.Marshal(x.Format(netTimeLayout))
	default:
		var err error
		if text, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("cannot encode %T as JSON: %w", v, err)
		}
	}
	if w.cfg.StrictTypes || isJSONObject(text) {
		return text, nil
	}
	return json.Marshal(string(text))
}

const netTimeLayout = "2006-01-02T15:04:05.9999999-07:00"

func isJSONObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// outputs applies the response to the function's out bindings (HttpScriptInvocationResult
// Extensions.ToScriptInvocationResult): matched by exact name; unknown names ignored; an http
// output always answers (an empty object when the handler gave none: 200, no body).
func (w *Worker) outputs(inv *extension.DynamicInvocation, res *response) (extension.Outputs, error) {
	outs := extension.Outputs{}
	for _, b := range inv.Bindings {
		if b.IsTrigger() || (b.Direction != extension.DirOut && b.Direction != extension.DirInOut) {
			continue
		}
		var raw json.RawMessage
		var present bool
		if b.Name == "$return" {
			raw, present = res.ReturnValue, len(res.ReturnValue) > 0 && string(res.ReturnValue) != "null"
		} else {
			raw, present = res.Outputs[b.Name]
			present = present && string(raw) != "null"
		}
		if strings.EqualFold(b.Type, "http") {
			v, err := httpOutput(raw, present)
			if err != nil {
				return nil, fmt.Errorf("function %q: output %q: %w", inv.Function, b.Name, err)
			}
			if v != nil {
				outs[b.Name] = v
			}
			continue
		}
		if !present {
			continue
		}
		outs[b.Name] = w.outputValue(raw, b.DataType)
	}
	return outs, nil
}

// outputValue converts one output value (GetBindingValue): a string that decodes as base64 is
// written as those bytes unless the binding is binary (Functions' quirk; StrictTypes decodes
// only for binary bindings); other JSON values are written as their JSON text; an array writes
// one item per element.
func (w *Worker) outputValue(raw json.RawMessage, dataType string) any {
	raw = bytes.TrimSpace(raw)
	binary := strings.EqualFold(dataType, "binary")
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return raw
		}
		if binary == w.cfg.StrictTypes { // quirk mode: non-binary; strict: binary
			if b, ok := dotnetBase64(s); ok {
				return b
			}
		}
		return s
	case len(raw) > 0 && raw[0] == '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return raw
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			if string(it) != "null" {
				out = append(out, w.outputValue(it, dataType))
			}
		}
		return out
	}
	return raw
}

// dotnetBase64 decodes s as Convert.FromBase64String does: white space ignored, padding
// required.
func dotnetBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// httpOutput is the value for an http output: the handler's object as json.RawMessage in the
// Functions shape {statusCode|status, body, headers} (a JSON string holding such an object is
// parsed as Functions parses value.ToString()).
func httpOutput(raw json.RawMessage, present bool) (any, error) {
	if !present {
		return json.RawMessage(`{}`), nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		raw = json.RawMessage(s)
	}
	if !isJSONObject(raw) || !json.Valid(raw) {
		return nil, fmt.Errorf("the answer is not an http response: Failed while trying to Deserialize to httpOutputBindingResponse: Output body should have 'StatusCode', 'Status', 'Body', and 'Headers': got %s", excerpt(raw))
	}
	return raw, nil
}

func onlyHTTPOutputs(inv *extension.DynamicInvocation) bool {
	for _, b := range inv.Bindings {
		if b.IsTrigger() {
			if !strings.EqualFold(b.Type, "httpTrigger") {
				return false
			}
			continue
		}
		if !strings.EqualFold(b.Type, "http") {
			return false
		}
	}
	return true
}
