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
		return "", "", fmt.Errorf("%s: path: %q has no container: use \"container/blob\": %w", where, p, driver.ErrInvalidConfig)
	}
	if needBlob && b == "" {
		return "", "", fmt.Errorf("%s: path: %q names no blob: use \"container/blob\" (got only a container): %w", where, p, driver.ErrInvalidConfig)
	}
	return c, b, nil
}
