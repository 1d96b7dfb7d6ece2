package extension

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/suggest"
)

// documentedHostKeys are the host.json keys of the Functions extensions (the host.json reference
// for extension bundle 4.x, plus the options azbind's connectors add), by section name in lower
// case, for extensions that declare no driver.Extension.ConfigKeys. "parent.child" is a key of
// a nested object.
var documentedHostKeys = map[string][]string{
	"queues": {"batchSize", "newBatchThreshold", "maxPollingInterval", "visibilityTimeout", "maxDequeueCount",
		"messageEncoding", "failureBackoff", "maxFailureBackoff", "receiveVisibility"},
	"blobs": {"maxDegreeOfParallelism", "poisonBlobThreshold", "pollingInterval", "maxScanInterval",
		"maxPollingInterval", "startFrom"},
	"servicebus": {"prefetchCount", "transportType", "webProxy", "autoCompleteMessages", "maxAutoLockRenewalDuration",
		"maxConcurrentCalls", "maxConcurrentSessions", "maxConcurrentCallsPerSession", "maxMessageBatchSize",
		"minMessageBatchSize", "maxBatchWaitTime", "sessionIdleTimeout", "enableCrossEntityTransactions",
		"clientRetryOptions.mode", "clientRetryOptions.tryTimeout", "clientRetryOptions.delay",
		"clientRetryOptions.maxDelay", "clientRetryOptions.maxRetries"},
	"eventhubs": {"maxEventBatchSize", "minEventBatchSize", "maxWaitTime", "batchCheckpointFrequency", "prefetchCount",
		"transportType", "webProxy", "customEndpointAddress", "targetUnprocessedEventThreshold",
		"partitionOwnershipExpirationInterval", "loadBalancingUpdateInterval", "loadBalancingStrategy",
		"initialOffsetOptions.type", "initialOffsetOptions.enqueuedTimeUtc",
		"clientRetryOptions.mode", "clientRetryOptions.tryTimeout", "clientRetryOptions.delay",
		"clientRetryOptions.maximumDelay", "clientRetryOptions.maximumRetries"},
	"cosmosdb":  {"connectionMode", "userAgentSuffix"},
	"eventgrid": {},
	"tables":    {},
}

// oldHostKeys are host.json keys of older extension versions (Functions v2/v3), by section, with
// the key that replaced them.
var oldHostKeys = map[string]map[string]string{
	"eventhubs": {
		"maxbatchsize":                        "maxEventBatchSize",
		"eventprocessoroptions":               "maxEventBatchSize and prefetchCount (top level)",
		"eventprocessoroptions.maxbatchsize":  "maxEventBatchSize",
		"eventprocessoroptions.prefetchcount": "prefetchCount",
		"initialoffsetoptions.enqueuedtime":   "initialOffsetOptions.enqueuedTimeUtc",
	},
	"servicebus": {
		"messagehandleroptions":                       "maxConcurrentCalls, autoCompleteMessages and maxAutoLockRenewalDuration (top level)",
		"messagehandleroptions.maxconcurrentcalls":    "maxConcurrentCalls",
		"messagehandleroptions.autocomplete":          "autoCompleteMessages",
		"messagehandleroptions.maxautorenewduration":  "maxAutoLockRenewalDuration",
		"sessionhandleroptions":                       "maxConcurrentSessions, autoCompleteMessages and sessionIdleTimeout (top level)",
		"sessionhandleroptions.maxconcurrentsessions": "maxConcurrentSessions",
		"sessionhandleroptions.autocomplete":          "autoCompleteMessages",
		"sessionhandleroptions.messagewaittimeout":    "sessionIdleTimeout",
		"batchoptions":                 "maxMessageBatchSize (top level)",
		"batchoptions.maxmessagecount": "maxMessageBatchSize",
	},
	"cosmosdb": {"leaseoptions": "the trigger's leaseContainerPrefix (function.json)"},
}

