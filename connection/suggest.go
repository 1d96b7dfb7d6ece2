package connection

import (
	"sort"
	"strings"
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
			if e := editDistance(norm, t); e > 0 && e*4 <= len(t) {
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

// editDistance is the Damerau–Levenshtein (optimal string alignment) distance between a and b,
// in bytes.
func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
