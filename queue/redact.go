package queue

import "github.com/azbind/azbind/connection"

// redact hides secrets (SAS signatures) in a service error; see connection.RedactError.
func redact(err error) error { return connection.RedactError(err) }
