// Package emulator starts the local emulators azbind's own tests run on, for your tests and
// programs: Azurite (Azure Storage), the AMQP peer (a local Service Bus and Event Hubs) and the
// Cosmos launcher (a local Cosmos DB with a change feed). Each runs as a Node child process on
// free loopback ports (or the ports given), from the npm packages pinned in the azbind
// repository's emulators/ folder: install them once with `npm ci --prefix emulators` in a clone,
// and run from inside the clone or set AZBIND_EMULATORS_DIR to that emulators folder.
//
// Start* functions are for tests (they stop the emulator in t.Cleanup and fail the test with the
// install command when it is missing); Launch* functions are for programs and TestMain (the
// caller calls Stop). `azbind emulators start` is the command-line form.
//
// These are local tools, not the services: the README's "Local emulators" section says what the
// AMQP peer and the Cosmos launcher do and do not do compared with Service Bus, Event Hubs and
// Cosmos DB.
package emulator

import (
	"testing"

	ie "github.com/azbind/azbind/internal/emulator"
)

// The emulator types. Their String methods never print a key.
type (
	// Azurite is a running Azurite: endpoints, ports and ConnectionString.
	Azurite = ie.Azurite
	// AzuriteOptions configure Azurite (ports, data folder, HTTPS with OAuth).
	AzuriteOptions = ie.AzuriteOptions
	// AMQPPeer is a running AMQP peer: a local Service Bus and Event Hubs.
	AMQPPeer = ie.AMQPPeer
	// AMQPPeerOptions configure the AMQP peer (SAS key, entities, ports).
	AMQPPeerOptions = ie.AMQPPeerOptions
	// CosmosFeed is a running Cosmos launcher: a local Cosmos DB with a change feed.
	CosmosFeed = ie.CosmosFeed
	// CosmosFeedOptions configure the Cosmos launcher (partition-key ranges, plain HTTP, port).
	CosmosFeedOptions = ie.CosmosFeedOptions
)

// Well-known values and the errors to test with errors.Is.
const (
	// EnvDir names the environment variable holding the folder with the emulators' node_modules.
	EnvDir = ie.EnvDir
	// InstallCommand installs the pinned emulators, run at the root of an azbind clone.
	InstallCommand = ie.InstallCommand
)

var (
	// ErrNotInstalled: node or an emulator's npm package cannot be found.
	ErrNotInstalled = ie.ErrNotInstalled
	// ErrStart: an emulator process failed to start or to become ready.
	ErrStart = ie.ErrStart
)

// StartAzurite starts Azurite for a test and stops it when the test ends.
func StartAzurite(t testing.TB, opts *AzuriteOptions) *Azurite {
	t.Helper()
	return ie.StartAzurite(t, opts)
}

// LaunchAzurite starts Azurite for a program; the caller must Stop it.
func LaunchAzurite(opts *AzuriteOptions) (*Azurite, error) { return ie.LaunchAzurite(opts) }

// StartAMQPPeer starts the AMQP peer for a test and stops it when the test ends.
func StartAMQPPeer(t testing.TB, opts *AMQPPeerOptions) *AMQPPeer {
	t.Helper()
	return ie.StartAMQPPeer(t, opts)
}

// LaunchAMQPPeer starts the AMQP peer for a program; the caller must Stop it.
func LaunchAMQPPeer(opts *AMQPPeerOptions) (*AMQPPeer, error) { return ie.LaunchAMQPPeer(opts) }

// StartCosmosFeed starts the Cosmos launcher for a test and stops it when the test ends.
func StartCosmosFeed(t testing.TB, opts *CosmosFeedOptions) *CosmosFeed {
	t.Helper()
	return ie.StartCosmosFeed(t, opts)
}

// LaunchCosmosFeed starts the Cosmos launcher for a program; the caller must Stop it.
func LaunchCosmosFeed(opts *CosmosFeedOptions) (*CosmosFeed, error) {
	return ie.LaunchCosmosFeed(opts)
}
