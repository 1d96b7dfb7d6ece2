package extension

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/jsonc"

	"github.com/azbind/azbind/connection"
)

// hostJSONIgnored are host.json top-level keys that azbind accepts without acting on them.
var hostJSONIgnored = []string{"aggregator", "healthMonitor", "singleton", "concurrency", "customHandler",
	"extensionBundle", "functions", "managedDependency", "watchDirectories", "watchFiles", "http",
	"telemetryMode", "languageWorkers", "sendCanceledInvocationsToWorker", "functionsWorkerRuntime", "id"}

// logLevels are the valid logging.logLevel values, in their canonical spelling.
var logLevels = []string{"Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"}

// HostOverridePrefix is the settings section whose children override host.json values, e.g.
// AzureFunctionsJobHost__extensions__queues__batchSize=8.
const HostOverridePrefix = "AzureFunctionsJobHost"

func parseHostJSON(file string, data []byte, settings *connection.Settings) (*HostConfig, []Problem) {
	ps := &problems{file: file}
	doc, err := decodeJSONDoc(data)
	if err != nil {
		ps.add("", err.Error(), "fix the JSON syntax of the file")
		return nil, ps.list
	}
	top, ok := doc.(map[string]any)
	if !ok {
		ps.add("", "must be a JSON object, got "+jsonc.Kind(doc), `write {"version": "2.0"}`)
		return nil, ps.list
	}
	if len(top) == 0 {
		// An empty host.json means the defaults (HostJsonFileConfigurationSourceTests
		// .EmptyHostJson_CreatesDefaultFile: "{}" becomes {"version": "2.0"}).
		top = map[string]any{"version": "2.0"}
	}
	overridden := applyHostOverrides(top, settings)
	h := &HostConfig{Extensions: map[string]map[string]any{}, LogLevels: map[string]string{}}
	for _, k := range sortedKeys(top) {
		v := top[k]
		field := k
		if src, ok := overridden[strings.ToLower(k)]; ok {
			field = k + " (from setting " + src + ")"
		}
		switch strings.ToLower(k) {
		case "version":
			s, _ := v.(string)
			if s != "2.0" {
				got := fmt.Sprintf("%q", s)
				if _, isStr := v.(string); !isStr {
					got = jsonc.Kind(v)
				}
				ps.add(field, fmt.Sprintf("%s is an invalid value for host.json 'version' property; azbind supports only \"2.0\" (the Functions v2+ schema)", got),
					`set "version": "2.0" and migrate the file (https://aka.ms/functions-hostjson)`)
			}
			h.Version = s
		case "functiontimeout":
			h.FunctionTimeout = parseFunctionTimeout(ps, field, v)
		case "retry":
			if v != nil {
				h.Retry = parseRetry(ps, field, v)
			}
		case "extensions":
			parseExtensions(ps, field, v, h, overridden)
		case "logging":
			parseLogging(ps, field, v, h)
		case "extensionbundle":
			checkExtensionBundle(ps, field, v)
		default:
			known := false
			for _, kk := range hostJSONIgnored {
				if strings.EqualFold(k, kk) {
					known = true
					break
				}
			}
			if !known {
				ps.warn(field, "unknown key is ignored", "remove it or check its spelling")
				h.Warnings = append(h.Warnings, file+": "+field+": unknown key is ignored")
			}
		}
	}
	if _, _, ok := getFold(top, "version"); !ok {
		ps.add("version", "The host.json file is missing the required 'version' property", `add "version": "2.0" (https://aka.ms/functions-hostjson)`)
	}
	return h, ps.list
}

func parseFunctionTimeout(ps *problems, field string, v any) time.Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		d, err := driver.ParseTimeSpan(x)
		if err != nil {
			ps.add(field, err.Error(), `use a TimeSpan such as "00:05:00", or "-1" for no limit`)
			return 0
		}
		if d < 0 {
			// The host reads minus one day ("-1", "-1.00:00:00") as no limit.
			if d != -24*time.Hour {
				ps.add(field, fmt.Sprintf("negative timeout %q", x), `use "-1" for no limit, or a TimeSpan such as "00:05:00"`)
				return 0
			}
			return -1
		}
		if d < time.Second {
			ps.add(field, "FunctionTimeout must be greater than 00:00:01", `use a TimeSpan of at least "00:00:01", or "-1" for no limit`)
			return 0
		}
		return d
	default:
		ps.add(field, fmt.Sprintf(`must be a TimeSpan string such as "00:05:00", got %s`, jsonc.Kind(v)), "fix the value")
		return 0
	}
}

