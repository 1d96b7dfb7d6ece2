package extension

import (
	"context"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// A JSON object payload's members are binding data whatever form Data takes ([]byte, string,
// json.RawMessage, or Payload beside a connector value), and win over trigger metadata (C19);
// a payload that is not an object gives none.
func TestPayloadMembersFromEveryForm(t *testing.T) {
	exec, _ := BenchTemplatedExecutor(t)
	md := driver.MapMetadata{"Id": "meta"}
	for _, c := range []struct {
		name string
		ev   *driver.Event
		want string
	}{
		{"bytes", &driver.Event{Data: []byte(` {"id":"b"}`), Metadata: md}, "shipped-b"},
		{"string", &driver.Event{Data: `{"ID":"s"}`, Metadata: md}, "shipped-s"},
		{"payload", &driver.Event{Data: []byte("not json"), Payload: []byte(`{"Id":"p"}`), Metadata: md}, "shipped-p"},
		{"not an object", &driver.Event{Data: `["x"]`, Metadata: md}, "shipped-meta"},
		{"plain text", &driver.Event{Data: "hello", Metadata: md}, "shipped-meta"},
	} {
		benchLastName = ""
		if r := exec.Execute(context.Background(), c.ev); r.Status != driver.Succeeded {
			t.Errorf("%s: %v", c.name, r.Err)
			continue
		}
		if benchLastName != c.want {
			t.Errorf("%s: output name %q, want %q", c.name, benchLastName, c.want)
		}
	}
}
