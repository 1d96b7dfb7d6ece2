package extension

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/jsonc"
)

// functionJSONKeys are the function.json top-level keys azbind reads or accepts.
var functionJSONKeys = []string{"bindings", "disabled", "retry", "scriptFile", "entryPoint", "excluded", "configurationSource", "generatedBy", "language", "functionDirectory", "$schema"}

func parseFunctionJSON(name, file string, data []byte) (*FunctionSpec, []Problem) {
	ps := &problems{file: file}
	doc, err := decodeJSONDoc(data)
	if err != nil {
		ps.add("", err.Error(), "fix the JSON syntax of the file")
		return nil, ps.list
	}
	top, ok := doc.(map[string]any)
	if !ok {
		ps.add("", "must be a JSON object, got "+jsonc.Kind(doc), `write {"bindings": [...]}`)
		return nil, ps.list
	}
	f := &FunctionSpec{Name: name, Where: file}
	for _, k := range sortedKeys(top) {
		known := false
		for _, kk := range functionJSONKeys {
			if strings.EqualFold(k, kk) {
				known = true
				break
			}
		}
		if !known {
			ps.warn(k, "unknown key is ignored", "remove it or check its spelling (known keys: "+strings.Join(functionJSONKeys[:8], ", ")+")")
		}
	}
	if v, k, ok := getFold(top, "disabled"); ok {
		switch x := v.(type) {
		case bool:
			f.Disabled = x
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				f.Disabled = true
			case "false", "":
			default:
				ps.add(k, fmt.Sprintf("must be true or false, got %q", x), `use "disabled": true or false`)
			}
		case nil:
		default:
			ps.add(k, "must be true or false, got "+jsonc.Kind(v), `use "disabled": true or false`)
		}
	}
	for _, key := range []string{"scriptFile", "entryPoint", "configurationSource"} {
		if v, k, ok := getFold(top, key); ok && v != nil {
			if _, isStr := v.(string); !isStr {
				ps.add(k, "must be a string, got "+jsonc.Kind(v), "use a string value or remove the key")
			}
		}
	}
	if v, k, ok := getFold(top, "excluded"); ok && v != nil {
		if _, isBool := v.(bool); !isBool {
			ps.add(k, "must be true or false, got "+jsonc.Kind(v), `use "excluded": true or false`)
		}
	}
	if v, k, ok := getFold(top, "retry"); ok && v != nil {
		f.Retry = parseRetry(ps, k, v)
	}
	v, k, ok := getFold(top, "bindings")
	switch {
	case !ok || v == nil:
		ps.add("bindings", "is required", `add "bindings": [ ... ] with exactly one trigger binding`)
	default:
		arr, isArr := v.([]any)
		if !isArr {
			ps.add(k, "must be an array of binding objects, got "+jsonc.Kind(v), `use "bindings": [{"type": ..., "direction": ..., "name": ...}]`)
			break
		}
		for i, e := range arr {
			if b := parseBinding(ps, file, i, e); b != nil {
				f.Bindings = append(f.Bindings, b)
			}
		}
	}
	return f, ps.list
}

func parseBinding(ps *problems, file string, i int, e any) *BindingSpec {
	field := fmt.Sprintf("bindings[%d]", i)
	m, ok := e.(map[string]any)
	if !ok {
		ps.add(field, "must be a binding object, got "+jsonc.Kind(e), `use {"type": ..., "direction": ..., "name": ...}`)
		return nil
	}
	b := &BindingSpec{Properties: map[string]any{}, Where: file + ": " + field}
	str := func(k string, v any) string {
		if v == nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			ps.add(field+"."+k, "must be a string, got "+jsonc.Kind(v), "use a string value")
		}
		return s
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch strings.ToLower(k) {
		case "type":
			b.Type = str(k, v)
		case "name":
			b.Name = str(k, v)
		case "direction":
			b.Direction = Direction(strings.ToLower(str(k, v)))
		case "datatype":
			b.DataType = str(k, v)
		case "cardinality":
			b.Cardinality = str(k, v)
		default:
			b.Properties[k] = v
		}
	}
	if b.Direction == "" && b.IsTrigger() {
		b.Direction = DirIn
	}
	return b
}

