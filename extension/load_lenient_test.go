package extension

import (
	"testing"
	"time"
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
