package extension

import (
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension/driver"
)

// Real app folders load as the host loads them: Visual Studio's UTF-8 BOM, Json.NET's
// comments, trailing commas and single quotes in all three files, numbers and booleans in
// local.settings.json Values, and an empty host.json or none at all meaning the defaults
// (HostJsonFileConfigurationSourceTests.EmptyHostJson_CreatesDefaultFile,
// MissingHostJson_CreatesHostJson_withDefaultExtensionBundleId; UtilityTests
// .RemoveUTF8ByteOrderMark_RemovesBOM).
func TestLoadAppDirAsTheHostReadsIt(t *testing.T) {
	const bom = "\uFEFF"
	fn := bom + `{
  // written by Visual Studio
  "bindings": [
    {'type': 'loadTestTrigger', 'name': 'msg', 'queueName': '%Q%', "connection": "Conn",},
  ],
  /* disabled: false */
}`
	settings := bom + `{
  "IsEncrypted": false,
  "Values": {
    "Q": "work",
    "Conn": "UseDevelopmentStorage=true",
    "BatchSize": 8,
    "Flag": true, // Core Tools accepts these
  },
}`
	for name, host := range map[string]string{
		"bom and comments": bom + "{\n  // schema\n  'version': '2.0',\n  \"functionTimeout\": '00:05:00',\n}",
		"empty object":     "{}",
		"empty with CRLF":  "{\r\n}",
		"missing":          "",
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"Fn/function.json": fn, "local.settings.json": settings}
			if name != "missing" {
				files["host.json"] = host
			}
			app, err := LoadAppDir(writeApp(t, files), nil)
			if err != nil {
				t.Fatalf("LoadAppDir: %v", err)
			}
			if app.Host == nil || app.Host.Version != "2.0" {
				t.Fatalf("host = %+v; want version 2.0", app.Host)
			}
			if name == "bom and comments" && app.Host.FunctionTimeout != 5*time.Minute {
				t.Errorf("functionTimeout = %v", app.Host.FunctionTimeout)
			}
			if len(app.Functions) != 1 || app.Functions[0].Name != "Fn" {
				t.Fatalf("functions = %+v", app.Functions)
			}
			for k, want := range map[string]string{"BatchSize": "8", "Flag": "true", "Q": "work"} {
				if v, ok := app.Settings.Get(k); !ok || v != want {
					t.Errorf("setting %s = %q, %v; want %q", k, v, ok, want)
				}
			}
		})
	}
}

