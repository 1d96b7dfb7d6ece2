package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// C13: a binding whose connection property holds a connection string (directly or through
// %setting%) is reported without printing it: not in the problem and not in the fix.
func TestValidateConnectionStringAsNameNotPrinted(t *testing.T) {
	const key = "S2V5T25lU2VjcmV0VmFsdWVGb3JUZXN0cw=="
	cs := "DefaultEndpointsProtocol=https;AccountName=leakacct;AccountKey=" + key + ";EndpointSuffix=core.windows.net"
	for _, conn := range []string{cs, "%Indirect%"} {
		dir := t.TempDir()
		write := func(name, content string) {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("host.json", `{"version": "2.0"}`)
		write("local.settings.json", `{"Values": {"Indirect": "`+cs+`"}}`)
		write("F/function.json", `{"bindings": [{"type": "testTrigger", "name": "m"}, {"type": "testIn", "direction": "in", "name": "d", "connection": "`+conn+`"}]}`)
		code, out, errOut := runCmd(t, "validate", dir)
		if code != 1 {
			t.Errorf("%s: exit %d, want 1:\n%s", conn, code, out)
		}
		if strings.Contains(out+errOut, key) || strings.Contains(out+errOut, "leakacct") {
			t.Errorf("%s: the connection string is printed:\n%s%s", conn, out, errOut)
		}
	}
}
