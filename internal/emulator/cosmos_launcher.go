package emulator

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// CosmosFeedKey is the Cosmos DB emulator's well-known account key (valid base64, which azcosmos
// requires; CosmosEmulatorKey is the same). The launcher checks no key. A public test fixture,
// never printed.
const CosmosFeedKey = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XyHtIw=="

// CosmosFeedOptions configure StartCosmosFeed. The zero value is one partition-key range.
type CosmosFeedOptions struct {
	// Ranges is the number of partition-key ranges (feed ranges) every container has, 1 to 64
	// (default 1). With several, a change-feed processor has leases to balance across hosts; a
	// document belongs to the range of the first byte of md5(JSON of its partition-key value).
	Ranges int
	// PlainHTTP serves http:// instead of HTTPS, for harnesses that cannot give their clients a
	// CA (CertPool, CertPEM are then nil; HTTPClient is a plain client).
	PlainHTTP bool
	// Port is the port on 127.0.0.1 (default: a free port). A fixed port such as the Cosmos DB
	// emulator's 8081 fails if taken.
	Port int
}

// CosmosFeed is a running cosmosdb-server behind azbind's launcher
// (emulators/cosmos-launcher/launcher.js), which adds what the stock server lacks
// (reference env-probe §3): an incremental change feed (a global _lsn stamped on every document
// write; A-IM reads answer the documents after the If-None-Match LSN of the requested range and
// partition key, honouring x-ms-max-item-count and If-Modified-Since; 304 when nothing is new),
// partition-key ranges with string ids (several with CosmosFeedOptions.Ranges), 404 for a point
// read of a missing document, queries scoped to their partition key, and HTTPS with a fresh
// self-signed certificate. The server does no authentication (any key is accepted).
type CosmosFeed struct {
	Endpoint         string // https://127.0.0.1:<port>/ (http:// with PlainHTTP)
	Key              string // the emulator's well-known key (a test fixture, not a secret)
	ConnectionString string // AccountEndpoint=…;AccountKey=…;
	// CertPool holds the CA of the server's certificate; HTTPClient trusts it (use it as
	// azcore.ClientOptions.Transport, e.g. through connection.ResolverOptions).
	CertPool   *x509.CertPool
	CertPEM    []byte
	HTTPClient *http.Client
	Ranges     int
	PID        int
	Port       int
	LogFile    string

	stop func() error
}

// Stop stops the server and removes its folder. Safe to call twice.
func (c *CosmosFeed) Stop() error { return c.stop() }

// String describes the instance without the key.
func (c *CosmosFeed) String() string {
	if c == nil {
		return "cosmos-launcher(<nil>)"
	}
	return fmt.Sprintf("cosmos-launcher(pid=%d endpoint=%s ranges=%d)", c.PID, c.Endpoint, c.Ranges)
}

// GoString is String, so that %#v does not print the key either.
func (c *CosmosFeed) GoString() string { return c.String() }

// StartCosmosFeed starts cosmosdb-server behind azbind's launcher on a free loopback port, waits
// until it answers, and stops it in t.Cleanup.
func StartCosmosFeed(t testing.TB, opts *CosmosFeedOptions) *CosmosFeed {
	t.Helper()
	return start(t, func() (*CosmosFeed, error) { return LaunchCosmosFeed(opts) })
}

// LaunchCosmosFeed is StartCosmosFeed for programs: the caller must Stop it.
func LaunchCosmosFeed(opts *CosmosFeedOptions) (*CosmosFeed, error) {
	ranges := 1
	if opts != nil && opts.Ranges != 0 {
		ranges = opts.Ranges
	}
	if ranges < 1 || ranges > 64 {
		return nil, fmt.Errorf("%w: CosmosFeedOptions.Ranges %d: want 1 to 64", ErrStart, ranges)
	}
	node, serverScript, err := cosmosScript()
	if err != nil {
		return nil, err
	}
	// lib/cli.js → the package folder, which the launcher loads its modules from.
	serverDir := filepath.Dir(filepath.Dir(serverScript))
	launcher, err := cosmosLauncherScript()
	if err != nil {
		return nil, err
	}
	plain := opts != nil && opts.PlainHTTP
	dir, err := newDataDir("azbind-cosmosfeed-")
	if err != nil {
		return nil, err
	}
	scheme, tlsArgs := "http", []string{"--plain-http"}
	var certPEM []byte
	var pool *x509.CertPool
	if !plain {
		var keyPEM []byte
		certPEM, keyPEM, pool, err = newSelfSignedCA()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("%w: cosmos launcher certificate: %w", ErrStart, err)
		}
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		for _, f := range []struct {
			name string
			data []byte
		}{{certFile, certPEM}, {keyFile, keyPEM}} {
			if err := os.WriteFile(f.name, f.data, 0o600); err != nil {
				_ = os.RemoveAll(dir)
				return nil, fmt.Errorf("%w: %w", ErrStart, err)
			}
		}
		scheme, tlsArgs = "https", []string{"--cert", certFile, "--key", keyFile}
	}
	logFile := filepath.Join(dir, "cosmos-launcher.log")
	var p *proc
	var port int
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		port = ports[0]
		if opts != nil && opts.Port != 0 {
			port = opts.Port
			ports[0] = port
		}
		args := append([]string{launcher, "--server", serverDir, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--ranges", strconv.Itoa(ranges)}, tlsArgs...)
		p, err = startProc("cosmos-launcher", node, args, dir, logFile)
		if err == nil {
			err = p.waitReady(ports, []string{fmt.Sprintf("cosmos-launcher ready at %s://127.0.0.1:%d/", scheme, port)})
			if err != nil {
				_ = p.stop()
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, errPortInUse) && attempt < startTries && (opts == nil || opts.Port == 0) {
			continue
		}
		_ = os.RemoveAll(dir)
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if pool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	tr.IdleConnTimeout = 4 * time.Second
	tr.MaxIdleConnsPerHost = 64
	c := &CosmosFeed{
		Endpoint:   fmt.Sprintf("%s://127.0.0.1:%d/", scheme, port),
		Key:        CosmosFeedKey,
		CertPool:   pool,
		CertPEM:    certPEM,
		HTTPClient: &http.Client{Transport: tr},
		Ranges:     ranges,
		PID:        p.pid(),
		Port:       port,
		LogFile:    logFile,
	}
	c.ConnectionString = fmt.Sprintf("AccountEndpoint=%s;AccountKey=%s;", c.Endpoint, c.Key)
	var once sync.Once
	var stopErr error
	c.stop = func() error {
		once.Do(func() {
			c.HTTPClient.CloseIdleConnections()
			stopErr = p.stop()
			if err := os.RemoveAll(dir); err != nil && stopErr == nil {
				stopErr = fmt.Errorf("removing cosmos launcher folder: %w", err)
			}
		})
		return stopErr
	}
	return c, nil
}

// cosmosLauncherScript finds emulators/cosmos-launcher/launcher.js: next to the npm install
// (InstallDir), else in the emulators folder of the azbind module root (when AZBIND_EMULATORS_DIR
// points at an install elsewhere).
func cosmosLauncherScript() (string, error) {
	var tried []string
	if dir, err := InstallDir(); err == nil {
		p := filepath.Join(dir, "cosmos-launcher", "launcher.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; {
			if isModuleRoot(dir) {
				p := filepath.Join(dir, "emulators", "cosmos-launcher", "launcher.js")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				tried = append(tried, p)
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("%w: the cosmos launcher (emulators/cosmos-launcher/launcher.js) not found at %v; run from the azbind repository", ErrNotInstalled, tried)
}
