// Package emulator starts the local Azure emulators (Azurite; cosmosdb-server; the amqp-peer test
// double for Service Bus and Event Hubs in emulators/amqp-peer) that azbind's tests, demo and
// benchmarks run against, from the project's own npm install in emulators/ (package.json and
// package-lock.json pin azurite 3.37.0, @vercel/cosmosdb-server 1.0.1 and rhea 3.0.5).
//
// Every Start/Launch call starts its own instance on free loopback ports, so test packages can run
// in parallel. Azurite keeps its data on disk in a fresh folder under /dev/shm (tmpfs); it is never
// run with --inMemoryPersistence (its queue GC stalls in that mode). The install is found through
// AZBIND_EMULATORS_DIR or the emulators/ folder of the azbind module root; if it is missing, the
// error says to run `npm ci --prefix emulators` (scripts/test does that).
package emulator

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Well-known development credentials. They are public test fixtures, but the project treats them as
// secrets for output purposes: nothing in this package prints them.
const (
	// DevAccountName is Azurite's development storage account.
	DevAccountName = "devstoreaccount1"
	// DevAccountKey is Azurite's well-known key for DevAccountName.
	DevAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	// CosmosEmulatorKey is the Cosmos DB emulator's well-known key (cosmosdb-server checks no key).
	CosmosEmulatorKey = CosmosFeedKey
)

// EnvDir names the environment variable that overrides where the npm install lives: a directory
// containing node_modules (with azurite and @vercel/cosmosdb-server).
const EnvDir = "AZBIND_EMULATORS_DIR"

// InstallCommand is the command (run at the repository root) that installs the emulators.
const InstallCommand = "npm ci --prefix emulators"

// ErrNotInstalled is returned (wrapped) when an emulator's npm package cannot be found.
var ErrNotInstalled = errors.New("emulator not installed")

// ErrStart is returned (wrapped) when an emulator process fails to start or to become ready.
var ErrStart = errors.New("emulator failed to start")

// AzuriteOptions configure StartAzurite. The zero value is plain HTTP Azurite on disk in a fresh
// tmpfs folder with --skipApiVersionCheck.
type AzuriteOptions struct {
	// OAuth starts Azurite over HTTPS with `--oauth basic` and a freshly generated self-signed CA
	// certificate (SAN localhost and 127.0.0.1), for identity-based connections.
	OAuth bool
	// Dir is the data folder (default: a new folder under /dev/shm, removed on stop). A folder given
	// here is created if needed and kept on stop.
	Dir string
	// Ports are the blob, queue and table ports (default: free ports). Fixed ports such as the
	// standard 10000, 10001, 10002 — where UseDevelopmentStorage=true points — fail if taken.
	Ports [3]int
}

// Azurite is a running Azurite instance.
type Azurite struct {
	AccountName      string // devstoreaccount1
	AccountKey       string // the well-known key (a test fixture, not a secret)
	BlobEndpoint     string // e.g. http://127.0.0.1:41234/devstoreaccount1 (https:// with OAuth)
	QueueEndpoint    string
	TableEndpoint    string
	ConnectionString string // full DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;BlobEndpoint=…;QueueEndpoint=…;TableEndpoint=…;
	// With OAuth: the CA that signed Azurite's certificate, and an HTTP client trusting it
	// (use as azcore.ClientOptions.Transport). Nil without OAuth.
	CertPool   *x509.CertPool
	CertPEM    []byte
	HTTPClient *http.Client
	PID        int

	// Ports are the blob, queue and table ports; Dir is the data folder; LogFile holds Azurite's
	// stdout and stderr (inside Dir).
	BlobPort, QueuePort, TablePort int
	Dir                            string
	LogFile                        string

	stop func() error
}

// Stop stops the emulator and removes its data folder. Safe to call twice.
func (a *Azurite) Stop() error { return a.stop() }

// String describes the instance without the account key or connection string.
func (a *Azurite) String() string {
	if a == nil {
		return "azurite(<nil>)"
	}
	return fmt.Sprintf("azurite(pid=%d blob=%s queue=%s table=%s)", a.PID, a.BlobEndpoint, a.QueueEndpoint, a.TableEndpoint)
}

// GoString is String, so that %#v does not print the key either.
func (a *Azurite) GoString() string { return a.String() }

// StartAzurite starts Azurite on free loopback ports, waits until all three services accept
// connections, and stops it in t.Cleanup. If Azurite is not installed the test fails with the
// command that installs it.
func StartAzurite(t testing.TB, opts *AzuriteOptions) *Azurite {
	t.Helper()
	return start(t, func() (*Azurite, error) { return LaunchAzurite(opts) })
}

// LaunchAzurite is StartAzurite for programs (the demo, benchmarks): the caller must Stop it.
func LaunchAzurite(opts *AzuriteOptions) (*Azurite, error) {
	if opts == nil {
		opts = &AzuriteOptions{}
	}
	return launchAzurite(opts)
}

// Cosmos is a running cosmosdb-server.
type Cosmos struct {
	Endpoint         string // http://127.0.0.1:<port>/
	Key              string // the emulator's well-known key (cosmosdb-server does no auth)
	ConnectionString string
	PID              int
	Port             int
	stop             func() error
}

// Stop stops the server. Safe to call twice.
func (c *Cosmos) Stop() error { return c.stop() }

// String describes the instance without the key.
func (c *Cosmos) String() string {
	if c == nil {
		return "cosmosdb-server(<nil>)"
	}
	return fmt.Sprintf("cosmosdb-server(pid=%d endpoint=%s)", c.PID, c.Endpoint)
}

// GoString is String, so that %#v does not print the key either.
func (c *Cosmos) GoString() string { return c.String() }

// StartCosmos starts cosmosdb-server (--no-ssl) on a free loopback port; stopped in t.Cleanup.
func StartCosmos(t testing.TB) *Cosmos {
	t.Helper()
	return start(t, func() (*Cosmos, error) { return LaunchCosmos() })
}

// LaunchCosmos is StartCosmos for programs: the caller must Stop it.
func LaunchCosmos() (*Cosmos, error) { return launchCosmos() }

// start launches an emulator for a test: it fails the test (with the install command, when the
// emulator is missing) if the launch fails, logs how long it took, and stops it in t.Cleanup.
func start[E interface{ Stop() error }](t testing.TB, launch func() (E, error)) E {
	t.Helper()
	began := time.Now()
	e, err := launch()
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Logf("emulator: %v ready in %v", e, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("emulator: stopping %v: %v", e, err)
		}
	})
	return e
}
