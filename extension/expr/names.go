package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidName is wrapped by the storage-name errors below: names the storage service would
// refuse with a 400 that no retry can clear.
var ErrInvalidName = errors.New("invalid storage name")

// ContainerNameRule says what a valid blob container name is, for messages.
const ContainerNameRule = "a container name is 3–63 characters of lowercase letters, digits and single dashes, starting and ending with a letter or digit (or $root / $web)"

// ValidateContainerName checks a blob container name against the storage service's rules (the
// host's BlobNameValidationAttribute.IsValidContainerName, whose regex is looser about '--', '['
// and '^' than the service: azbind follows the service). The error text starts as the host's:
// "Invalid container name: NAME".
func ValidateContainerName(name string) error {
	if name == "$root" || name == "$web" {
		return nil
	}
	bad := func(why string) error {
		return &Error{Msg: fmt.Sprintf("Invalid container name: %s (%s)", name, why), Kind: ErrInvalidName}
	}
	if len(name) < 3 || len(name) > 63 {
		return bad(fmt.Sprintf("it has %d characters; %s", utf8.RuneCountInString(name), ContainerNameRule))
	}
	prev := byte(0)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			return bad(fmt.Sprintf("upper-case letters are not allowed: use %q; %s", strings.ToLower(name), ContainerNameRule))
		case c == '-':
			if i == 0 || i == len(name)-1 {
				return bad("it starts or ends with '-'; " + ContainerNameRule)
			}
			if prev == '-' {
				return bad("it has consecutive dashes; " + ContainerNameRule)
			}
		default:
			r, _ := utf8.DecodeRuneInString(name[i:])
			return bad(fmt.Sprintf("character %q is not allowed; %s", r, ContainerNameRule))
		}
		prev = c
	}
	return nil
}

// ValidateBlobName checks a blob name with the host's rules and texts
// (BlobNameValidationAttribute.IsValidBlobName): 1–1,024 characters, no '\', not ending in '.'
// or '/'.
func ValidateBlobName(name string) error {
	bad := func(format string) error {
		return &Error{Msg: fmt.Sprintf(format, name), Kind: ErrInvalidName}
	}
	switch {
	case name == "":
		return bad("The given blob name '%s' is too short. A blob name must be at least one character long and cannot be more than 1,024 characters long.")
	case len(name) > 1024:
		return bad("The given blob name '%s' is too long. A blob name must be at least one character long and cannot be more than 1,024 characters long.")
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, "/"):
		return bad("The given blob name '%s' has an invalid suffix. Avoid blob names that end with a dot ('.'), a forward slash ('/'), or a sequence or combination of the two.")
	case strings.Contains(name, `\`):
		return bad("The given blob name '%s' contain illegal characters. A blob name cannot the following character(s): '\\'.")
	}
	return nil
}

// NormalizeQueueName lower-cases a queue name as WebJobs does before validating it ("must be
// lowercase. coerce here to be nice": QueueTriggerAttributeBindingProvider and
// QueuesExtensionConfigProvider call ToLowerInvariant).
func NormalizeQueueName(name string) string { return strings.ToLower(name) }

// ValidateQueueName checks a queue name (after NormalizeQueueName) with the host's rules and texts
// (QueueClient.IsValidQueueName): 3–63 characters, letters, digits and single dashes, not
// starting or ending with a dash, all lower case.
func ValidateQueueName(name string) error {
	bad := func(msg string) error { return &Error{Msg: msg, Kind: ErrInvalidName} }
	if name == "" {
		return bad("A queue name can't be null or empty")
	}
	if n := utf8.RuneCountInString(name); n < 3 || n > 63 {
		return bad(fmt.Sprintf("A queue name must be from 3 to 63 characters long - %q", name))
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return bad(fmt.Sprintf("The dash (-) character may not be the first or last letter - %q", name))
	}
	prev := 'a'
	for _, r := range name {
		if unicode.IsUpper(r) {
			return bad(fmt.Sprintf("Queue names must be all lower case - %q", name))
		}
		// The service accepts ASCII only; the host's check (Char.IsLetterOrDigit) is looser.
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') && r != '-' {
			return bad(fmt.Sprintf("A queue name can contain only letters, numbers, and dash(-) characters - %q", name))
		}
		if r == '-' && prev == '-' {
			return bad("A queue name cannot contain consecutive dash(-) characters.")
		}
		prev = r
	}
	return nil
}
