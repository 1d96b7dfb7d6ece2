package table

import (
	"fmt"

	"github.com/google/uuid"
)

// GUID is an Edm.Guid property value. A field or map value of type GUID — or of any other
// [16]byte type, such as github.com/google/uuid.UUID, or aztables.EDMGUID — is written as
// Edm.Guid, and an Edm.Guid property reads back into any of those or into a string field (its
// canonical "D" form); in a map[string]any it reads back as a GUID. The bytes are in the
// order of the canonical text form (as github.com/google/uuid orders them), so a uuid.UUID
// converts with GUID(u) and back with uuid.UUID(g).
type GUID [16]byte

// String returns the canonical lower-case form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (g GUID) String() string { return uuid.UUID(g).String() }

// ParseGUID parses the "D" form (with or without braces "{…}") and the 32-digit "N" form.
func ParseGUID(s string) (GUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return GUID{}, fmt.Errorf("invalid GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx: %w", s, err)
	}
	return GUID(u), nil
}

// MarshalText implements encoding.TextMarshaler.
func (g GUID) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *GUID) UnmarshalText(b []byte) error {
	v, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}