// parseRetry parses a retry object (function.json or host.json "retry", checklist C57). It
// returns nil after reporting problems when the policy is unusable.
func parseRetry(ps *problems, field string, v any) *RetryPolicy {
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(field, "must be an object, got "+jsonc.Kind(v), `use {"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "00:00:05"}`)
		return nil
	}
	n := len(ps.list)
	r := &RetryPolicy{}
	sv, sk, ok := getFold(m, "strategy")
	if !ok || sv == nil {
		ps.add(joinField(field, "strategy"), "is required", `set "strategy" to "fixedDelay" or "exponentialBackoff"`)
	} else if s, isStr := sv.(string); !isStr {
		ps.add(joinField(field, sk), "must be a string, got "+jsonc.Kind(sv), `use "fixedDelay" or "exponentialBackoff"`)
	} else {
		switch {
		case strings.EqualFold(s, string(FixedDelay)):
			r.Strategy = FixedDelay
		case strings.EqualFold(s, string(ExponentialBackoff)):
			r.Strategy = ExponentialBackoff
		default:
			ps.add(joinField(field, sk), fmt.Sprintf("unknown retry strategy %q", s), `use "fixedDelay" or "exponentialBackoff"`)
		}
	}
	cv, ck, ok := getFold(m, "maxRetryCount")
	if !ok || cv == nil {
		ps.add(joinField(field, "maxRetryCount"), "is required", `set "maxRetryCount" to the number of retries (-1 retries forever)`)
	} else {
		switch x := cv.(type) {
		case float64:
			if x != math.Trunc(x) || x > math.MaxInt32 {
				ps.add(joinField(field, ck), fmt.Sprintf("must be a whole number, got %v", x), "use a whole number; -1 retries forever")
			} else if x < -1 {
				ps.add(joinField(field, ck), "'maxRetryCount' must be greater than or equal to -1.", "use a number ≥ 0, or -1 to retry forever")
			} else {
				r.MaxRetryCount = int(x)
			}
		default:
			ps.add(joinField(field, ck), "must be a number, got "+jsonc.Kind(cv), "use a whole number; -1 retries forever")
		}
	}
	interval := func(key string, required bool) time.Duration {
		v, k, ok := getFold(m, key)
		if !ok || v == nil {
			if required {
				ps.add(joinField(field, key), fmt.Sprintf("is required for the %s strategy", r.Strategy), fmt.Sprintf(`set %q to a TimeSpan such as "00:00:10"`, key))
			}
			return 0
		}
		s, isStr := v.(string)
		if !isStr {
			ps.add(joinField(field, k), fmt.Sprintf(`must be a TimeSpan string such as "00:00:10", got %s`, jsonc.Kind(v)), "quote the value as \"hh:mm:ss\"")
			return 0
		}
		d, err := driver.ParseTimeSpan(s)
		if err != nil {
			ps.add(joinField(field, k), err.Error(), `use a TimeSpan such as "00:00:10"`)
			return 0
		}
		if d < 0 {
			ps.add(joinField(field, k), fmt.Sprintf("'%s' must not be negative.", key), `use a TimeSpan such as "00:00:10"`)
			return 0
		}
		return d
	}
	switch r.Strategy {
	case FixedDelay:
		r.DelayInterval = interval("delayInterval", true)
	case ExponentialBackoff:
		r.MinimumInterval = interval("minimumInterval", true)
		r.MaximumInterval = interval("maximumInterval", true)
		if len(ps.list) == n && r.MinimumInterval > r.MaximumInterval {
			ps.add(joinField(field, "minimumInterval"), "'minimumInterval' must not be greater than 'maximumInterval'.", "make minimumInterval less than or equal to maximumInterval")
		}
	}
	if len(ps.list) != n {
		return nil
	}
	return r
}

// checkRetry validates a RetryPolicy built in Go (the JSON parser reports its own problems).
func checkRetry(ps *problems, field string, r *RetryPolicy) {
	switch r.Strategy {
	case FixedDelay:
		if r.DelayInterval < 0 {
			ps.add(field+".delayInterval", "'delayInterval' must not be negative.", "use a delay ≥ 0")
		}
	case ExponentialBackoff:
		if r.MinimumInterval < 0 || r.MaximumInterval < 0 {
			ps.add(field+".minimumInterval", "the intervals must not be negative.", "use intervals ≥ 0")
		} else if r.MinimumInterval > r.MaximumInterval {
			ps.add(field+".minimumInterval", "'minimumInterval' must not be greater than 'maximumInterval'.", "make MinimumInterval less than or equal to MaximumInterval")
		} else if r.MaximumInterval == 0 {
			ps.add(field+".maximumInterval", "is required for the exponentialBackoff strategy", "set MaximumInterval")
		}
	default:
		ps.add(field+".strategy", fmt.Sprintf("unknown retry strategy %q", r.Strategy), "use FixedDelay or ExponentialBackoff")
	}
	if r.MaxRetryCount < -1 {
		ps.add(field+".maxRetryCount", "'maxRetryCount' must be greater than or equal to -1.", "use a number ≥ 0, or -1 to retry forever")
	}
}
