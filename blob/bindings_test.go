package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/azbind/azbind/extension/driver"
)

func newTestInput(t *testing.T, path string, param reflect.Type, host *driver.Services, triggerData []string) driver.Input {
	t.Helper()
	bc := bindContext("Fn", Input("in", path), host, param, nil)
	bc.TriggerData = triggerData
	in, err := newInput(context.Background(), bc)
	if err != nil {
		t.Fatalf("newInput(%q): %v", path, err)
	}
	return in
}

func newTestOutput(t *testing.T, path string, host *driver.Services) driver.Output {
	t.Helper()
	out, err := newOutput(context.Background(), bindContext("Fn", Output("out", path), host, nil, nil))
	if err != nil {
		t.Fatalf("newOutput(%q): %v", path, err)
	}
	return out
}

func fcWith(md driver.MapMetadata) *driver.FunctionContext {
	return &driver.FunctionContext{FunctionName: "Fn", Metadata: md}
}

func write(t *testing.T, out driver.Output, fc *driver.FunctionContext, v any) {
	t.Helper()
	ctx := context.Background()
	s, err := out.Open(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

type order struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
}

// Output then input round trip for every value kind, with content types, container creation
// and paths from trigger data ({name}, {queueTrigger}, a JSON payload's {id}).
func TestInputOutputRoundTrip(t *testing.T) {
	c := unique("io") // does not exist yet: the output creates it
	host := newServices(t, unique("h"))
	ctx := context.Background()
	fc := fcWith(driver.MapMetadata{"name": "doc", "queueTrigger": "q1", "id": "o-7"})

	write(t, newTestOutput(t, c+"/{name}.txt", host), fc, "hello")
	write(t, newTestOutput(t, c+"/bin/{queueTrigger}", host), fc, []byte{0, 1, 2})
	write(t, newTestOutput(t, c+"/orders/{id}.json", host), fc, order{ID: "o-7", Total: 9.5})
	write(t, newTestOutput(t, c+"/stream/{name}.png", host), fc, strings.NewReader("PNGDATA"))

	for _, tc := range []struct{ name, ct string }{
		{"doc.txt", "text/plain; charset=utf-8"},
		{"bin/q1", "application/octet-stream"},
		{"orders/o-7.json", "application/json"},
		{"stream/doc.png", "image/png"},
	} {
		p, err := svc.NewContainerClient(c).NewBlobClient(tc.name).GetProperties(ctx, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := deref(p.ContentType); got != tc.ct {
			t.Errorf("%s: content type %q, want %q", tc.name, got, tc.ct)
		}
	}

	triggerData := []string{"name", "queueTrigger", "id"}
	v, err := newTestInput(t, c+"/{name}.txt", reflect.TypeFor[string](), host, triggerData).Bind(ctx, fc)
	if err != nil || string(v.([]byte)) != "hello" {
		t.Fatalf("string input = %v, %v", v, err)
	}
	v, err = newTestInput(t, c+"/bin/{queueTrigger}", reflect.TypeFor[[]byte](), host, triggerData).Bind(ctx, fc)
	if err != nil || !bytes.Equal(v.([]byte), []byte{0, 1, 2}) {
		t.Fatalf("[]byte input = %v, %v", v, err)
	}
	v, err = newTestInput(t, c+"/orders/{id}.json", reflect.TypeFor[order](), host, triggerData).Bind(ctx, fc)
	if err != nil || string(v.([]byte)) != `{"id":"o-7","total":9.5}` {
		t.Fatalf("JSON input = %s, %v", v, err)
	}
	v, err = newTestInput(t, c+"/stream/{name}.png", reflect.TypeFor[io.Reader](), host, triggerData).Bind(ctx, fc)
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := v.(io.ReadCloser)
	if !ok {
		t.Fatalf("io.Reader input is %T, want a streaming io.ReadCloser", v)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "PNGDATA" {
		t.Fatalf("stream input = %q", b)
	}

	// SDK clients.
	v, _ = newTestInput(t, c+"/{name}.txt", reflect.TypeFor[*sdkblob.Client](), host, triggerData).Bind(ctx, fc)
	if bcl, ok := v.(*sdkblob.Client); !ok || !strings.HasSuffix(bcl.URL(), "/"+c+"/doc.txt") {
		t.Fatalf("*blob.Client input = %T %v", v, v)
	}
	v, _ = newTestInput(t, c+"/{name}.txt", reflect.TypeFor[*blockblob.Client](), host, triggerData).Bind(ctx, fc)
	bb, ok := v.(*blockblob.Client)
	if !ok {
		t.Fatalf("*blockblob.Client input = %T", v)
	}
	if _, err := bb.GetProperties(ctx, nil); err != nil {
		t.Fatalf("client from input does not work: %v", err)
	}
	v, _ = newTestInput(t, c, reflect.TypeFor[*container.Client](), host, triggerData).Bind(ctx, fc)
	if cc, ok := v.(*container.Client); !ok || !strings.HasSuffix(cc.URL(), "/"+c) {
		t.Fatalf("*container.Client input = %T", v)
	}
}

// A missing blob binds nil (the zero value), as in Functions; a missing container too.
func TestInputMissingBlobIsNil(t *testing.T) {
	c := unique("miss")
	createContainer(t, c)
	host := newServices(t, unique("h"))
	for _, p := range []string{c + "/nope.txt", unique("nocontainer") + "/x"} {
		for _, typ := range []reflect.Type{reflect.TypeFor[string](), reflect.TypeFor[io.Reader]()} {
			v, err := newTestInput(t, p, typ, host, nil).Bind(context.Background(), fcWith(nil))
			if err != nil || v != nil {
				t.Errorf("%s as %v: got %v, %v; want nil, nil", p, typ, v, err)
			}
		}
	}
}

// Errors other than "not found" fail the invocation.
func TestInputErrors(t *testing.T) {
	host := newServices(t, unique("h"))
	// An invalid container name (the service would answer 400, never "missing") is refused when
	// the binding is built, with the host's text; one produced by an expression fails the invocation.
	_, err := newInput(context.Background(), bindContext("Fn", Input("in", "Bad_Container/x"), host, reflect.TypeFor[string](), nil))
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "Fn/function.json") || !strings.Contains(err.Error(), "Invalid container name: Bad_Container") {
		t.Errorf("literal invalid container: err = %v", err)
	}
	v, err := newTestInput(t, "{c}/x", reflect.TypeFor[string](), host, nil).Bind(context.Background(), fcWith(driver.MapMetadata{"c": "Bad_Container"}))
	if err == nil {
		t.Fatalf("got %v, want an error", v)
	}
	if !strings.Contains(err.Error(), "Fn/function.json") {
		t.Errorf("error %v does not name the binding", err)
	}
	// A path without a blob name.
	if _, err := newInput(context.Background(), bindContext("Fn", Input("in", "onlycontainer"), host, reflect.TypeFor[string](), nil)); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("path without blob: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := newOutput(context.Background(), bindContext("Fn", Output("out", ""), host, nil, nil)); !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("missing path: err = %v, want ErrInvalidConfig", err)
	}
	// Unknown {name} in a path is caught at load time when the trigger declares its data.
	bc := bindContext("Fn", Input("in", "ccc/{nope}"), host, reflect.TypeFor[string](), nil)
	bc.TriggerData = []string{"name"}
	if _, err := newInput(context.Background(), bc); err == nil {
		t.Error("unknown {nope} accepted")
	}
}

// The output writes nothing unless Flush is called (invocation succeeded), and one value only.
func TestOutputOnlyOnFlush(t *testing.T) {
	c := unique("flush")
	host := newServices(t, unique("h"))
	out := newTestOutput(t, c+"/x.txt", host)
	s, err := out.Open(context.Background(), fcWith(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(context.Background(), "b"); !errors.Is(err, ErrMultipleValues) {
		t.Fatalf("second Add: %v, want ErrMultipleValues", err)
	}
	// No Flush: the invocation failed.
	if _, err := svc.NewContainerClient(c).NewBlobClient("x.txt").GetProperties(context.Background(), nil); err == nil {
		t.Fatal("blob written without Flush")
	}
}

// patternReader generates n bytes without holding them.
type patternReader struct{ n, off int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n-r.off {
		p = p[:r.n-r.off]
	}
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 7 % 251)
	}
	r.off += int64(len(p))
	return len(p), nil
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// A 64 MiB blob goes out and comes back as a stream without being held in memory.
func TestStream64MiB(t *testing.T) {
	const size = 64 << 20
	c := unique("big")
	host := newServices(t, unique("h"))
	ctx := context.Background()

	want := sha256.New()
	io.Copy(want, &patternReader{n: size})
	wantSum := want.Sum(nil)

	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	base := heapInUse()
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak {
				peak = m.HeapInuse
			}
		}
	}()
	write(t, newTestOutput(t, c+"/big.bin", host), fcWith(nil), &patternReader{n: size})

	v, err := newTestInput(t, c+"/big.bin", reflect.TypeFor[io.Reader](), host, nil).Bind(ctx, fcWith(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, v.(io.ReadCloser))
	v.(io.Closer).Close()
	close(stop)
	<-sampled
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), wantSum) {
		t.Fatalf("read back %d bytes (err %v), hash match %v", n, err, bytes.Equal(got.Sum(nil), wantSum))
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap in use: base %d MiB, peak %d MiB (growth %d MiB)", base>>20, peak>>20, growth>>20)
	if growth > 24<<20 {
		t.Fatalf("heap grew by %d MiB while streaming 64 MiB: the blob was buffered", growth>>20)
	}
}
