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
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(first, &ev); err != nil {
		return "", fmt.Errorf("%w: the validation event is not an object", errBody)
	}
	data := bytes.TrimSpace(ev.Data)
	if kind(data) == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return "", fmt.Errorf("%w: data: %v", errBody, err)
		}
		data = bytes.TrimSpace([]byte(s))
	}
	var d struct {
		ValidationCode *json.RawMessage `json:"validationCode"`
	}
	if kind(data) != '{' || json.Unmarshal(data, &d) != nil || d.ValidationCode == nil {
		return "", fmt.Errorf("the validation event has no data.validationCode")
	}
	var code string
	if err := json.Unmarshal(*d.ValidationCode, &code); err != nil {
		// the extension takes the token's text whatever its type
		code = string(bytes.TrimSpace(*d.ValidationCode))
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

// eventHead is what the trigger reads of each event: its id (for logs) and data (binding data).
type eventHead struct {
	ID   json.RawMessage `json:"id"`
	Data json.RawMessage `json:"data"`
}

// head decodes an event's id and data; data is nil when absent or null.
func head(raw json.RawMessage) (id string, data any) {
	var h eventHead
	if json.Unmarshal(raw, &h) != nil {
		return "", nil
	}
	if len(h.Data) > 0 {
		_ = json.Unmarshal(h.Data, &data)
	}
	if json.Unmarshal(h.ID, &id) != nil {
		id = string(h.ID)
	}
	return id, data
}