// Durations and numbers out of range are errors naming the field, never wrapped values: the
// probe's functionTimeout "213503.23:34:35" used to become a 1.29 s timeout, .NET's
// TimeSpan.MaxValue a negative one, and batchSize 1e20 a negative number.
func TestOutOfRangeValues(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"version": "2.0", "functionTimeout": "213503.23:34:35"}`, "host.json: functionTimeout: The TimeSpan '213503.23:34:35' is longer than azbind can represent"},
		{`{"version": "2.0", "functionTimeout": "10675199.02:48:05.4775807"}`, "host.json: functionTimeout: The TimeSpan '10675199.02:48:05.4775807' is longer than azbind can represent"},
		{`{"version": "2.0", "functionTimeout": "10675199.02:48:05.4775808"}`, "host.json: functionTimeout: The TimeSpan string '10675199.02:48:05.4775808' could not be parsed because at least one of the numeric components is out of range"},
		{`{"version": "2.0", "functionTimeout": "00:60:00"}`, "host.json: functionTimeout: The TimeSpan string '00:60:00' could not be parsed"},
		{`{"version": "2.0", "functionTimeout": "-00:00:05"}`, "negative timeout"},
	} {
		_, ps := ParseHostJSON("host.json", []byte(tc.json), nil)
		wantProblems(t, ps, 1, tc.want)
	}
	// Minus one day, however written, is the host's "no limit".
	for _, v := range []string{"-1", "-1.00:00:00", " -1 "} {
		h, ps := ParseHostJSON("host.json", []byte(`{"version": "2.0", "functionTimeout": "`+v+`"}`), nil)
		if len(ps) != 0 || h.FunctionTimeout != -1 {
			t.Errorf("functionTimeout %q = %v, %v; want unbounded", v, h.FunctionTimeout, ps)
		}
	}
	var cfg struct {
		BatchSize  int           `binding:"batchSize"`
		Visibility time.Duration `binding:"visibility"`
	}
	for _, tc := range []struct {
		m    map[string]any
		want string
	}{
		{map[string]any{"batchSize": 1e20}, "host.json: extensions.queues: batchSize: number 1e+20 is out of range"},
		{map[string]any{"batchSize": -1e20}, "batchSize: number -1e+20 is out of range"},
		{map[string]any{"visibility": 1e20}, "visibility: 1e+20 milliseconds is longer than azbind can represent"},
		{map[string]any{"visibility": "213503.23:34:35"}, "visibility: The TimeSpan '213503.23:34:35' is longer than azbind can represent"},
		{map[string]any{"visibility": "00:00:61"}, `visibility: The TimeSpan string '00:00:61' could not be parsed because at least one of the numeric components is out of range or contains too many digits (hours 0–23, minutes and seconds 0–59, at most 7 fraction digits, days up to 10675199): use a TimeSpan such as "00:01:30"`},
	} {
		err := driver.DecodeMap(tc.m, &cfg, "host.json: extensions.queues")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "-9223372036854775808") {
			t.Errorf("DecodeMap(%v) = %v; want %q", tc.m, err, tc.want)
		}
	}
}

// azure-functions-host UtilityTests: ValidateFunctionName_ThrowsOnInvalidName,
// ValidateFunctionName_DoesNotThrowOnValidName, IsValidFunctionNameTests,
// ValidateBinding_InvalidName_Throws, ValidateBinding_ValidName_DoesNotThrow.
func TestPortedNameRules(t *testing.T) {
	for _, n := range []string{"", "host", "Host", "-function", "_function", "function test", "function.test", "function0.1",
		"MáNUALtRIGGER", "hello!", "コード", "🙅"} {
		if ValidFunctionName(n) {
			t.Errorf("ValidFunctionName(%q) = true", n)
		}
	}
	for _, n := range []string{"testwithhost", "hosts", "myfunction", "myfunction-test", "myfunction_test",
		"createIsolationEnvironment", "HttpTrigger2", "HttptRIGGER", "Function-200", "MaNUALtRIGGER"} {
		if !ValidFunctionName(n) {
			t.Errorf("ValidFunctionName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "_binding", "binding-test", "binding name", "bïnding", strings.Repeat("a", 129)} {
		if validBindingName(n) {
			t.Errorf("validBindingName(%q) = true", n)
		}
	}
	for _, n := range []string{"bindingName", "binding1", strings.Repeat("a", 128)} {
		if !validBindingName(n) {
			t.Errorf("validBindingName(%q) = false", n)
		}
	}
	// The messages are the host's.
	f := &FunctionSpec{Name: "host", Where: "host/function.json", Bindings: []*BindingSpec{{Type: "loadTestTrigger", Name: "binding-test"}}}
	ps := CheckFunction(f, nil)
	wantProblems(t, ps, -1, "host/function.json: 'host' is not a valid function name: \"host\" is reserved",
		"host/function.json: bindings[0].name: The binding name binding-test is invalid: use 1–128 ASCII letters and digits")
}

// One problem is one line: parts left out when empty, no ".:" and no raw control characters.
func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "F/function.json", Field: "bindings[0]", Problem: "bad.", Fix: "fix it"}, "F/function.json: bindings[0]: bad: fix it"},
		{Problem{File: "host.json", Problem: "bad.", Fix: ""}, "host.json: bad."},
		{Problem{File: "host.json", Field: "ty\x00po", Problem: "unknown key is ignored", Fix: "remove it"}, `host.json: ty\x00po: unknown key is ignored: remove it`},
		{Problem{File: "F/function.json", Field: "a\nb", Problem: "x\xffy", Fix: " "}, `F/function.json: a\nb: x\xffy`},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q; want %q", got, tc.want)
		}
	}
}
