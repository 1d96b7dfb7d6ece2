package extension

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/azbind/azbind/internal/jsonc"
)

// decodeJSONDoc decodes a whole JSON document into any (numbers as float64), read as the host
// reads it (internal/jsonc: a UTF-8 BOM, comments, trailing commas, single-quoted strings and
// unquoted keys are accepted, as Json.NET does). A syntax error is described with its byte
// offset and line:column in the original text, never quoting the document.
func decodeJSONDoc(data []byte) (any, error) {
	var v any
	if err := jsonc.Unmarshal(data, &v); err != nil {
		if errors.Is(err, jsonc.ErrEmpty) {
			return nil, fmt.Errorf("the file is empty")
		}
		return nil, err
	}
	return v, nil
}

// getFold returns the value of key in m, matched case-insensitively, and the key as spelled.
func getFold(m map[string]any, key string) (any, string, bool) {
	if v, ok := m[key]; ok {
		return v, key, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, k, true
		}
	}
	return nil, "", false
}

// sortedKeys returns m's keys in sorted order, for deterministic problem lists.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// problems collects Problems for one file.
type problems struct {
	file string
	list []Problem
}

func (p *problems) add(field, problem, fix string) {
	p.list = append(p.list, Problem{File: p.file, Field: field, Problem: problem, Fix: fix})
}

func (p *problems) warn(field, problem, fix string) {
	p.list = append(p.list, Problem{File: p.file, Field: field, Problem: problem, Fix: fix, Warning: true})
}

func joinField(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}
