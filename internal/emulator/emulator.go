// Package emulator starts the local Azure emulators (Azurite; cosmosdb-server) that azbind's tests,
// demo and benchmarks run against, from the project's own npm install in emulators/ (package.json
// and package-lock.json pin azurite 3.37.0 and @vercel/cosmosdb-server 1.0.1).
//
// STUB: API fixed, implementation pending.
package emulator

import (
	"crypto/x509"
	"net/http"
	"testing"
)

// AzuriteOptions configure StartAzurite. The zero value is plain HTTP Azurite on disk in a fresh
// tmpfs folder with --skipApiVersionCheck.
type AzuriteOptions struct {
	// OAuth starts Azurite over HTTPS with `--oauth basic` and a freshly generated self-signed CA
	// certificate (SAN localhost and 127.0.0.1), for identity-based connections.
	OAuth bool
	// Dir is the data folder (default: a new folder under /dev/shm, removed on stop).
	Dir string
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

	stop func() error
}

// Stop stops the emulator and removes its data folder. Safe to call twice.
func (a *Azurite) Stop() error { return a.stop() }

// StartAzurite starts Azurite on free loopback ports, waits until all three services accept
// connections, and stops it in t.Cleanup. If Azurite is not installed the test fails with the
// command that installs it.
func StartAzurite(t testing.TB, opts *AzuriteOptions) *Azurite { panic("not implemented") }

// LaunchAzurite is StartAzurite for programs (the demo, benchmarks): the caller must Stop it.
func LaunchAzurite(opts *AzuriteOptions) (*Azurite, error) { panic("not implemented") }

// Cosmos is a running cosmosdb-server.
type Cosmos struct {
	Endpoint         string // http://127.0.0.1:<port>/
	Key              string // the emulator's well-known key (cosmosdb-server does no auth)
	ConnectionString string
	stop             func() error
}

// Stop stops the server.
func (c *Cosmos) Stop() error { return c.stop() }

// StartCosmos starts cosmosdb-server (--no-ssl) on a free loopback port; stopped in t.Cleanup.
func StartCosmos(t testing.TB) *Cosmos { panic("not implemented") }
