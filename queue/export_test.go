package queue

import (
	"github.com/azbind/azbind/queue/queuetest"
)

// Exported for the external tests (package queue_test) in this directory.

// SharedEnv returns the package's test account.
func SharedEnv() *queuetest.Env { return env }

// ConnString returns the test account's connection string.
func ConnString() string { return env.ConnectionString }

// Resolver resolves every connection to the test account.
type Resolver = testResolver

// TextBindError is textBindError.
var TextBindError = textBindError
