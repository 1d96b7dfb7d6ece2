package azhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// Response is what a handler returns (or sets in a result struct's field) for the `http` output.
type Response struct {
	// Status is the status code; 0 means 200.
	Status int
	// Header is sent as is (may be nil).
	Header http.Header
	// Body: nil sends no body; []byte and string are sent as they are (a string with Content-Type
	// text/plain; charset=utf-8 unless Header sets one); json.RawMessage is sent as JSON; an
	// io.Reader is read to the end; any other value is JSON-encoded (application/json).
	Body any
}

// JSON returns a Response with v JSON-encoded.
func JSON(status int, v any) Response { return Response{Status: status, Body: v} }

// Text returns a Response with a text/plain body.
func Text(status int, s string) Response { return Response{Status: status, Body: s} }

const (
	ctJSON = "application/json; charset=utf-8"
	ctText = "text/plain; charset=utf-8"
)

// Shared, never modified headers for replies without headers of their own (the trigger copies
// the value slices into the response's header map; their capacity is their length, so an Add
// there reallocates instead of writing into them).
var (
	jsonHeader = http.Header{"Content-Type": []string{ctJSON}[:1:1]}
	textHeader = http.Header{"Content-Type": []string{ctText}[:1:1]}
)

// reply converts an `http` output item to the reply the trigger writes.
func reply(item any) (driver.HTTPReply, error) {
	switch x := item.(type) {
	case Response:
		return x.reply()
	case *Response:
		if x == nil {
			return driver.HTTPReply{}, nil
		}
		return x.reply()
	case driver.HTTPReply:
		return x, checkStatus(x.Status)
	case *driver.HTTPReply:
		if x == nil {
			return driver.HTTPReply{}, nil
		}
		return *x, checkStatus(x.Status)
	case string:
		return driver.HTTPReply{Header: http.Header{"Content-Type": {ctText}}, Body: []byte(x)}, nil
	case json.RawMessage:
		return fromJSON(x, true)
	case []byte:
		return fromJSON(x, false)
	case map[string]any:
		if isResponseShape(x) {
			return fromShape(x)
		}
		return Response{Body: x}.reply()
	case io.Reader:
		b, err := io.ReadAll(x)
		if err != nil {
			return driver.HTTPReply{}, fmt.Errorf("read the response body: %w", err)
		}
		return driver.HTTPReply{Body: b}, nil
	}
	return Response{Body: item}.reply()
}

func checkStatus(s int) error {
	if s != 0 && (s < 100 || s > 999) {
		return fmt.Errorf("status %d is not an HTTP status code (100–999)", s)
	}
	return nil
}

func (r Response) reply() (driver.HTTPReply, error) {
	if err := checkStatus(r.Status); err != nil {
		return driver.HTTPReply{}, err
	}
	out := driver.HTTPReply{Status: r.Status, Header: r.Header}
	ct := ""
	switch b := r.Body.(type) {
	case nil:
	case []byte:
		out.Body = b
	case string:
		out.Body, ct = []byte(b), ctText
	case json.RawMessage:
		out.Body, ct = b, ctJSON
	case io.Reader:
		data, err := io.ReadAll(b)
		if err != nil {
			return driver.HTTPReply{}, fmt.Errorf("read the response body: %w", err)
		}
		out.Body = data
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return driver.HTTPReply{}, fmt.Errorf("encode the response body as JSON: %w", err)
		}
		out.Body, ct = data, ctJSON
	}
	if ct != "" && len(out.Header) == 0 {
		out.Header = textHeader
		if ct == ctJSON {
			out.Header = jsonHeader
		}
	} else if ct != "" && out.Header.Get("Content-Type") == "" {
		h := make(http.Header, len(out.Header)+1)
		for k, v := range out.Header {
			h[k] = v
		}
		h.Set("Content-Type", ct)
		out.Header = h
	}
	return out, nil
}

// fromJSON reads bytes that may be the Functions response shape {statusCode|status, body,
// headers} (what a custom handler's Outputs carry for an http binding); other bytes are the body
// (sent as JSON when raw says they are JSON).
func fromJSON(b []byte, raw bool) (driver.HTTPReply, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		if d.Decode(&m) == nil && isResponseShape(m) {
			return fromShape(m)
		}
	}
	if raw {
		return driver.HTTPReply{Header: http.Header{"Content-Type": {ctJSON}}, Body: b}, nil
	}
	return driver.HTTPReply{Body: b}, nil
}

var shapeKeys = []string{"statusCode", "status", "body", "headers"}

func isResponseShape(m map[string]any) bool {
	for k := range m {
		for _, s := range shapeKeys {
			if strings.EqualFold(k, s) {
				return true
			}
		}
	}
	return false
}

func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// fromShape builds the reply from the Functions response shape: statusCode wins over status,
// either a number or a numeric string, default 200; a string body is sent as is, any other body
// JSON-encoded; headers values are strings (or arrays of them).
func fromShape(m map[string]any) (driver.HTTPReply, error) {
	var out driver.HTTPReply
	sv, ok := lookup(m, "statusCode")
	if !ok || sv == nil {
		sv, ok = lookup(m, "status")
	}
	if ok && sv != nil {
		n, err := statusOf(sv)
		if err != nil {
			return out, err
		}
		out.Status = n
	}
	if hv, ok := lookup(m, "headers"); ok && hv != nil {
		hm, ok := hv.(map[string]any)
		if !ok {
			return out, fmt.Errorf("the response's headers must be an object of strings, got %T", hv)
		}
		out.Header = make(http.Header, len(hm))
		for k, v := range hm {
			switch x := v.(type) {
			case []any:
				for _, e := range x {
					out.Header.Add(k, scalar(e))
				}
			default:
				out.Header.Set(k, scalar(x))
			}
		}
	}
	switch b, _ := lookup(m, "body"); x := b.(type) {
	case nil:
	case string:
		out.Body = []byte(x)
	default:
		data, err := json.Marshal(x)
		if err != nil {
			return out, fmt.Errorf("encode the response body as JSON: %w", err)
		}
		out.Body = data
		if out.Header.Get("Content-Type") == "" {
			if out.Header == nil {
				out.Header = http.Header{}
			}
			out.Header.Set("Content-Type", ctJSON)
		}
	}
	return out, nil
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func statusOf(v any) (int, error) {
	var n int64
	var err error
	switch x := v.(type) {
	case float64:
		n = int64(x)
		if float64(n) != x {
			err = fmt.Errorf("not a whole number")
		}
	case json.Number:
		n, err = strconv.ParseInt(x.String(), 10, 64)
	case string:
		n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	case int:
		n = int64(x)
	default:
		err = fmt.Errorf("a %T", v)
	}
	if err != nil || n < 100 || n > 999 {
		return 0, fmt.Errorf("the response's statusCode %v is not an HTTP status code (a number 100–999)", v)
	}
	return int(n), nil
}
