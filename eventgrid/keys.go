package eventgrid

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// SystemKeyName is the host system key that callers of the Event Grid webhook present.
const SystemKeyName = "eventgrid_extension"

// SystemKeySetting returns the app setting that, when defined, holds the system key name instead
// of host storage: "host.systemKey.<name>", the name Azure Container Apps gives the key's secret
// file. Its "__" spelling (host__systemKey__<name>) is accepted too, for shells.
func SystemKeySetting(name string) string { return "host.systemKey." + name }

// SecretsKey returns the host-storage key of the host's secrets document for hostID. The real host
// keeps it as the blob <hostId>/host.json of the container azure-webjobs-secrets; azbind's host
// storage is the azure-webjobs-hosts container, so the document lives at secrets/<hostId>/host.json
// there, in the same JSON shape ({"systemKeys": [{"name", "value", "encrypted"}], …}).
func SecretsKey(hostID string) string { return "secrets/" + hostID + "/host.json" }

type systemKeyID struct{ name string }

// SystemKey returns the host system key name (e.g. "eventgrid_extension", "blobs_extension"):
// the setting SystemKeySetting(name) when defined, else the key kept in host storage under
// SecretsKey(host id), generated once (40 random bytes, base64 with '+' replaced by 'a', as the
// Functions host generates keys) and stored with an ETag condition so that hosts sharing the
// storage agree on one key. The value is cached per host. It never appears in errors or logs.
func SystemKey(ctx context.Context, s *driver.Services, name string) (string, error) {
	return driver.Shared(ctx, s, systemKeyID{name}, func(ctx context.Context) (string, error) {
		return loadSystemKey(ctx, s, name)
	})
}

// keyFromSetting returns the key from the settings, if defined.
func keyFromSetting(s *driver.Services, name string) (string, bool) {
	for _, k := range []string{SystemKeySetting(name), "host__systemKey__" + name} {
		if v, ok := s.Settings.Get(k); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// CheckSystemKey reports, without any I/O, whether SystemKey can serve the key name on this host:
// the key setting is defined, or the host has durable storage to keep a generated key in. A
// pushed trigger's factory calls it so that the problem is a load-time *driver.ConfigError
// rather than a failure of Run.
func CheckSystemKey(s *driver.Services, name string) error {
	if _, ok := keyFromSetting(s, name); ok {
		return nil
	}
	if _, err := s.DurableStorage("the " + name + " system key"); err != nil {
		return &driver.ConfigError{
			Problem: "the " + name + " system key is not set and the host has only memory storage, so a generated key would change at every start and break the Event Grid subscription",
			Fix:     "define the setting " + SystemKeySetting(name) + " (any long random string), or AzureWebJobsStorage so that the key is generated once and kept there"}
	}
	return nil
}

// secretsDoc is the host secrets document; unknown members are kept as they are.
type secretsKey struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Encrypted bool   `json:"encrypted"`
}

func loadSystemKey(ctx context.Context, s *driver.Services, name string) (string, error) {
	if v, ok := keyFromSetting(s, name); ok {
		return v, nil
	}
	if err := CheckSystemKey(s, name); err != nil {
		return "", err
	}
	st := s.Storage
	key := SecretsKey(s.HostID)
	for attempt := 0; attempt < 10; attempt++ {
		rec, err := st.Get(ctx, key)
		doc := map[string]json.RawMessage{}
		var cond driver.Cond
		switch {
		case errors.Is(err, driver.ErrNotFound):
			cond.IfNoneMatch = true
		case err != nil:
			return "", fmt.Errorf("eventgrid: read the host secrets %s: %w", key, err)
		default:
			if err := json.Unmarshal(rec.Data, &doc); err != nil {
				return "", fmt.Errorf("eventgrid: the host secrets %s are not a JSON object (%v): delete it to have new keys generated", key, errors.Unwrap(err))
			}
			cond.IfMatch = rec.ETag
		}
		var keys []secretsKey
		if raw, ok := doc["systemKeys"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &keys); err != nil {
				return "", fmt.Errorf("eventgrid: the host secrets %s: systemKeys is not an array of {name, value}: delete it to have new keys generated", key)
			}
		}
		for _, k := range keys {
			if strings.EqualFold(k.Name, name) {
				if k.Encrypted {
					return "", fmt.Errorf("eventgrid: the host secrets %s hold %s encrypted with the Functions host's data-protection key, which azbind cannot read: define the setting %s instead", key, name, SystemKeySetting(name))
				}
				if k.Value == "" {
					return "", fmt.Errorf("eventgrid: the host secrets %s hold an empty %s: remove that entry to have a key generated", key, name)
				}
				return k.Value, nil
			}
		}
		v, err := GenerateKey()
		if err != nil {
			return "", err
		}
		keys = append(keys, secretsKey{Name: name, Value: v})
		doc["systemKeys"], _ = json.Marshal(keys)
		if _, ok := doc["source"]; !ok {
			doc["source"] = json.RawMessage(`"runtime"`)
		}
		data, err := json.Marshal(doc)
		if err != nil {
			return "", fmt.Errorf("eventgrid: encode the host secrets: %w", err)
		}
		_, err = st.Put(ctx, key, driver.Record{Data: data}, cond)
		if errors.Is(err, driver.ErrConflict) {
			continue // another host wrote first: read its keys
		}
		if err != nil {
			return "", fmt.Errorf("eventgrid: store the %s system key in %s: %w", name, key, err)
		}
		s.Logger.Info("generated a webhook system key and kept it in host storage", "key_name", name, "where", key)
		return v, nil
	}
	return "", fmt.Errorf("eventgrid: store the %s system key in %s: the document kept changing under concurrent writers: %w", name, key, driver.ErrConflict)
}

// GenerateKey returns a new random key the way the Functions host makes them: 40 random bytes,
// base64-encoded, with '+' replaced by 'a' (pluses are troublesome in URLs).
func GenerateKey() (string, error) {
	var b [40]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("eventgrid: generate a key: %w", err)
	}
	return strings.ReplaceAll(base64.StdEncoding.EncodeToString(b[:]), "+", "a"), nil
}
