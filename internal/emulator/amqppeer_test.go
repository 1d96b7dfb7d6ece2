//go:build unix

package emulator_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/azbind/azbind/internal/emulator"
)

func TestAMQPPeer(t *testing.T) {
	p := emulator.StartAMQPPeer(t, &emulator.AMQPPeerOptions{
		Entities: map[string]any{"queues": []map[string]any{{"name": "q1"}}},
	})
	want := fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=%s;SharedAccessKey=", p.Port, emulator.DefaultAMQPPeerKeyName)
	if !strings.HasPrefix(p.ConnectionString, want) || !strings.HasSuffix(p.ConnectionString, ";UseDevelopmentEmulator=true") || len(p.Key) < 32 {
		t.Fatalf("connection string has the wrong shape (key length %d)", len(p.Key))
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(f, p); strings.Contains(s, p.Key) || strings.Contains(s, "SharedAccessKey") {
			t.Errorf("%s of the peer leaks the key: %s", f, s)
		}
	}
	resp, err := http.Get(p.AdminURL + "/entities")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ents []struct{ Path, Kind string }
	if err := json.NewDecoder(resp.Body).Decode(&ents); err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Path != "q1" || ents[1].Path != "q1/$deadletterqueue" {
		t.Fatalf("entities %+v, want q1 and its dead-letter queue", ents)
	}
	log, err := os.ReadFile(p.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), p.Key) {
		t.Error("the peer's log holds the key")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("folder %s still there after Stop: %v", p.Dir, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestAMQPPeerNotInstalled(t *testing.T) {
	t.Setenv(emulator.EnvDir, t.TempDir())
	_, err := emulator.LaunchAMQPPeer(nil)
	if !errors.Is(err, emulator.ErrNotInstalled) || !strings.Contains(err.Error(), "npm ci --prefix emulators") {
		t.Fatalf("LaunchAMQPPeer without rhea: %v, want ErrNotInstalled with the install command", err)
	}
}
