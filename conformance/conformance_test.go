package conformance_test

import (
	"testing"

	"github.com/azbind/azbind/conformance"
)

// TestInMemory proves the suite and the runtime with the in-memory connector's queue trigger
// (TestInMemoryStream and TestInMemoryPush prove the stream and push tests).
func TestInMemory(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return Harness{} })
}