func parseExtensions(ps *problems, field string, v any, h *HostConfig, overridden map[string]string) {
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(field, "must be an object of extension sections, got "+jsonc.Kind(v), `use "extensions": {"queues": {...}}`)
		return
	}
	for _, name := range sortedKeys(m) {
		sec, ok := m[name].(map[string]any)
		if !ok {
			if m[name] == nil {
				continue
			}
			ps.add(field+"."+name, "must be an object, got "+jsonc.Kind(m[name]), fmt.Sprintf(`use "%s": { ... }`, name))
			continue
		}
		h.Extensions[name] = sec
		checkSectionKeys(ps, field+"."+name, name, sec)
	}
}

func parseLogging(ps *problems, field string, v any, h *HostConfig) {
	if v == nil {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		ps.add(field, "must be an object, got "+jsonc.Kind(v), `use "logging": {"logLevel": {"default": "Information"}}`)
		return
	}
	lv, lk, ok := getFold(m, "logLevel")
	if !ok || lv == nil {
		return
	}
	levels, ok := lv.(map[string]any)
	if !ok {
		ps.add(field+"."+lk, "must be an object mapping categories to levels, got "+jsonc.Kind(lv), `use "logLevel": {"default": "Information", "Function": "Warning"}`)
		return
	}
	for _, cat := range sortedKeys(levels) {
		s, isStr := levels[cat].(string)
		canon := ""
		for _, l := range logLevels {
			if isStr && strings.EqualFold(strings.TrimSpace(s), l) {
				canon = l
			}
		}
		if canon == "" {
			got := jsonc.Kind(levels[cat])
			if isStr {
				got = strconv.Quote(s)
			}
			ps.add(field+"."+lk+"."+cat, "invalid log level "+got, "use one of "+strings.Join(logLevels, ", "))
			continue
		}
		h.LogLevels[cat] = canon
	}
}

// applyHostOverrides applies AzureFunctionsJobHost__a__b=value settings to the host.json tree
// (keys matched case-insensitively; missing objects created) and returns the overridden
// top-level keys (lower case) mapped to the setting key that set them.
func applyHostOverrides(top map[string]any, settings *connection.Settings) map[string]string {
	out := map[string]string{}
	children := settings.Children(HostOverridePrefix)
	if len(children) == 0 {
		return out
	}
	keys := make([]string, 0, len(children))
	for k := range children {
		keys = append(keys, k)
	}
	sortStringsLen(keys)
	for _, nk := range keys {
		kv := children[nk]
		// Recover the path as spelled in the source (Children lower-cases it).
		path := strings.Split(strings.ReplaceAll(kv.Key, "__", ":"), ":")
		if len(path) < 2 {
			continue
		}
		path = path[1:]
		setPath(top, path, kv.Value)
		out[strings.ToLower(path[0])] = kv.Key + " in " + kv.Source
	}
	return out
}

// sortStringsLen sorts shorter (parent) keys first so children are applied after parents.
func sortStringsLen(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (len(s[j]) < len(s[j-1]) || len(s[j]) == len(s[j-1]) && s[j] < s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func setPath(m map[string]any, path []string, value string) {
	for i, seg := range path {
		cur, k, ok := getFold(m, seg)
		if !ok {
			k = seg
		}
		if i == len(path)-1 {
			m[k] = convertSetting(cur, ok, value, path)
			return
		}
		next, isMap := cur.(map[string]any)
		if !isMap {
			next = map[string]any{}
			if arr, isArr := cur.([]any); isArr {
				// .NET configuration addresses array elements as "0", "1", ...
				for j, e := range arr {
					next[strconv.Itoa(j)] = e
				}
			}
			m[k] = next
		}
		m = next
	}
}

// convertSetting converts a setting's string to the JSON type the key holds; a new key becomes a
// number or boolean when it looks like one (except under version, functionTimeout and logging,
// which hold strings), as .NET configuration binding would convert it for a typed option.
func convertSetting(cur any, exists bool, s string, path []string) any {
	if exists {
		switch cur.(type) {
		case float64:
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f
			}
			return s
		case bool:
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b
			}
			return s
		case string:
			return s
		}
	}
	if !strings.EqualFold(path[0], "version") && !strings.EqualFold(path[0], "functionTimeout") && !strings.EqualFold(path[0], "logging") {
		t := strings.TrimSpace(s)
		if strings.EqualFold(t, "true") || strings.EqualFold(t, "false") {
			return strings.EqualFold(t, "true")
		}
		if f, err := strconv.ParseFloat(t, 64); err == nil && t != "" && !strings.ContainsAny(t, "xXpP_") && t[0] != '+' && !strings.EqualFold(t, "inf") && !strings.EqualFold(t, "nan") && !strings.EqualFold(t, "infinity") {
			return f
		}
	}
	return s
}
