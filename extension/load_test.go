package extension

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"

	"github.com/azbind/azbind/connection"
)

// Test-only binding types; real connectors never use these names.
func init() {
	trig := func(context.Context, *driver.BindContext) (driver.Trigger, error) { return nil, nil }
	in := func(context.Context, *driver.BindContext) (driver.Input, error) { return nil, nil }
	out := func(context.Context, *driver.BindContext) (driver.Output, error) { return nil, nil }
	driver.Register(driver.Extension{Name: "azbindloadtest", Bindings: []driver.BindingType{
		{Type: "loadTestTrigger", Service: connection.Queue, NewTrigger: trig},
		{Type: "loadTestIn", NewInput: in},
		{Type: "loadTestOut", NewOutput: out},
		{Type: "loadTestInOut", NewInput: in, NewOutput: out},
		{Type: "loadTestOnlyTrig", NewTrigger: trig}, // trigger factory but no Trigger suffix
	}})
}

func testSettings(m map[string]string) *connection.Settings {
	return connection.NewSettings(connection.FromMap("test", m))
}

// wantProblems asserts that every want substring occurs in some problem and that the number of
// error-level problems is as expected (-1: any).
func wantProblems(t *testing.T, got []Problem, nerr int, want ...string) {
	t.Helper()
	var all []string
	errs := 0
	for _, p := range got {
		all = append(all, p.String())
		if !p.Warning {
			errs++
		}
	}
	joined := strings.Join(all, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("no problem contains %q; got:\n%s", w, joined)
		}
	}
	if nerr >= 0 && errs != nerr {
		t.Errorf("got %d errors, want %d:\n%s", errs, nerr, joined)
	}
}

const goodFunction = `{
  "bindings": [
    {"type": "loadTestTrigger", "name": "msg", "queueName": "%Q%", "connection": "Conn"},
    {"type": "loadTestIn", "direction": "IN", "name": "doc", "path": "c/{id}-{{x}}", "dataType": "binary"},
    {"type": "loadTestOut", "direction": "out", "name": "$return", "cardinality": "many", "count": 3, "nested": {"a": [1, "b"]}}
  ],
  "disabled": false,
  "scriptFile": "handler",
  "retry": {"strategy": "exponentialBackoff", "maxRetryCount": -1, "minimumInterval": "00:00:02", "maximumInterval": "00:15:00"}
}`

func TestParseFunctionJSONGood(t *testing.T) {
	f, ps := ParseFunctionJSON("Orders", "Orders/function.json", []byte(goodFunction))
	wantProblems(t, ps, 0)
	if f.Name != "Orders" || f.Where != "Orders/function.json" || len(f.Bindings) != 3 || f.Disabled {
		t.Fatalf("spec = %+v", f)
	}
	tr := f.Bindings[0]
	if tr.Direction != DirIn || tr.Where != "Orders/function.json: bindings[0]" || tr.Connection() != "Conn" {
		t.Errorf("trigger = %+v (direction defaults to in for triggers)", tr)
	}
	if b := f.Bindings[1]; b.Direction != DirIn || b.DataType != "binary" || b.Properties["path"] != "c/{id}-{{x}}" {
		t.Errorf("input = %+v", b)
	}
	o := f.Bindings[2]
	if !o.Many() || o.Properties["count"] != 3.0 || o.Name != "$return" {
		t.Errorf("output = %+v (numbers are float64)", o)
	}
	if _, ok := o.Properties["type"]; ok {
		t.Error("common keys must not be in Properties")
	}
	want := RetryPolicy{Strategy: ExponentialBackoff, MaxRetryCount: -1, MinimumInterval: 2 * time.Second, MaximumInterval: 15 * time.Minute}
	if f.Retry == nil || *f.Retry != want {
		t.Errorf("retry = %+v", f.Retry)
	}
	wantProblems(t, CheckFunction(f, testSettings(map[string]string{"Q": "orders"})), 0)
}