// checkSectionKeys warns about the keys of host.json extensions.<name> that its extension does
// not read, one line each, with "did you mean".
func checkSectionKeys(ps *problems, field, name string, sec map[string]any) {
	var keys []string
	if ext, ok := driver.LookupExtension(name); ok && ext.ConfigKeys != nil {
		keys = ext.ConfigKeys
	} else if k, ok := documentedHostKeys[strings.ToLower(name)]; ok {
		keys = k
	} else {
		return // a section of an extension azbind does not know: nothing to compare with
	}
	known := map[string][]string{} // lower-case parent path ("" top) -> child names as spelled
	for _, k := range keys {
		parts := strings.Split(k, ".")
		for i := range parts {
			parent := strings.ToLower(strings.Join(parts[:i], "."))
			if !containsFoldStr(known[parent], parts[i]) {
				known[parent] = append(known[parent], parts[i])
			}
		}
	}
	old := oldHostKeys[strings.ToLower(name)]
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for _, k := range sortedKeys(m) {
			path := strings.ToLower(strings.TrimPrefix(prefix+"."+k, "."))
			f := field + "." + strings.TrimPrefix(prefix+"."+k, ".")
			if containsFoldStr(known[strings.ToLower(prefix)], k) {
				// An object whose children are listed is checked too; one listed without
				// children accepts any key.
				if sub, ok := m[k].(map[string]any); ok && len(known[path]) > 0 {
					walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
				}
				continue
			}
			if nk, ok := old[path]; ok {
				ps.warn(f, "is a Functions v3 (older extension) key that the current extension ignores", "use "+nk)
				continue
			}
			siblings := known[strings.ToLower(prefix)]
			problem, fix := "unknown key is ignored", "remove it or check its spelling"
			switch near := closestKey(k, siblings); {
			case near != "":
				problem += " (did you mean " + near + "?)"
			case len(siblings) > 0:
				fix += " (known: " + strings.Join(siblings, ", ") + ")"
			default:
				fix = "remove it: this section has no settings"
			}
			ps.warn(f, problem, fix)
		}
	}
	walk("", sec)
}

func containsFoldStr(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// closestKey returns the candidate a few edits away from k (case-insensitive), if any.
func closestKey(k string, cands []string) string {
	lk := strings.ToLower(k)
	best, bestD := "", 1<<30
	for _, c := range cands {
		d := suggest.Distance(lk, strings.ToLower(c))
		if d > 0 && d < bestD && d*3 <= len(lk) {
			best, bestD = c, d
		}
	}
	return best
}

// minBundleVersion is the oldest Microsoft.Azure.Functions.ExtensionBundle the Functions v4 host
// loads ("Referenced bundle … does not meet the required minimum version of 2.6.1",
// https://aka.ms/func-min-bundle-versions).
var minBundleVersion = [3]int{2, 6, 1}

var bundleRange = regexp.MustCompile(`^\s*([\[(])\s*([^,]*?)\s*,\s*([^,]*?)\s*([\])])\s*$`)

// checkExtensionBundle warns about an extensionBundle.version range whose every version is older
// than what the v4 host requires. azbind itself does not use bundles (connectors are linked into
// the program), but the same app folder would not start on Functions v4.
func checkExtensionBundle(ps *problems, field string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	raw, key, ok := getFold(m, "version")
	s, isStr := raw.(string)
	if !ok || !isStr {
		return
	}
	mg := bundleRange.FindStringSubmatch(s)
	if mg == nil {
		return // a bare version "x.y.z" means x.y.z or later
	}
	upper, closed := mg[3], mg[4] == "]"
	if upper == "" {
		return // no upper bound
	}
	ver, ok := parseBundleVersion(upper)
	if !ok {
		return
	}
	c := compareVersion(ver, minBundleVersion)
	if c > 0 || c == 0 && closed {
		return
	}
	ps.warn(field+"."+key, fmt.Sprintf("the range %q admits only bundles older than %d.%d.%d, which the Functions v4 host refuses (\"does not meet the required minimum version of %d.%d.%d\"); azbind ignores extension bundles",
		s, minBundleVersion[0], minBundleVersion[1], minBundleVersion[2], minBundleVersion[0], minBundleVersion[1], minBundleVersion[2]),
		`use "[4.*, 5.0.0)" so that the app also runs on Functions v4`)
}

func parseBundleVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return v, false
	}
	for i := 0; i < len(parts) && i < 3; i++ {
		if parts[i] == "*" {
			v[i] = 1 << 20 // any minor/patch: treat as the highest
			for j := i + 1; j < 3; j++ {
				v[j] = 1 << 20
			}
			return v, true
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func compareVersion(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
