package extension

import (
	"fmt"
	"hash/fnv"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
)

// hostIDPattern: 1–32 chars, lowercase letters, digits and single inner dashes (C59).
var hostIDPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){0,31}$`)

func (h *Host) resolveHostID() (string, error) {
	id, where := h.opts.HostID, "HostOptions.HostID"
	if id == "" {
		if kv, ok := h.settings.Lookup("AzureFunctionsWebHost:hostid"); ok {
			id, where = kv.Value, "setting "+kv.Key
		}
	}
	if id != "" {
		// Used as given, as the host does; never silently lower-cased or cut (WebJobs refuses an
		// id that HostIdValidator rejects).
		if len(id) > maxHostIDLength || !hostIDPattern.MatchString(id) {
			fix := "use 1–32 lowercase letters, digits and single dashes, not at the start or end (a longer id would be truncated and could collide with another app's)"
			if l := strings.ToLower(id); l != id && len(l) <= maxHostIDLength && hostIDPattern.MatchString(l) {
				fix = fmt.Sprintf("use %q", l)
			}
			return "", fmt.Errorf("%s: host id %q is invalid: %s: %s: %w", where, id, strings.TrimSuffix(hostIDValidationMessage, "."), fix, ErrInvalidConfig)
		}
		return id, nil
	}
	// On App Service, Kubernetes and Linux/Flex Consumption: the host's default, from the site
	// name, so that every instance of the app shares it.
	if pid, _, ok := platformHostID(func(k string) string { v, _ := h.settings.Get(k); return v }); ok {
		return pid, nil
	}
	// Derived: <machine name>-<hash of the app>, stable per app and machine (as Functions does
	// locally), never truncated into a collision: the hash is always kept whole. The app is its
	// folder (LoadAppDir), else the program's main package and its function names.
	name, _ := os.Hostname()
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	machine := b.String()
	if machine == "" {
		machine = "host"
	}
	hs := fnv.New32a()
	key := h.appDir
	if key == "" {
		// The program, by its main package path (the executable's path changes on every `go run`);
		// a main built from file arguments has no path, so the working folder stands in for it.
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" && bi.Path != "command-line-arguments" {
			key = bi.Path
		} else if wd, err := os.Getwd(); err == nil {
			key = "cwd:" + wd
		} else {
			key, _ = os.Executable()
		}
		names := make([]string, 0, len(h.specs))
		for _, s := range h.specs {
			names = append(names, strings.ToLower(s.Name))
		}
		sort.Strings(names)
		key += "|" + strings.Join(names, ",")
	}
	hs.Write([]byte(key))
	suffix := fmt.Sprintf("%08x", hs.Sum32())
	if len(machine) > 32-1-len(suffix) {
		machine = machine[:32-1-len(suffix)]
	}
	return machine + "-" + suffix, nil
}
