package table

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an Edm.Guid property value. A field or map value of type GUID — or of any other
// [16]byte type, such as github.com/google/uuid.UUID, or aztables.EDMGUID — is written as
// Edm.Guid, and an Edm.Guid property reads back into any of those or into a string field (its
// canonical "D" form); in a map[string]any it reads back as a GUID. The bytes are in the
// order of the canonical text form (as github.com/google/uuid orders them), so a uuid.UUID
// converts with GUID(u) and back with uuid.UUID(g).
type GUID [16]byte

// String returns the canonical lower-case form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (g GUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], g[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], g[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], g[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], g[8:10])
	b[23] = '-'
	hex.Encode(b[24:], g[10:])
	return string(b[:])
}

// ParseGUID parses the "D" form (with or without braces "{…}") and the 32-digit "N" form.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	t := strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(t) == 36 {
		if t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
			return g, fmt.Errorf("invalid GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
		}
		t = t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	}
	if len(t) != 32 {
		return g, fmt.Errorf("invalid GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	if _, err := hex.Decode(g[:], []byte(t)); err != nil {
		return g, fmt.Errorf("invalid GUID %q: %v", s, err)
	}
	return g, nil
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
