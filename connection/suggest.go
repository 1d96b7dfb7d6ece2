package connection

import (
	"sort"
	"strings"

	"github.com/azbind/azbind/internal/suggest"
)

// suggestKeys returns the settings whose name is closest (at most two edits) to one of the keys
// tried (a typo such as
// AzureWebJobStorage for AzureWebJobsStorage, or Storage1_blobServiceUri for a section), for a
// "did you mean" hint. Only names are compared and returned, never values.
func suggestKeys(s *Settings, tried []string) []string {
	if s == nil {
		return nil
	}
	var targets []string
	for _, t := range tried {
		targets = append(targets, strings.ToLower(strings.TrimPrefix(NormalizeKey(t), "connectionstrings:")))
	}
	seen := map[string]bool{}
	var out []string
	best := 3
	for _, st := range s.All() {
		// The setting's name, or its section's name for a__b style keys.
		name := st.Key
		for _, cut := range []string{"__", ":"} {
			if i := strings.Index(name, cut); i > 0 {
				name = name[:i]
			}
		}
		norm := strings.ToLower(name)
		if seen[norm] {
			continue
		}
		d := best + 1
		for _, t := range targets {
			if e := suggest.Distance(norm, t); e > 0 && e*4 <= len(t) {
				d = min(d, e)
			}
		}
		switch {
		case d < best:
			// Keep only the closest names.
			best, out = d, out[:0]
			fallthrough
		case d == best:
			seen[norm] = true
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
