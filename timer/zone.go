package timer

import (
	"fmt"
	"time"
)

// LoadLocation returns the time zone named name as Functions reads WEBSITE_TIME_ZONE (Windows
// plans: a Windows zone id such as "Pacific Standard Time") or TZ (Linux: an IANA name such as
// "America/Los_Angeles"): an IANA name by Go's time.LoadLocation, or one of the common Windows ids
// mapped to its IANA zone. "" and "UTC" are UTC.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "UTC" || name == "Coordinated Universal Time" {
		return time.UTC, nil
	}
	if iana, ok := windowsZones[name]; ok {
		name = iana
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w (use an IANA name such as America/Los_Angeles, or a Windows id such as Pacific Standard Time)", name, err)
	}
	return loc, nil
}

// windowsZones maps common Windows time zone ids (CLDR windowsZones.xml, territory 001) to IANA.
var windowsZones = map[string]string{
	"Dateline Standard Time":         "Etc/GMT+12",
	"Hawaiian Standard Time":         "Pacific/Honolulu",
	"Alaskan Standard Time":          "America/Anchorage",
	"Pacific Standard Time":          "America/Los_Angeles",
	"US Mountain Standard Time":      "America/Phoenix",
	"Mountain Standard Time":         "America/Denver",
	"Central Standard Time":          "America/Chicago",
	"Central America Standard Time":  "America/Guatemala",
	"Canada Central Standard Time":   "America/Regina",
	"Eastern Standard Time":          "America/New_York",
	"US Eastern Standard Time":       "America/Indianapolis",
	"Atlantic Standard Time":         "America/Halifax",
	"Newfoundland Standard Time":     "America/St_Johns",
	"E. South America Standard Time": "America/Sao_Paulo",
	"Argentina Standard Time":        "America/Buenos_Aires",
	"SA Pacific Standard Time":       "America/Bogota",
	"Pacific SA Standard Time":       "America/Santiago",
	"Mexico Standard Time":           "America/Mexico_City",
	"Central Standard Time (Mexico)": "America/Mexico_City",
	"UTC":                            "Etc/UTC",
	"GMT Standard Time":              "Europe/London",
	"Greenwich Standard Time":        "Atlantic/Reykjavik",
	"W. Europe Standard Time":        "Europe/Berlin",
	"Central Europe Standard Time":   "Europe/Budapest",
	"Central European Standard Time": "Europe/Warsaw",
	"Romance Standard Time":          "Europe/Paris",
	"E. Europe Standard Time":        "Europe/Chisinau",
	"GTB Standard Time":              "Europe/Bucharest",
	"FLE Standard Time":              "Europe/Kiev",
	"Turkey Standard Time":           "Europe/Istanbul",
	"Israel Standard Time":           "Asia/Jerusalem",
	"South Africa Standard Time":     "Africa/Johannesburg",
	"Egypt Standard Time":            "Africa/Cairo",
	"Russian Standard Time":          "Europe/Moscow",
	"Arabian Standard Time":          "Asia/Dubai",
	"Arab Standard Time":             "Asia/Riyadh",
	"Iran Standard Time":             "Asia/Tehran",
	"Pakistan Standard Time":         "Asia/Karachi",
	"India Standard Time":            "Asia/Calcutta",
	"Nepal Standard Time":            "Asia/Katmandu",
	"Bangladesh Standard Time":       "Asia/Dhaka",
	"SE Asia Standard Time":          "Asia/Bangkok",
	"China Standard Time":            "Asia/Shanghai",
	"Singapore Standard Time":        "Asia/Singapore",
	"Taipei Standard Time":           "Asia/Taipei",
	"W. Australia Standard Time":     "Australia/Perth",
	"Tokyo Standard Time":            "Asia/Tokyo",
	"Korea Standard Time":            "Asia/Seoul",
	"Cen. Australia Standard Time":   "Australia/Adelaide",
	"AUS Central Standard Time":      "Australia/Darwin",
	"E. Australia Standard Time":     "Australia/Brisbane",
	"AUS Eastern Standard Time":      "Australia/Sydney",
	"Tasmania Standard Time":         "Australia/Hobart",
	"New Zealand Standard Time":      "Pacific/Auckland",
}
