package driver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
)

// One layout for every stream trigger: deadletters/<hostId>/<function>/<time>-<id>.json, keys
// sorting by time within a function, the reason redacted, listing per host and function.
func TestDeadLetterLayout(t *testing.T) {
	ctx := context.Background()
	hs := extension.NewMemoryStorage()
	at := time.Date(2026, 12, 7, 9, 30, 0, 5, time.FixedZone("x", 3600))
	write := func(host, fn string, at time.Time, id string) *driver.DeadLetter {
		dl := &driver.DeadLetter{Function: fn, Trigger: "eventHubTrigger", HostID: host, Time: at,
			Reason: "send failed: Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0", Events: []driver.DeadLetterEvent{{Body: []byte{0, 0xff}}}}
		if err := driver.WriteDeadLetter(ctx, hs, dl, id); err != nil {
			t.Fatal(err)
		}
		return dl
	}
	a := write("host-a", "Ingest", at, "p0/1-2")
	b := write("host-a", "Ingest", at.Add(time.Second), "p0-3-4")
	write("host-a", "Other", at, "x")
	write("host-b", "Ingest", at, "y")
	if want := "deadletters/host-a/ingest/20261207T083000.000000005Z-p0_1-2.json"; a.Key != want {
		t.Errorf("key %s, want %s", a.Key, want)
	}
	if strings.Contains(a.Reason, "c2VjcmV0") {
		t.Errorf("reason not redacted: %s", a.Reason)
	}
	keys, err := driver.ListDeadLetters(ctx, hs, "host-a", "INGEST")
	if err != nil || len(keys) != 2 || keys[0] != a.Key || keys[1] != b.Key {
		t.Errorf("host-a/Ingest: %v, %v", keys, err)
	}
	if keys, _ := driver.ListDeadLetters(ctx, hs, "", "ingest"); len(keys) != 3 {
		t.Errorf("every host's Ingest: %v", keys)
	}
	if keys, _ := driver.ListDeadLetters(ctx, hs, "", ""); len(keys) != 4 {
		t.Errorf("all: %v", keys)
	}
	got, err := driver.ReadDeadLetter(ctx, hs, a.Key)
	if err != nil || got.Key != a.Key || string(got.Events[0].Body) != "\x00\xff" || got.HostID != "host-a" || !got.Time.Equal(at) || got.Time.Location() != time.UTC {
		t.Errorf("read %+v, %v", got, err)
	}
	if err := driver.WriteDeadLetter(ctx, hs, &driver.DeadLetter{Function: "F"}, "id"); err == nil {
		t.Error("a dead letter without a host id was written")
	}
}
