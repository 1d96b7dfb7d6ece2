package main

import (
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
		write := appWriter(t, dir)
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

// C5: the connection name's %setting% tokens are resolved once, as the Functions name resolver
// does: a setting that is empty does not resolve (it is not the default connection), and a
// resolved value containing '%' is used as it is (not expanded a second time).
func TestValidateConnectionPercentOnce(t *testing.T) {
	tests := []struct {
		conn     string
		wantCode int
		want     string
	}{
		{"%Empty%", 1, "'%Empty%' does not resolve to a value"},
		{"%Pct%", 0, "OK:"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		write := appWriter(t, dir)
		write("host.json", `{"version": "2.0"}`)
		write("local.settings.json", `{"Values": {"Empty": "", "Pct": "My%Conn", "My%Conn": "UseDevelopmentStorage=true", "AzureWebJobsStorage": "UseDevelopmentStorage=true"}}`)
		write("F/function.json", `{"bindings": [{"type": "testTrigger", "name": "m"}, {"type": "testIn", "direction": "in", "name": "d", "connection": "`+tt.conn+`"}]}`)
		code, out, _ := runCmd(t, "validate", dir)
		if code != tt.wantCode || !strings.Contains(out, tt.want) {
			t.Errorf("%s: exit %d (want %d), output lacks %q:\n%s", tt.conn, code, tt.wantCode, tt.want, out)
		}
	}
}
