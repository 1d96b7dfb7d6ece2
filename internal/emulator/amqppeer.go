package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// DefaultAMQPPeerKeyName is the SAS key name the amqp-peer accepts unless AMQPPeerOptions says otherwise.
const DefaultAMQPPeerKeyName = "RootManageSharedAccessKey"

// AMQPPeerOptions configure StartAMQPPeer.
type AMQPPeerOptions struct {
	// KeyName and Key are the SAS key the peer verifies CBS tokens against. Defaults:
	// DefaultAMQPPeerKeyName and a fresh random key.
	KeyName, Key string
	// Entities is the initial entity configuration, marshalled to JSON: an object with "queues",
	// "topics" and "eventHubs" (see internal/amqppeer.Config). Nil starts the peer without entities;
	// they can be added later through the admin interface.
	Entities any
	// Port and AdminPort are the AMQP and admin ports on 127.0.0.1 (default: free ports). A fixed
	// port such as the standard AMQP port 5672 fails if taken; a zero AdminPort with a fixed Port
	// takes a free one.
	Port, AdminPort int
}

// AMQPPeer is a running amqp-peer (emulators/amqp-peer/peer.js): a local AMQP 1.0 test double
// for Service Bus and Event Hubs. It is not a production broker.
type AMQPPeer struct {
	Port      int    // AMQP port on 127.0.0.1
	AdminPort int    // admin HTTP/JSON port on 127.0.0.1
	AdminURL  string // http://127.0.0.1:<AdminPort>
	KeyName   string
	Key       string // the SAS key (test secret: never print it)
	// ConnectionString is Endpoint=sb://127.0.0.1:<port>;SharedAccessKeyName=…;SharedAccessKey=…;UseDevelopmentEmulator=true
	ConnectionString string
	PID              int
	Dir              string // folder with the config and log (removed on stop)
	LogFile          string

	stop func() error
}

// Stop stops the peer and removes its folder. Safe to call twice.
func (a *AMQPPeer) Stop() error { return a.stop() }

// String describes the instance without the key or connection string.
func (a *AMQPPeer) String() string {
	if a == nil {
		return "amqp-peer(<nil>)"
	}
	return fmt.Sprintf("amqp-peer(pid=%d amqp=127.0.0.1:%d admin=%s)", a.PID, a.Port, a.AdminURL)
}

// GoString is String, so that %#v does not print the key either.
func (a *AMQPPeer) GoString() string { return a.String() }

// StartAMQPPeer starts the amqp-peer on free loopback ports, waits until it accepts connections,
// and stops it in t.Cleanup. If node or rhea is not installed the test fails with the command that
// installs it.
func StartAMQPPeer(t testing.TB, opts *AMQPPeerOptions) *AMQPPeer {
	t.Helper()
	return start(t, func() (*AMQPPeer, error) { return LaunchAMQPPeer(opts) })
}

// LaunchAMQPPeer is StartAMQPPeer for programs and TestMain: the caller must Stop it.
func LaunchAMQPPeer(opts *AMQPPeerOptions) (*AMQPPeer, error) {
	if opts == nil {
		opts = &AMQPPeerOptions{}
	}
	node, script, nodePath, err := amqpPeerScript()
	if err != nil {
		return nil, err
	}
	keyName, key := opts.KeyName, opts.Key
	if keyName == "" {
		keyName = DefaultAMQPPeerKeyName
	}
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("%w: amqp-peer key: %w", ErrStart, err)
		}
		key = base64.StdEncoding.EncodeToString(b)
	}
	cfg := map[string]any{}
	if opts.Entities != nil {
		raw, err := json.Marshal(opts.Entities)
		if err != nil {
			return nil, fmt.Errorf("%w: amqp-peer entities: %w", ErrStart, err)
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%w: amqp-peer entities must marshal to a JSON object: %w", ErrStart, err)
		}
	}
	cfg["keyName"], cfg["key"] = keyName, key

	dir, err := newDataDir("azbind-amqppeer-")
	if err != nil {
		return nil, err
	}
	a := &AMQPPeer{KeyName: keyName, Key: key, Dir: dir, LogFile: filepath.Join(dir, "amqp-peer.log")}
	cfgFile := filepath.Join(dir, "config.json")
	var p *proc
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if opts.Port != 0 {
			ports[0] = opts.Port
		}
		if opts.AdminPort != 0 {
			ports[1] = opts.AdminPort
		}
		cfg["port"], cfg["adminPort"] = ports[0], ports[1]
		raw, err := json.Marshal(cfg)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: amqp-peer config: %w", ErrStart, err)
		}
		if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: amqp-peer config: %w", ErrStart, err)
		}
		p, err = startProcEnv("amqp-peer", node, []string{script, "--config", cfgFile}, dir, a.LogFile, []string{"NODE_PATH=" + nodePath})
		if err == nil {
			err = p.waitReady(ports, []string{fmt.Sprintf("amqp-peer listening amqp=127.0.0.1:%d admin=127.0.0.1:%d", ports[0], ports[1])})
			if err != nil {
				_ = p.stop()
			}
		}
		if err == nil {
			a.Port, a.AdminPort = ports[0], ports[1]
			break
		}
		if errors.Is(err, errPortInUse) && attempt < startTries && opts.Port == 0 && opts.AdminPort == 0 {
			continue
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	a.PID = p.pid()
	a.AdminURL = fmt.Sprintf("http://127.0.0.1:%d", a.AdminPort)
	a.ConnectionString = fmt.Sprintf("Endpoint=sb://127.0.0.1:%d;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true", a.Port, keyName, key)
	var once sync.Once
	var stopErr error
	a.stop = func() error {
		once.Do(func() {
			stopErr = p.stop()
			if err := os.RemoveAll(dir); err != nil && stopErr == nil {
				stopErr = fmt.Errorf("removing amqp-peer folder: %w", err)
			}
		})
		return stopErr
	}
	return a, nil
}

// amqpPeerScript returns node, the peer's script and the node_modules folder holding rhea. The
// script is emulators/amqp-peer/peer.js in the install dir, or in the module root's emulators/
// when AZBIND_EMULATORS_DIR points elsewhere.
func amqpPeerScript() (node, script, nodePath string, err error) {
	dir, err := InstallDir()
	if err != nil {
		return "", "", "", err
	}
	nodePath = filepath.Join(dir, "node_modules")
	rhea := filepath.Join(nodePath, "rhea", "package.json")
	if _, err := os.Stat(rhea); err != nil {
		return "", "", "", notInstalled("rhea (for amqp-peer)", rhea)
	}
	script = filepath.Join(dir, "amqp-peer", "peer.js")
	if _, err := os.Stat(script); err != nil {
		alt := ""
		if wd, werr := os.Getwd(); werr == nil {
			for d := wd; ; {
				if isModuleRoot(d) {
					alt = filepath.Join(d, "emulators", "amqp-peer", "peer.js")
					break
				}
				parent := filepath.Dir(d)
				if parent == d {
					break
				}
				d = parent
			}
		}
		if alt == "" {
			return "", "", "", fmt.Errorf("%w: amqp-peer script not found at %s", ErrNotInstalled, script)
		}
		if _, err := os.Stat(alt); err != nil {
			return "", "", "", fmt.Errorf("%w: amqp-peer script not found at %s or %s", ErrNotInstalled, script, alt)
		}
		script = alt
	}
	node, err = findNode()
	return node, script, nodePath, err
}
