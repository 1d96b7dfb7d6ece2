package extension_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azbind/azbind/extension"
)

// NewHost with no Settings reads ./local.settings.json after the environment, as `func start`
// does in the app folder: the README's "an environment variable or a local.settings.json value".
func TestNewHostReadsLocalSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte("\uFEFF{'Values': {'AzbindLocalOnly': 'from-file', 'AzbindBoth': 'file',}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AzbindBoth", "env")
	h, err := extension.NewHost(extension.HostOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := h.Services().Settings
	if v, _ := s.Get("AzbindLocalOnly"); v != "from-file" {
		t.Errorf("AzbindLocalOnly = %q; want the local.settings.json value", v)
	}
	if v, _ := s.Get("AzbindBoth"); v != "env" {
		t.Errorf("AzbindBoth = %q; the environment wins", v)
	}

	// A broken local.settings.json stops the host with its problem instead of being ignored.
	if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), []byte(`{"IsEncrypted": true, "Values": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _ = extension.NewHost(extension.HostOptions{})
	err = h.Verify(context.Background())
	if err == nil || !strings.Contains(err.Error(), "local.settings.json") || !strings.Contains(err.Error(), "IsEncrypted") {
		t.Errorf("Verify with an encrypted local.settings.json = %v", err)
	}
}