func TestParseFunctionJSONProblems(t *testing.T) { // C14, C16, C57
	tests := []struct {
		name, json string
		want       []string
	}{
		{"syntax", `{"bindings": [}`, []string{"F/function.json: not valid JSON: invalid character '}' looking for beginning of value at byte 15 (line 1, column 15)"}},
		{"syntax line", "{\n  \"bindings\": [\n    {\"type\": 1,,}\n]}", []string{"(line 3, column 16)"}},
		{"truncated", `{"bindings": [`, []string{"unexpected end of file at byte 14 (line 1, column 15)"}},
		{"after a BOM and a comment", "\uFEFF// c\n{\"bindings\": [}", []string{"(line 2, column 15)"}},
		{"empty", ``, []string{"the file is empty"}},
		{"trailing", `{} {}`, []string{"unexpected data after the top-level value"}},
		{"array", `[]`, []string{"must be a JSON object, got an array"}},
		{"no bindings", `{}`, []string{"F/function.json: bindings: is required"}},
		{"bindings object", `{"bindings": {}}`, []string{"bindings: must be an array of binding objects, got an object"}},
		{"binding not object", `{"bindings": [3]}`, []string{"bindings[0]: must be a binding object, got a number"}},
		{"type number", `{"bindings": [{"type": 3, "name": "x"}]}`, []string{"bindings[0].type: must be a string, got a number"}},
		{"disabled", `{"bindings": [], "disabled": 1}`, []string{"disabled: must be true or false, got a number"}},
		{"disabled str", `{"bindings": [], "disabled": "maybe"}`, []string{`disabled: must be true or false, got "maybe"`}},
		{"retry no count", `{"bindings": [], "retry": {"strategy": "fixedDelay", "delayInterval": "00:00:05"}}`, []string{"retry.maxRetryCount: is required"}},
		{"retry no strategy", `{"bindings": [], "retry": {"maxRetryCount": 1}}`, []string{"retry.strategy: is required"}},
		{"retry bad strategy", `{"bindings": [], "retry": {"strategy": "linear", "maxRetryCount": 1}}`, []string{`unknown retry strategy "linear"`}},
		{"retry fixed no delay", `{"bindings": [], "retry": {"strategy": "fixedDelay", "maxRetryCount": 1}}`, []string{"retry.delayInterval: is required for the fixedDelay strategy"}},
		{"retry exp missing", `{"bindings": [], "retry": {"strategy": "exponentialBackoff", "maxRetryCount": 1, "minimumInterval": "00:00:01"}}`, []string{"retry.maximumInterval: is required"}},
		{"retry exp min>max", `{"bindings": [], "retry": {"strategy": "exponentialBackoff", "maxRetryCount": 1, "minimumInterval": "00:01:00", "maximumInterval": "00:00:01"}}`, []string{"'minimumInterval' must not be greater than 'maximumInterval'"}},
		{"retry count < -1", `{"bindings": [], "retry": {"strategy": "fixedDelay", "maxRetryCount": -2, "delayInterval": "00:00:01"}}`, []string{"'maxRetryCount' must be greater than or equal to -1"}},
		{"retry count frac", `{"bindings": [], "retry": {"strategy": "fixedDelay", "maxRetryCount": 1.5, "delayInterval": "00:00:01"}}`, []string{"must be a whole number, got 1.5"}},
		{"retry interval number", `{"bindings": [], "retry": {"strategy": "fixedDelay", "maxRetryCount": 1, "delayInterval": 5}}`, []string{`retry.delayInterval: must be a TimeSpan string such as "00:00:10", got a number`}},
		{"retry interval bad", `{"bindings": [], "retry": {"strategy": "fixedDelay", "maxRetryCount": 1, "delayInterval": "5 minutes"}}`, []string{`'5 minutes' is neither a TimeSpan`}},
		{"retry not object", `{"bindings": [], "retry": true}`, []string{"retry: must be an object, got a boolean"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := ParseFunctionJSON("F", "F/function.json", []byte(tc.json))
			wantProblems(t, ps, -1, tc.want...)
			if len(ps) == 0 {
				t.Error("no problems")
			}
		})
	}
	// Unknown keys are warnings only.
	_, ps := ParseFunctionJSON("F", "F/function.json", []byte(`{"bindings": [], "bindngs": []}`))
	if len(ps) != 1 || !ps[0].Warning || !strings.Contains(ps[0].String(), "bindngs: unknown key is ignored") {
		t.Errorf("unknown key: %v", ps)
	}
}

