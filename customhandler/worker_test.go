package customhandler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/customhandler"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/testlog"
)

var (
	buildOnce sync.Once
	echoBin   string
	buildErr  error
	qseq      atomic.Int64
)

// echoHandler builds testdata/echo once: the tests run it as a real child process.
func echoHandler(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "customhandler-echo-")
		if err != nil {
			buildErr = err
			return
		}
		echoBin = filepath.Join(dir, "echo")
		out, err := exec.Command("go", "build", "-o", echoBin, "./testdata/echo").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return echoBin
}

// app writes an app folder whose host.json names the echo handler with extra customHandler
// fields, and returns it.
func app(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	bin := echoHandler(t)
	if err := os.Link(bin, filepath.Join(dir, "handler")); err != nil {
		data, _ := os.ReadFile(bin)
		if err := os.WriteFile(filepath.Join(dir, "handler"), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hj := `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"handler"}` + extra + `}}`
	if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(hj), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type env struct {
	w    *customhandler.Worker
	host *extension.Host
	logs *testlog.Buffer
	q    func(string) *memconn.Queue
	pre  string
}

// start starts the worker for dir and a host whose functions (declared by declare) all go to it.
func start(t *testing.T, dir string, declare func(h *extension.Host, pre string)) *env {
	t.Helper()
	logs := &testlog.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	settings := connection.NewSettings(connection.FromMap("local.settings.json", map[string]string{"FromLocalSettings": "yes"}))
	cfg, err := customhandler.LoadConfig(dir, settings)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := customhandler.Start(ctx, customhandler.Options{AppDir: dir, Config: cfg, Settings: settings, Logger: logger, RestartBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("Start: %v\n%s", err, logs)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	host, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: logger, HostID: "customhandler-test",
		DefaultHandler: w.Handler(),
		HostConfig:     &extension.HostConfig{Extensions: map[string]map[string]any{"memory": {"maxDeliveries": 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	pre := fmt.Sprintf("ch%d-", qseq.Add(1))
	declare(host, pre)
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(rctx) }()
	t.Cleanup(func() {
		rcancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &env{w: w, host: host, logs: logs, pre: pre, q: func(n string) *memconn.Queue { return memconn.Default.Queue(pre + n) }}
}

func trig(q string) *extension.BindingSpec {
	return extension.Binding("memTrigger", "item", extension.DirIn, extension.Props{"queue": q})
}

func out(name, q string, props ...string) *extension.BindingSpec {
	p := extension.Props{"queue": q}
	b := extension.Binding("mem", name, extension.DirOut, p)
	if len(props) > 0 {
		b.DataType = props[0]
	}
	return b
}

func waitFor(t *testing.T, what string, cond func() bool, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a liveness bound for a loaded machine (a poll)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("timed out waiting for %s\n%s\n%s", what, logs, buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func echoFunction(h *extension.Host, pre string) {
	memconn.Default.Put(pre+"cfg", []byte("input value"))
	_ = h.Func("Echo", extension.Handler{}, trig(pre+"in"),
		extension.Binding("mem", "config", extension.DirIn, extension.Props{"key": pre + "cfg"}),
		&extension.BindingSpec{Type: "mem", Name: "bin", Direction: extension.DirIn, DataType: "binary", Properties: extension.Props{"key": pre + "cfg"}},
		out("req", pre+"req"), out("text", pre+"text"), out("list", pre+"list"), out("$return", pre+"ret"), out("absent", pre+"absent"))
}

type echoed struct {
	Body struct {
		Data     map[string]json.RawMessage
		Metadata map[string]json.RawMessage
	} `json:"body"`
	InvocationID string `json:"invocationId"`
	UserAgent    string `json:"userAgent"`
	WorkerID     string `json:"workerId"`
	AppRoot      string `json:"appRoot"`
	FromSettings string `json:"fromSettings"`
}

func one(t *testing.T, q *memconn.Queue) []byte {
	t.Helper()
	got := q.Drain()
	if len(got) != 1 {
		t.Fatalf("%s: %d items, want 1: %q", q.Name(), len(got), got)
	}
	return got[0]
}

// The invocation request and the answer's application, quirks included, as the Functions host
// does them (reference §1; ported from azure-functions-host's ValidateDefaultInvocationRequest
// and HttpScriptInvocationResultExtensions tests): strings JSON-encoded in Data and Metadata,
// numbers as JSON text in strings, bytes as base64, *Trigger keys not in Metadata, sys present;
// output strings that decode as base64 written as bytes; arrays one item each; unknown output
// names ignored; Logs at Information in the invocation's scope.
func TestInvocationProtocol(t *testing.T) {
	dir := app(t, "")
	e := start(t, dir, echoFunction)
	e.q("in").Send([]byte(`hello`))
	waitFor(t, "acked", func() bool { return len(e.q("in").Acked()) == 1 }, e.logs)

	var got echoed
	if err := json.Unmarshal(one(t, e.q("req")), &got); err != nil {
		t.Fatal(err)
	}
	data, md := got.Body.Data, got.Body.Metadata
	if s := string(data["item"]); s != `"\"hello\""` {
		t.Errorf(`Data.item = %s, want "\"hello\"" (a string JSON-encoded inside Data)`, s)
	}
	if s := string(data["config"]); s != `"\"input value\""` {
		t.Errorf("Data.config = %s, want the input's text JSON-encoded in a string", s)
	}
	if s := string(data["bin"]); s != `"`+base64.StdEncoding.EncodeToString([]byte("input value"))+`"` {
		t.Errorf("Data.bin = %s, want base64 of the dataType binary input's bytes", s)
	}
	if s := string(md["DeliveryCount"]); s != `"1"` {
		t.Errorf(`Metadata.DeliveryCount = %s, want "1"`, s)
	}
	if s := string(md["QueueName"]); s != `"\"`+e.pre+`in\""` {
		t.Errorf("Metadata.QueueName = %s", s)
	}
	if _, ok := md["memTrigger"]; ok {
		t.Error("Metadata carries the *Trigger key")
	}
	var sys struct{ MethodName, UtcNow, RandGuid string }
	if err := json.Unmarshal(md["sys"], &sys); err != nil || sys.MethodName != "Echo" || sys.RandGuid == "" || sys.UtcNow == "" {
		t.Errorf("Metadata.sys = %s (%v)", md["sys"], err)
	}
	if got.UserAgent != "Azure-Functions-Host/"+customhandler.HostVersion || got.InvocationID == "" || got.WorkerID == "" || got.FromSettings != "yes" {
		t.Errorf("headers/env: %+v", got)
	}
	if abs, _ := filepath.Abs(dir); got.AppRoot != abs {
		t.Errorf("FUNCTIONS_APP_ROOT_PATH = %q, want %q", got.AppRoot, abs)
	}
	garbage, _ := base64.StdEncoding.DecodeString("output1Value")
	if b := one(t, e.q("text")); string(b) != string(garbage) {
		t.Errorf(`"output1Value" written as %q, want the 9 bytes it decodes to (Functions' quirk)`, b)
	}
	if l := e.q("list").Drain(); fmt.Sprintf("%q", l) != `["plain!" "{\"n\":1}"]` {
		t.Errorf("array output = %q", l)
	}
	if b := one(t, e.q("ret")); string(b) != "not base64!" {
		t.Errorf("ReturnValue = %q", b)
	}
	if n := len(e.q("absent").Drain()); n != 0 {
		t.Errorf("an output the handler did not name got %d items", n)
	}
	logs := e.logs.String()
	for _, want := range []string{`"level":"INFO","msg":"log line one"`, `"invocation_id":"` + got.InvocationID + `"`, `"line":"handling Echo","function":"Echo"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s\n%s", want, logs)
		}
	}
}

// azbindStrictTypes: values keep their JSON types, output strings stay strings.
func TestStrictTypes(t *testing.T) {
	e := start(t, app(t, `,"azbindStrictTypes":true`), echoFunction)
	e.q("in").Send([]byte(`hello`))
	waitFor(t, "acked", func() bool { return len(e.q("in").Acked()) == 1 }, e.logs)
	var got echoed
	if err := json.Unmarshal(one(t, e.q("req")), &got); err != nil {
		t.Fatal(err)
	}
	if s := string(got.Body.Data["item"]); s != `"hello"` {
		t.Errorf("Data.item = %s", s)
	}
	if s := string(got.Body.Metadata["DeliveryCount"]); s != `1` {
		t.Errorf("Metadata.DeliveryCount = %s", s)
	}
	if b := one(t, e.q("text")); string(b) != "output1Value" {
		t.Errorf("text = %q", b)
	}
}

// A non-2xx answer, a non-JSON answer and a handler process that dies all fail the invocation
// (then the trigger's failure path: dead-lettered here after one delivery); a dead process is
// restarted and the next invocation succeeds.
func TestFailuresAndRestart(t *testing.T) {
	e := start(t, app(t, ""), func(h *extension.Host, pre string) {
		for _, fn := range []string{"Fail", "NotJSON", "Crash", "Ok"} {
			_ = h.Func(fn, extension.Handler{}, trig(pre+fn), out("text", pre+fn+"-out"))
		}
	})
	pid := e.w.PID()
	for _, fn := range []string{"Fail", "NotJSON", "Crash"} {
		e.q(fn).Send([]byte("x"))
		waitFor(t, fn+" dead-lettered", func() bool { return len(e.q(fn).Dead()) == 1 }, e.logs)
		if n := len(e.q(fn + "-out").Drain()); n != 0 {
			t.Errorf("%s: a failed invocation wrote %d items", fn, n)
		}
	}
	e.q("Ok").Send([]byte("x"))
	waitFor(t, "Ok acked after the restart", func() bool { return len(e.q("Ok").Acked()) == 1 }, e.logs)
	if p := e.w.PID(); p == pid || p == 0 {
		t.Errorf("pid %d after the crash, was %d: not restarted", p, pid)
	}
	logs := e.logs.String()
	for _, want := range []string{"answered 500 Internal Server Error", `Content-Type \"text/plain\"`, "Language Worker Process exited", `"stream":"stderr","line":"crashing on purpose"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s\n%s", want, logs)
		}
	}
	if strings.Contains(logs, `"msg":"dropped"`) {
		t.Error("the Logs of a non-2xx answer were applied (Functions drops them)")
	}
}

// A request that finds nothing listening never reached the handler: while the process that
// stopped listening exits and is restarted, the invocation waits and is sent to the new one,
// instead of failing (and burning its one delivery here) for a crash it was not part of.
func TestRefusedRequestWaitsForRestart(t *testing.T) {
	e := start(t, app(t, ""), func(h *extension.Host, pre string) {
		for _, fn := range []string{"Deaf", "Ok"} {
			_ = h.Func(fn, extension.Handler{}, trig(pre+fn), out("text", pre+fn+"-out"))
		}
	})
	pid := e.w.PID()
	e.q("Deaf").Send([]byte("x"))
	waitFor(t, "Deaf acked", func() bool { return len(e.q("Deaf").Acked()) == 1 }, e.logs)
	e.q("Ok").Send([]byte("x")) // within the 500 ms the old process refuses connections
	waitFor(t, "Ok acked or dead-lettered", func() bool { return len(e.q("Ok").Acked())+len(e.q("Ok").Dead()) == 1 }, e.logs)
	if n := len(e.q("Ok").Dead()); n != 0 {
		t.Fatalf("Ok dead-lettered: a refused request was not sent again to the restarted process\n%s", e.logs.String())
	}
	if p := e.w.PID(); p == pid || p == 0 {
		t.Errorf("pid %d, was %d: not restarted", p, pid)
	}
}
