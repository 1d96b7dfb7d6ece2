package blob

import (
	"fmt"
	"strings"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
)

// splitPath splits "container/blob/name" into its container and blob name. needBlob requires a
// blob name; otherwise "container" and "container/prefix" are accepted.
func splitPath(p string, needBlob bool, where string) (containerName, blobName string, err error) {
	c, b, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if c == "" {
		return "", "", &driver.ConfigError{Where: where, Field: "path", Problem: fmt.Sprintf("%q has no container", p), Fix: `use "container/blob"`}
	}
	// The storage service refuses such a container with a 400 that no retry clears: say so at
	// load for a literal path (the host's text: "Invalid container name: NAME").
	if err := expr.ValidateContainerName(c); err != nil {
		return "", "", fmt.Errorf("%s: path: %q: %w: %w", where, p, err, driver.ErrInvalidConfig)
	}
	if needBlob && b == "" {
		return "", "", &driver.ConfigError{Where: where, Field: "path", Problem: fmt.Sprintf("%q names no blob", p), Fix: `use "container/blob" (got only a container)`}
	}
	return c, b, nil
}
