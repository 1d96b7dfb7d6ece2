package extension

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// maxHostIDLength is the host's ScriptConstants.MaximumHostIdLength.
const maxHostIDLength = 32

// platformHostID derives the default host id the way the Functions host does
// (ScriptHostIdProvider.GetDefaultHostId) on the platforms where scaled-out instances must share
// one id — and with it their blob receipts, scan locks and checkpoints:
//
//   - Flex Consumption (WEBSITE_SKU=FlexConsumption, or a Legion container): the MD5 of the unique
//     slot name as a .NET Guid without dashes (32 characters, never truncated);
//   - App Service (WEBSITE_INSTANCE_ID set) and Kubernetes (KUBERNETES_SERVICE_HOST with
//     POD_NAMESPACE, or MANAGED_ENVIRONMENT): the unique slot name — WEBSITE_SITE_NAME, plus
//     "-" + WEBSITE_SLOT_NAME for a slot other than production — lower-cased;
//   - Linux Consumption (CONTAINER_NAME without WEBSITE_INSTANCE_ID): WEBSITE_HOSTNAME without
//     ".azurewebsites.net".
//
// Then the id is cut to 32 characters (truncated reports that) and trailing dashes are trimmed.
// ok is false off those platforms (local runs), where azbind derives its own id.
func platformHostID(getenv func(string) string) (id string, truncated, ok bool) {
	appService := getenv("WEBSITE_INSTANCE_ID") != ""
	managedApp := getenv("MANAGED_ENVIRONMENT") != ""
	kubernetes := getenv("KUBERNETES_SERVICE_HOST") != "" && getenv("POD_NAMESPACE") != "" && !managedApp || managedApp
	container := getenv("CONTAINER_NAME") != ""
	legion := !appService && (container || getenv("WEBSITE_POD_NAME") != "") && getenv("LEGION_SERVICE_HOST") != ""
	flex := strings.EqualFold(getenv("WEBSITE_SKU"), "FlexConsumption") || legion
	linuxConsumption := (!appService && container && getenv("LEGION_SERVICE_HOST") == "" || flex) && !managedApp

	uniqueSlotName := func() string {
		name := getenv("WEBSITE_SITE_NAME")
		if slot := getenv("WEBSITE_SLOT_NAME"); slot != "" && !strings.EqualFold(slot, "production") {
			name += "-" + slot
		}
		return strings.ToLower(name)
	}

	switch {
	case flex:
		name := uniqueSlotName()
		if name == "" {
			return "", false, false
		}
		return dotnetGUIDHex(md5.Sum([]byte(name))), false, true
	case appService || kubernetes:
		id = uniqueSlotName()
	case linuxConsumption:
		id = strings.Replace(getenv("WEBSITE_HOSTNAME"), ".azurewebsites.net", "", 1)
	default:
		return "", false, false
	}
	if id == "" {
		return "", false, false
	}
	if len(id) > maxHostIDLength {
		id, truncated = id[:maxHostIDLength], true
	}
	return strings.TrimRight(strings.ToLower(id), "-"), truncated, true
}

// dotnetGUIDHex formats 16 bytes as .NET's new Guid(bytes).ToString("N"): the first three
// fields are little-endian.
func dotnetGUIDHex(b [16]byte) string {
	o := [16]byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]}
	return hex.EncodeToString(o[:])
}

// hostIDValidationMessage is the WebJobs text (HostIdValidator.ValidationMessage).
const hostIDValidationMessage = "A host ID must be between 1 and 32 characters, contain only lowercase letters, numbers, and dashes, not start or end with a dash, and not contain consecutive dashes."
