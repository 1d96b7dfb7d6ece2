package table

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/azbind/azbind/extension/driver"
)

// Mode is the write mode of a table output (binding property "mode").
type Mode string

// The write modes.
const (
	ModeInsert Mode = "insert" // default: fail when the entity exists
	ModeUpsert Mode = "upsert" // insert or replace
	ModeMerge  Mode = "merge"  // insert or merge
)

func parseMode(s string) (Mode, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "insert":
		return ModeInsert, true
	case "upsert":
		return ModeUpsert, true
	case "merge":
		return ModeMerge, true
	}
	return "", false
}

var tableNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

func validateTableName(where, name string) error {
	if !tableNameRE.MatchString(name) || strings.EqualFold(name, "tables") {
		return &driver.ConfigError{Where: where, Field: "tableName", Problem: fmt.Sprintf("%q is not a valid table name", name),
			Fix: `use 3–63 letters and digits starting with a letter (not "tables")`}
	}
	return nil
}

// validateKey applies the service's key rules before anything is sent (C37: keys validated
// client-side): no '/', '\\', '#', '?', no control characters, at most 1 KiB.
func validateKey(which, key string) error {
	if len(key) > 1024 {
		return fmt.Errorf("table: %s is longer than 1 KiB: %w", which, ErrInvalidEntity)
	}
	for _, r := range key {
		switch {
		case r == '/' || r == '\\' || r == '#' || r == '?':
			return fmt.Errorf("table: %s %q contains %q, which Azure Tables does not allow in keys: %w", which, key, r, ErrInvalidEntity)
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			return fmt.Errorf("table: %s %q contains the control character %U, which Azure Tables does not allow in keys: %w", which, key, r, ErrInvalidEntity)
		}
	}
	return nil
}