func TestCheckFunction(t *testing.T) { // C14, C16, C17
	settings := testSettings(map[string]string{"Q": "orders", "Conn": "UseDevelopmentStorage=true"})
	trig := `{"type": "loadTestTrigger", "name": "msg"}`
	tests := []struct {
		name, fn, bindings string
		want               []string
	}{
		{"ok", "F", trig, nil},
		{"bad name", "9lives", trig, []string{`'9lives' is not a valid function name: use a name`}},
		{"bad name chars", "a.b", trig, []string{"is not a valid function name"}},
		{"long name", "a" + strings.Repeat("b", 127), trig, []string{"is not a valid function name"}},
		{"longest name", "a" + strings.Repeat("b", 126), trig, nil},
		{"empty", "F", ``, []string{"bindings: has no bindings"}},
		{"no trigger", "F", `{"type": "loadTestIn", "direction": "in", "name": "x"}`, []string{"bindings: has no trigger binding", "loadTestTrigger"}},
		{"two triggers", "F", trig + `, {"type": "loadTestTrigger", "name": "m2"}`, []string{"has 2 trigger bindings: bindings[0] (loadTestTrigger), bindings[1] (loadTestTrigger)"}},
		{"unknown type", "F", trig + `, {"type": "nosuch", "direction": "in", "name": "x"}`, []string{`bindings[1].type: "nosuch" is not a known binding type: use a supported type (`, "loadTestIn, loadTestInOut"}},
		{"functions type", "F", trig + `, {"type": "sendGrid", "direction": "out", "name": "x"}`, []string{`bindings[1].type: "sendGrid" is an Azure Functions binding type that is not supported by azbind: azbind supports `}},
		{"functions trigger", "F", `{"type": "warmupTrigger", "name": "req"}`, []string{`bindings[0].type: "warmupTrigger" is an Azure Functions trigger type that is not supported by azbind: azbind supports `}},
		{"module trigger not linked", "F", `{"type": "serviceBusTrigger", "name": "m"}`, []string{`"serviceBusTrigger" is a trigger type of the azbind connector github.com/azbind/azbind/servicebus, which this program does not link: add ` + "`import _ \"github.com/azbind/azbind/servicebus\"`"}},
		{"module connector not linked", "F", `{"type": "blobTrigger", "name": "b", "path": "c/{n}"}`, []string{`"blobTrigger" is a trigger type of the azbind connector github.com/azbind/azbind/blob, which this program does not link: add ` + "`import _ \"github.com/azbind/azbind/blob\"`"}},
		{"typo", "F", `{"type": "loadTestTriger", "name": "m"}`, []string{`"loadTestTriger" is not a known binding type (did you mean loadTestTrigger?)`}},
		{"unknown trigger type", "F", `{"type": "nosuchTrigger", "name": "x"}`, []string{`bindings[0].type: "nosuchTrigger" is not a known trigger type: use a supported type (`}},
		{"missing type", "F", trig + `, {"direction": "in", "name": "x"}`, []string{"bindings[1].type: is required"}},
		{"missing name", "F", `{"type": "loadTestTrigger"}`, []string{"bindings[0].name: is required"}},
		{"bad binding name", "F", `{"type": "loadTestTrigger", "name": "my-msg"}`, []string{`bindings[0].name: The binding name my-msg is invalid: use 1–128 ASCII letters`}},
		{"duplicate", "F", trig + `, {"type": "loadTestIn", "direction": "in", "name": "MSG"}`, []string{`bindings[1].name: binding name "MSG" is already used by bindings[0]`}},
		{"missing direction", "F", trig + `, {"type": "loadTestIn", "name": "x"}`, []string{"bindings[1].direction: is required"}},
		{"bad direction", "F", trig + `, {"type": "loadTestIn", "direction": "sideways", "name": "x"}`, []string{`bindings[1].direction: invalid direction "sideways"`}},
		{"trigger out", "F", `{"type": "loadTestTrigger", "direction": "out", "name": "x"}`, []string{`a trigger binding must have direction "in", got "out"`}},
		{"in not supported", "F", trig + `, {"type": "loadTestOut", "direction": "in", "name": "x"}`, []string{`binding type "loadTestOut" (extension azbindloadtest) does not support direction "in" (no input binding): use direction "out"`}},
		{"inout half", "F", trig + `, {"type": "loadTestIn", "direction": "inout", "name": "x"}`, []string{`does not support direction "inout" (no output binding)`}},
		{"inout ok", "F", trig + `, {"type": "loadTestInOut", "direction": "inout", "name": "x"}`, nil},
		{"trigger-only type", "F", trig + `, {"type": "loadTestOnlyTrig", "direction": "in", "name": "x"}`, []string{"is trigger-only"}},
		{"return on in", "F", trig + `, {"type": "loadTestIn", "direction": "in", "name": "$return"}`, []string{`"$return" is only allowed on an "out" binding, not "in"`}},
		{"return on out", "F", trig + `, {"type": "loadTestOut", "direction": "out", "name": "$return"}`, nil},
		{"dataType", "F", `{"type": "loadTestTrigger", "name": "m", "dataType": "json"}`, []string{`bindings[0].dataType: invalid dataType "json"`}},
		{"cardinality", "F", `{"type": "loadTestTrigger", "name": "m", "cardinality": "all"}`, []string{`bindings[0].cardinality: invalid cardinality "all"`}},
		{"setting ok", "F", `{"type": "loadTestTrigger", "name": "m", "queueName": "%Q%-x", "connection": "%Conn%"}`, nil},
		{"setting missing", "F", `{"type": "loadTestTrigger", "name": "m", "queueName": "%Nope%"}`, []string{`bindings[0].queueName: '%Nope%' does not resolve to a value: define the app setting "Nope"`}},
		{"setting nested", "F", trig + `, {"type": "loadTestOut", "direction": "out", "name": "o", "opts": {"list": ["%Nope2%"]}}`, []string{`bindings[1].opts.list[0]: '%Nope2%' does not resolve`}},
		{"setting unclosed", "F", `{"type": "loadTestTrigger", "name": "m", "queueName": "a%b"}`, []string{"The '%' at position 1 does not have a closing '%'"}},
		{"template unbalanced", "F", trig + `, {"type": "loadTestIn", "direction": "in", "name": "d", "path": "c/{id"}`, []string{`bindings[1].path: Invalid template 'c/{id'. Missing closing bracket at position 3`}},
		{"template empty", "F", trig + `, {"type": "loadTestIn", "direction": "in", "name": "d", "path": "c/{}"}`, []string{"The parameter name at position 3 is empty"}},
		{"template after setting", "F", trig + `, {"type": "loadTestIn", "direction": "in", "name": "d", "path": "%Q%/{id}"}`, nil},
		{"trigger braces not templates", "F", `{"type": "loadTestTrigger", "name": "m", "path": "c/{name"}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ps := ParseFunctionJSON(tc.fn, tc.fn+"/function.json", []byte(`{"bindings": [`+tc.bindings+`]}`))
			wantProblems(t, ps, 0)
			got := CheckFunction(f, settings)
			n := 1
			if tc.want == nil {
				n = 0
			}
			if len(tc.want) > 0 && (strings.Contains(tc.want[0], "is not a known") || strings.Contains(tc.want[0], "not supported") || strings.Contains(tc.want[0], "does not link")) {
				n = -1
			}
			wantProblems(t, got, n, tc.want...)
			for _, p := range got {
				if p.File != tc.fn+"/function.json" {
					t.Errorf("problem file = %q", p.File)
				}
			}
		})
	}
}

func TestCheckFunctionGoAPI(t *testing.T) {
	f := &FunctionSpec{Name: "Go1", Bindings: []*BindingSpec{
		Binding("loadTestTrigger", "m", DirIn, Props{"queueName": "%missing%"}),
		Binding("loadTestOut", "out", DirOut, Props{"dataType": "weird"}),
	}, Retry: &RetryPolicy{Strategy: ExponentialBackoff, MaxRetryCount: 2, MinimumInterval: time.Minute, MaximumInterval: time.Second}}
	got := CheckFunction(f, nil)
	wantProblems(t, got, 3, "Go API: Go1: bindings[0].queueName: '%missing%' does not resolve to a value",
		`Go API: Go1: bindings[1].dataType: invalid dataType "weird"`,
		"Go API: Go1: retry.minimumInterval: 'minimumInterval' must not be greater than 'maximumInterval'")
	f.Where = "Go API"
	if got := CheckFunction(f, nil); got[0].File != "Go API: Go1" {
		t.Errorf("file = %q", got[0].File)
	}
	for _, r := range []*RetryPolicy{{Strategy: "x"}, {Strategy: FixedDelay, MaxRetryCount: -5}, {Strategy: FixedDelay, DelayInterval: -1}, {Strategy: ExponentialBackoff, MinimumInterval: time.Second}} {
		f := &FunctionSpec{Name: "G", Bindings: []*BindingSpec{Binding("loadTestTrigger", "m", DirIn, nil)}, Retry: r}
		if len(CheckFunction(f, nil)) != 1 {
			t.Errorf("retry %+v: %v", r, CheckFunction(f, nil))
		}
	}
	if ps := CheckFunction(nil, nil); len(ps) != 1 {
		t.Error("nil function")
	}
}

func TestParseHostJSON(t *testing.T) { // C60
	h, ps := ParseHostJSON("host.json", []byte(`{
	  "version": "2.0",
	  "functionTimeout": "00:10:00",
	  "retry": {"strategy": "fixedDelay", "maxRetryCount": 3, "delayInterval": "00:00:05"},
	  "extensions": {"queues": {"batchSize": 16, "visibilityTimeout": "00:00:30"}, "blobs": {}},
	  "logging": {"logLevel": {"default": "information", "Function.F1": "Warning"}, "fileLoggingMode": "always"},
	  "singleton": {}, "aggregator": {}, "extensionBundle": {"id": "x"},
	  "unknownThing": 1
	}`), nil)
	wantProblems(t, ps, 0, "host.json: unknownThing: unknown key is ignored")
	if h.Version != "2.0" || h.FunctionTimeout != 10*time.Minute || h.Retry == nil || h.Retry.MaxRetryCount != 3 || h.Retry.DelayInterval != 5*time.Second {
		t.Errorf("host = %+v", h)
	}
	if h.Extension("QUEUES")["batchSize"] != 16.0 || h.Extension("blobs") == nil || h.Extension("nope") != nil {
		t.Errorf("extensions = %v", h.Extensions)
	}
	if h.LogLevels["default"] != "Information" || h.LogLevels["Function.F1"] != "Warning" {
		t.Errorf("log levels = %v", h.LogLevels)
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "unknownThing") {
		t.Errorf("warnings = %v", h.Warnings)
	}

	h, ps = ParseHostJSON("host.json", []byte(`{"version": "2.0", "functionTimeout": "-1"}`), nil)
	wantProblems(t, ps, 0)
	if h.FunctionTimeout >= 0 {
		t.Errorf("-1 timeout = %v", h.FunctionTimeout)
	}

	tests := []struct{ json, want string }{
		{`{"version": "1.0"}`, `host.json: version: "1.0" is an invalid value for host.json 'version' property`},
		{`{"version": 2}`, `version: a number is an invalid value`},
		{`{"functions": ["A"]}`, `host.json: version: The host.json file is missing the required 'version' property`}, // HostJsonFileConfigurationSourceTests.InvalidVersionThrowsException
		{`{"version": "2.0", "functionTimeout": 300}`, `host.json: functionTimeout: must be a TimeSpan string such as "00:05:00", got a number: fix the value`},
		{`{"version": "2.0", "functionTimeout": "00:00:00.5"}`, `functionTimeout: FunctionTimeout must be greater than 00:00:01`},
		{`{"version": "2.0", "functionTimeout": "-00:00:05"}`, `functionTimeout: negative timeout`},
		{`{"version": "2.0", "functionTimeout": "forever"}`, `functionTimeout: 'forever' is neither a TimeSpan`},
		{`{"version": "2.0", "extensions": []}`, `extensions: must be an object of extension sections, got an array`},
		{`{"version": "2.0", "extensions": {"queues": 5}}`, `extensions.queues: must be an object, got a number`},
		{`{"version": "2.0", "logging": {"logLevel": {"default": "Verbose"}}}`, `logging.logLevel.default: invalid log level "Verbose": use one of Trace, Debug, Information, Warning, Error, Critical, None`},
		{`{"version": "2.0", "logging": {"logLevel": {"default": 3}}}`, `invalid log level a number`},
		{`{"version": "2.0", "logging": {"logLevel": []}}`, `logging.logLevel: must be an object`},
		{`{"version": "2.0", "logging": 1}`, `logging: must be an object`},
		{`{"version": "2.0", "retry": {"strategy": "fixedDelay", "delayInterval": "00:00:01"}}`, `host.json: retry.maxRetryCount: is required`},
		{`{"version": "2.0",,}`, `host.json: not valid JSON: invalid character ',' looking for beginning of object key string at byte 19 (line 1, column 19)`},
		{"{'version': '4.0','functions': [ 'FunctionA', 'FunctionB' ]}", `host.json: version: "4.0" is an invalid value for host.json 'version' property`}, // HostJsonFileConfigurationSourceTests.InvalidVersionThrowsException
		{`"2.0"`, `host.json: must be a JSON object, got a string`},
	}
	for _, tc := range tests {
		_, ps := ParseHostJSON("host.json", []byte(tc.json), nil)
		wantProblems(t, ps, 1, tc.want)
	}
}

func TestHostJSONOverrides(t *testing.T) {
	settings := connection.NewSettings(
		connection.FromMap("env", map[string]string{
			"AzureFunctionsJobHost__extensions__queues__batchSize":          "8",
			"AZUREFUNCTIONSJOBHOST__Extensions__Queues__newFlag":            "true",
			"AzureFunctionsJobHost:extensions:blobs:maxDegreeOfParallelism": "4",
			"AzureFunctionsJobHost__extensions__serviceBus__prefetch":       "abc",
			"AzureFunctionsJobHost__functionTimeout":                        "00:02:00",
			"AzureFunctionsJobHost__logging__logLevel__Function.MyFunc":     "Debug",
			"AzureFunctionsJobHost__retry__maxRetryCount":                   "7",
			"AzureFunctionsJobHost__extensions__queues__messageEncoding":    "none",
			"AzureFunctionsJobHost__extensions__queues__flag":               "false",
			"AzureFunctionsJobHost__watchDirectories__1":                    "b",
			"Unrelated": "x",
		}))
	h, ps := ParseHostJSON("host.json", []byte(`{"version": "2.0", "functionTimeout": "00:10:00",
		"retry": {"strategy": "fixedDelay", "maxRetryCount": 1, "delayInterval": "00:00:01"},
		"watchDirectories": ["a", "x"],
		"extensions": {"queues": {"batchSize": 16, "flag": true, "messageEncoding": "base64"}}}`), settings)
	wantProblems(t, ps, 0)
	q := h.Extension("queues")
	if q["batchSize"] != 8.0 || q["newFlag"] != true || q["flag"] != false || q["messageEncoding"] != "none" {
		t.Errorf("queues = %v", q)
	}
	if h.Extension("blobs")["maxDegreeOfParallelism"] != 4.0 || h.Extension("serviceBus")["prefetch"] != "abc" {
		t.Errorf("extensions = %v", h.Extensions)
	}
	if h.FunctionTimeout != 2*time.Minute || h.Retry.MaxRetryCount != 7 || h.LogLevels["Function.MyFunc"] != "Debug" {
		t.Errorf("host = %+v retry %+v", h, h.Retry)
	}
	// A bad override names the setting.
	bad := testSettings(map[string]string{"AzureFunctionsJobHost__functionTimeout": "soon"})
	_, ps = ParseHostJSON("host.json", []byte(`{"version": "2.0"}`), bad)
	wantProblems(t, ps, 1, `functionTimeout (from setting AzureFunctionsJobHost__functionTimeout in test): 'soon' is neither a TimeSpan`)
	// A version given only by a setting is accepted.
	_, ps = ParseHostJSON("host.json", []byte(`{}`), testSettings(map[string]string{"AzureFunctionsJobHost__version": "2.0"}))
	wantProblems(t, ps, 0)
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadAppDir(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"host.json":            `{"version": "2.0", "extensions": {"queues": {"batchSize": 4}}, "mystery": true}`,
		"local.settings.json":  `{"IsEncrypted": false, "Values": {"Q": "orders", "AzureFunctionsJobHost__extensions__queues__batchSize": "2"}}`,
		"Orders/function.json": goodFunction,
		"Second/function.json": `{"bindings": [{"type": "loadTestTrigger", "name": "m", "queueName": "%Q%"}]}`,
		"bin/readme.txt":       "not a function",
		"notes.txt":            "x",
	})
	app, err := LoadAppDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Functions) != 2 || app.Functions[0].Name != "Orders" || app.Functions[1].Name != "Second" {
		t.Fatalf("functions = %v", app.Functions)
	}
	if v, _ := app.Settings.Get("Q"); v != "orders" {
		t.Error("local.settings.json not loaded")
	}
	if app.Host.Extension("queues")["batchSize"] != 2.0 {
		t.Errorf("override from local.settings.json not applied: %v", app.Host.Extensions)
	}
	wantProblems(t, app.Warnings, 0, "host.json: mystery: unknown key is ignored")

	// The environment wins over local.settings.json (C68).
	t.Setenv("Q", "from-env")
	app, err = LoadAppDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := app.Settings.Get("Q"); v != "from-env" {
		t.Errorf("Q = %q; environment must win", v)
	}

	// Explicit settings replace the defaults: %Q% no longer resolves, in both functions.
	app, err = LoadAppDir(dir, testSettings(nil))
	var pe *ProblemsError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidConfig) || app == nil {
		t.Fatalf("err = %v", err)
	}
	wantProblems(t, pe.Problems, 2, "Orders/function.json: bindings[0].queueName: '%Q%' does not resolve", "Second/function.json: bindings[0].queueName")
}

func TestLoadAppDirProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"encrypted", map[string]string{"host.json": `{"version": "2.0"}`, "local.settings.json": `{"IsEncrypted": true, "Values": {}}`},
			[]string{"local.settings.json: IsEncrypted: the file is encrypted", "func settings decrypt"}},
		{"bad local settings", map[string]string{"host.json": `{"version": "2.0"}`, "local.settings.json": `{"Values": {"A": {"n": 1}}}`},
			[]string{"local.settings.json: Values.A: holds an object, but settings are text: write the value as a string"}},
		{"all problems at once", map[string]string{
			"host.json":         `{"version": "1.0"}`,
			"A/function.json":   `{"bindings": [`,
			"B/function.json":   `{"bindings": []}`,
			"C_d/function.json": `{"bindings": [{"type": "loadTestTrigger", "name": "m"}, {"type": "loadTestTrigger", "name": "n"}]}`,
		}, []string{"host.json: version", "A/function.json: not valid JSON", "B/function.json: bindings: has no bindings", "C_d/function.json: bindings: has 2 trigger bindings"}},
		{"bad function name", map[string]string{"host.json": `{"version": "2.0"}`, "1st/function.json": `{"bindings": [{"type": "loadTestTrigger", "name": "m"}]}`},
			[]string{`1st/function.json: '1st' is not a valid function name: use a name`}},
		{"case duplicate", map[string]string{"host.json": `{"version": "2.0"}`, "Fn/function.json": `{"bindings": [{"type": "loadTestTrigger", "name": "m"}]}`, "fn/function.json": `{"bindings": [{"type": "loadTestTrigger", "name": "m"}]}`},
			[]string{`fn/function.json: function name "fn" is also used by Fn/function.json`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			app, err := LoadAppDir(dir, nil)
			var pe *ProblemsError
			if !errors.As(err, &pe) || app == nil {
				t.Fatalf("err = %v", err)
			}
			wantProblems(t, pe.Problems, -1, tc.want...)
			for _, p := range pe.Problems {
				if p.Warning {
					t.Errorf("warning in ProblemsError: %v", p)
				}
				if strings.Contains(p.String(), dir) && !strings.Contains(p.Problem, "file not found") {
					t.Errorf("absolute path leaked into %q", p)
				}
			}
		})
	}
	// An empty app is a warning, not an error.
	app, err := LoadAppDir(writeApp(t, map[string]string{"host.json": `{"version": "2.0"}`}), nil)
	if err != nil || len(app.Warnings) != 1 || !strings.Contains(app.Warnings[0].Problem, "No job functions found") {
		t.Errorf("empty app: %v %v", err, app.Warnings)
	}
	// Not a directory.
	if _, err := LoadAppDir(filepath.Join(t.TempDir(), "nope"), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("missing dir: %v", err)
	}
}

func FuzzParseFunctionJSON(f *testing.F) {
	f.Add([]byte(goodFunction))
	f.Add([]byte(`{"bindings": [{"type": "x", "direction": 1, "name": null, "retry": {}}], "retry": {"strategy": "exponentialBackoff", "maxRetryCount": 1e300}}`))
	f.Add([]byte(`{"bindings": [{"path": "{a{b}"}, [], null], "disabled": "true"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fn, ps := ParseFunctionJSON("F", "F/function.json", data)
		for _, p := range ps {
			if p.File != "F/function.json" || p.Problem == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
		if fn != nil {
			_ = CheckFunction(fn, testSettings(map[string]string{"A": "%B%"}))
		}
	})
}

func FuzzParseHostJSON(f *testing.F) {
	f.Add([]byte(`{"version": "2.0", "functionTimeout": "00:05:00", "extensions": {"queues": {"batchSize": 1}}, "logging": {"logLevel": {"default": "None"}}}`))
	f.Add([]byte(`{"version": "2.0", "retry": {"strategy": "fixedDelay", "maxRetryCount": -1, "delayInterval": "1.00:00:00"}}`))
	f.Add([]byte(`{"extensions": [1], "functionTimeout": "-1", "logging": null}`))
	settings := testSettings(map[string]string{
		"AzureFunctionsJobHost__extensions__queues__batchSize": "8",
		"AzureFunctionsJobHost__extensions__0":                 "x",
		"AzureFunctionsJobHost__logging__logLevel__default":    "Debug",
		"AzureFunctionsJobHost__retry":                         "oops",
		"AzureFunctionsJobHost__retry__maxRetryCount":          "2",
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, ps := ParseHostJSON("host.json", data, settings)
		for _, p := range ps {
			if p.File != "host.json" || p.Problem == "" {
				t.Fatalf("bad problem %+v", p)
			}
		}
		_ = h
		_, _ = ParseHostJSON("host.json", data, nil)
	})
}
