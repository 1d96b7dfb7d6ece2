package eventgrid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// errBody prefixes every problem with a request body.
var errBody = errors.New("the request content should be parseable into a JSON object or array")

// validationCode returns the code of a SubscriptionValidation request: an array body (Event Grid
// schema) has it at [0].data.validationCode; an object body carries data as a JSON string (it is
// double-encoded) or an object, with validationCode inside.
func validationCode(body []byte) (string, error) {
	body = bytes.TrimSpace(body)
	var first json.RawMessage
	switch kind(body) {
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return "", fmt.Errorf("%w: %v", errBody, err)
		}
		if len(arr) == 0 {
			return "", fmt.Errorf("%w: the validation request holds no event", errBody)
		}
		first = arr[0]
	case '{':
		first = body
	default:
		return "", fmt.Errorf("%w, but was %s", errBody, kindName(body))
	}
	// Member names match exactly, as the extension's JSON indexers do.
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(first, &ev); err != nil {
		return "", fmt.Errorf("%w: the validation event is not an object", errBody)
	}
	data := bytes.TrimSpace(ev["data"])
	if kind(data) == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return "", fmt.Errorf("%w: data: %v", errBody, err)
		}
		data = bytes.TrimSpace([]byte(s))
	}
	var d map[string]json.RawMessage
	if kind(data) != '{' || json.Unmarshal(data, &d) != nil || d["validationCode"] == nil {
		return "", fmt.Errorf("the validation event has no data.validationCode")
	}
	raw := d["validationCode"]
	var code string
	if err := json.Unmarshal(raw, &code); err != nil {
		// the extension takes the token's text whatever its type
		code = string(bytes.TrimSpace(raw))
	}
	return code, nil
}

// parseNotification splits a Notification body into its events: an array's elements, or the one
// object (a structured-mode CloudEvent). Every event must be a JSON object.
func parseNotification(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	switch kind(body) {
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(body, &arr); err != nil {
			return nil, fmt.Errorf("%w: %v", errBody, err)
		}
		for i, e := range arr {
			e = bytes.TrimSpace(e)
			if kind(e) != '{' {
				return nil, fmt.Errorf("event %d is %s, not a JSON object", i, kindName(e))
			}
			arr[i] = e
		}
		return arr, nil
	case '{':
		if !json.Valid(body) {
			var v any
			err := json.Unmarshal(body, &v)
			return nil, fmt.Errorf("%w: %v", errBody, err)
		}
		return []json.RawMessage{body}, nil
	}
	return nil, fmt.Errorf("%w, but was %s", errBody, kindName(body))
}

func kind(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func kindName(b []byte) string {
	switch kind(b) {
	case 0:
		return "empty"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	if c := kind(b); c == '-' || (c >= '0' && c <= '9') {
		return "a number"
	}
	return "not JSON"
}

// head decodes an event's id (for logs) and data (binding data; nil when absent or null). Member
// names match exactly, as the extension's indexers do.
func head(raw json.RawMessage) (id string, data any) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "", nil
	}
	if d := m["data"]; len(d) > 0 {
		_ = json.Unmarshal(d, &data)
	}
	if v := m["id"]; len(v) > 0 && json.Unmarshal(v, &id) != nil {
		id = string(v)
	}
	return id, data
}
