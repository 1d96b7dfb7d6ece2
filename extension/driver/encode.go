package driver

import (
	"encoding/json"
	"fmt"
	"io"
)

// Encode turns an output value into bytes the way Functions does: []byte as is, string as UTF-8,
// json.RawMessage as is, an io.Reader read whole (connectors that can stream should check for
// io.Reader first), anything else as JSON. contentType is "application/octet-stream",
// "text/plain; charset=utf-8" or "application/json".
func Encode(v any) (data []byte, contentType string, err error) {
	switch x := v.(type) {
	case []byte:
		return x, "application/octet-stream", nil
	case string:
		return []byte(x), "text/plain; charset=utf-8", nil
	case json.RawMessage:
		return x, "application/json", nil
	case io.Reader:
		b, err := io.ReadAll(x)
		return b, "application/octet-stream", err
	case nil:
		return nil, "", fmt.Errorf("extension: Encode: nil value")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("encode %T as JSON: %w", v, err)
	}
	return b, "application/json", nil
}
