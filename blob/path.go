package blob

import (
	"fmt"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// splitPath splits "container/blob/name" into its container and blob name. needBlob requires a
// blob name; otherwise "container" and "container/prefix" are accepted.
func splitPath(p string, needBlob bool, where string) (containerName, blobName string, err error) {
	c, b, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if c == "" {
		return "", "", &driver.ConfigError{Where: where, Field: "path", Problem: fmt.Sprintf("%q has no container", p), Fix: `use "container/blob"`}
	}
	if needBlob && b == "" {
		return "", "", &driver.ConfigError{Where: where, Field: "path", Problem: fmt.Sprintf("%q names no blob", p), Fix: `use "container/blob" (got only a container)`}
	}
	return c, b, nil
}
