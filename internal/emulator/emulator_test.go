//go:build unix

package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/internal/emulator"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// clientOptions routes the SDK through the emulator's TLS-trusting client when there is one.
func clientOptions(a *emulator.Azurite) azcore.ClientOptions {
	if a.HTTPClient != nil {
		return azcore.ClientOptions{Transport: a.HTTPClient}
	}
	return azcore.ClientOptions{}
}

func exerciseBlob(t *testing.T, a *emulator.Azurite) {
	t.Helper()
	c, err := azblob.NewClientFromConnectionString(a.ConnectionString, &azblob.ClientOptions{ClientOptions: clientOptions(a)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateContainer(ctx(t), "cont1", nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	want := []byte("hello azurite")
	if _, err := c.UploadBuffer(ctx(t), "cont1", "dir/b.txt", want, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	resp, err := c.DownloadStream(ctx(t), "cont1", "dir/b.txt", nil)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("downloaded %q, want %q", got, want)
	}
}

func exerciseQueue(t *testing.T, a *emulator.Azurite) {
	t.Helper()
	sc, err := azqueue.NewServiceClientFromConnectionString(a.ConnectionString, &azqueue.ClientOptions{ClientOptions: clientOptions(a)})
	if err != nil {
		t.Fatal(err)
	}
	q := sc.NewQueueClient("queue1")
	if _, err := q.Create(ctx(t), nil); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	if _, err := q.EnqueueMessage(ctx(t), "order-42", nil); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	resp, err := q.DequeueMessage(ctx(t), nil)
	if err != nil {
		t.Fatalf("dequeue: %v", err)
	}
	if len(resp.Messages) != 1 || resp.Messages[0].MessageText == nil || *resp.Messages[0].MessageText != "order-42" {
		t.Fatalf("dequeued %+v, want one message order-42", resp.Messages)
	}
	if n := *resp.Messages[0].DequeueCount; n != 1 {
		t.Fatalf("dequeue count %d, want 1", n)
	}
}

func exerciseTable(t *testing.T, a *emulator.Azurite) {
	t.Helper()
	sc, err := aztables.NewServiceClientFromConnectionString(a.ConnectionString, &aztables.ClientOptions{ClientOptions: clientOptions(a)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.CreateTable(ctx(t), "table1", nil); err != nil {
		t.Fatalf("create table: %v", err)
	}
	tc := sc.NewClient("table1")
	ent, _ := json.Marshal(map[string]any{"PartitionKey": "p", "RowKey": "r", "Qty": 3})
	if _, err := tc.AddEntity(ctx(t), ent, nil); err != nil {
		t.Fatalf("add entity: %v", err)
	}
	got, err := tc.GetEntity(ctx(t), "p", "r", nil)
	if err != nil {
		t.Fatalf("get entity: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(got.Value, &m); err != nil {
		t.Fatal(err)
	}
	if m["Qty"] != float64(3) {
		t.Fatalf("entity %v, want Qty 3", m)
	}
}

func TestAzuriteServices(t *testing.T) {
	t.Parallel()
	a := emulator.StartAzurite(t, nil)
	if !strings.HasPrefix(a.BlobEndpoint, "http://127.0.0.1:") || !strings.HasSuffix(a.BlobEndpoint, "/devstoreaccount1") {
		t.Fatalf("blob endpoint %s", a.BlobEndpoint)
	}
	if a.HTTPClient != nil || a.CertPool != nil {
		t.Fatal("plain Azurite has TLS fields set")
	}
	if !strings.HasPrefix(a.ConnectionString, "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=") {
		t.Fatal("unexpected connection string shape")
	}
	t.Run("blob", func(t *testing.T) { exerciseBlob(t, a) })
	t.Run("queue", func(t *testing.T) { exerciseQueue(t, a) })
	t.Run("table", func(t *testing.T) { exerciseTable(t, a) })
	t.Run("data on disk", func(t *testing.T) {
		if !strings.HasPrefix(a.Dir, "/dev/shm/") {
			t.Errorf("data folder %s not under /dev/shm", a.Dir)
		}
		if _, err := os.Stat(a.Dir + "/__azurite_db_queue__.json"); err != nil {
			t.Errorf("azurite writes no data into its folder: %v", err)
		}
	})
	t.Run("no key in log", func(t *testing.T) {
		b, err := os.ReadFile(a.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(emulator.DevAccountKey)) {
			t.Fatal("the account key appears in azurite's log")
		}
	})
}

func TestAzuriteOAuth(t *testing.T) {
	t.Parallel()
	a := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	for _, ep := range []string{a.BlobEndpoint, a.QueueEndpoint, a.TableEndpoint} {
		if !strings.HasPrefix(ep, "https://127.0.0.1:") {
			t.Fatalf("endpoint %s is not https on loopback", ep)
		}
	}
	if a.HTTPClient == nil || a.CertPool == nil || !bytes.Contains(a.CertPEM, []byte("BEGIN CERTIFICATE")) {
		t.Fatal("OAuth Azurite lacks HTTPClient, CertPool or CertPEM")
	}
	if !strings.HasPrefix(a.ConnectionString, "DefaultEndpointsProtocol=https;") {
		t.Fatal("connection string does not say https")
	}
	// Shared key still works on the HTTPS instance (env-probe §2).
	t.Run("blob", func(t *testing.T) { exerciseBlob(t, a) })
	t.Run("queue", func(t *testing.T) { exerciseQueue(t, a) })
	t.Run("table", func(t *testing.T) { exerciseTable(t, a) })
	t.Run("untrusted without HTTPClient", func(t *testing.T) {
		resp, err := http.DefaultClient.Get(a.BlobEndpoint + "?comp=list")
		if err == nil {
			resp.Body.Close()
			t.Fatal("the default client trusted the emulator's self-signed certificate")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("want a certificate error, got %v", err)
		}
	})
	t.Run("localhost name", func(t *testing.T) {
		resp, err := a.HTTPClient.Get(strings.Replace(a.BlobEndpoint, "127.0.0.1", "localhost", 1) + "?comp=list")
		if err != nil {
			t.Fatalf("https://localhost with the emulator client: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden { // unsigned request: 403 from Azurite, over verified TLS
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
}

func processGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive after Stop", pid)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

func TestAzuriteStopAndSecondInstance(t *testing.T) {
	t.Parallel()
	a := emulator.StartAzurite(t, nil)
	b := emulator.StartAzurite(t, nil)
	ap := map[int]bool{a.BlobPort: true, a.QueuePort: true, a.TablePort: true}
	for _, p := range []int{b.BlobPort, b.QueuePort, b.TablePort} {
		if ap[p] {
			t.Fatalf("second instance reuses port %d of the first", p)
		}
	}
	if a.PID == b.PID || a.Dir == b.Dir {
		t.Fatal("second instance shares pid or data folder with the first")
	}
	exerciseQueue(t, b) // the second one really serves

	if err := a.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	processGone(t, a.PID)
	if _, err := os.Stat(a.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data folder %s not removed: %v", a.Dir, err)
	}
	if err := a.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	// b is unaffected by stopping a.
	if syscall.Kill(b.PID, 0) != nil {
		t.Fatal("stopping one instance ended the other")
	}
}

func TestAzuriteOwnDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() + "/data"
	a := emulator.StartAzurite(t, &emulator.AzuriteOptions{Dir: dir})
	exerciseBlob(t, a)
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	processGone(t, a.PID)
	if _, err := os.Stat(dir + "/__azurite_db_blob__.json"); err != nil {
		t.Fatalf("a caller-supplied data folder must be kept: %v", err)
	}
}

func TestAzuriteStringHidesKey(t *testing.T) {
	a := &emulator.Azurite{AccountName: "devstoreaccount1", AccountKey: emulator.DevAccountKey,
		BlobEndpoint: "http://127.0.0.1:1/devstoreaccount1", ConnectionString: "AccountKey=" + emulator.DevAccountKey}
	c := &emulator.Cosmos{Endpoint: "http://127.0.0.1:2/", Key: emulator.CosmosEmulatorKey, ConnectionString: "AccountKey=" + emulator.CosmosEmulatorKey}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{a, c} {
			s := fmt.Sprintf(f, v)
			if strings.Contains(s, emulator.DevAccountKey) || strings.Contains(s, emulator.CosmosEmulatorKey) || strings.Contains(s, "AccountKey") {
				t.Errorf("%s of %T leaks the key: %s", f, v, s)
			}
		}
	}
	if !strings.Contains(a.String(), "http://127.0.0.1:1/devstoreaccount1") {
		t.Errorf("String() lacks the endpoint: %s", a)
	}
}

// fatalRecorder captures Fatalf instead of failing the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestNotInstalled(t *testing.T) {
	t.Setenv(emulator.EnvDir, t.TempDir())
	_, err := emulator.LaunchAzurite(nil)
	if !errors.Is(err, emulator.ErrNotInstalled) {
		t.Fatalf("LaunchAzurite: %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "npm ci --prefix emulators") || !strings.Contains(err.Error(), "scripts/test") {
		t.Fatalf("error does not say how to install: %v", err)
	}
	if _, err := emulator.LaunchCosmos(); !errors.Is(err, emulator.ErrNotInstalled) {
		t.Fatalf("LaunchCosmos: %v, want ErrNotInstalled", err)
	}

	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		emulator.StartAzurite(rec, nil)
	}()
	<-done
	if !strings.Contains(rec.msg, "npm ci --prefix emulators") {
		t.Fatalf("StartAzurite did not fail the test with the install command; Fatalf got %q", rec.msg)
	}
}

func TestInstallDir(t *testing.T) {
	t.Parallel()
	dir, err := emulator.InstallDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/package.json"); err != nil && os.Getenv(emulator.EnvDir) == "" {
		t.Fatalf("InstallDir %s is not the repository's emulators folder: %v", dir, err)
	}
}

func TestCosmos(t *testing.T) {
	t.Parallel()
	c := emulator.StartCosmos(t)
	if !strings.HasPrefix(c.Endpoint, "http://127.0.0.1:") || !strings.HasSuffix(c.Endpoint, "/") {
		t.Fatalf("endpoint %s", c.Endpoint)
	}
	if c.ConnectionString != "AccountEndpoint="+c.Endpoint+";AccountKey="+emulator.CosmosEmulatorKey+";" {
		t.Fatal("unexpected connection string")
	}
	resp, err := http.Get(c.Endpoint)
	if err != nil {
		t.Fatalf("GET %s: %v", c.Endpoint, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("writableLocations")) {
		t.Fatalf("GET %s: %d %s, want 200 with the account metadata", c.Endpoint, resp.StatusCode, body)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	processGone(t, c.PID)
	if err := c.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

func TestStartTimeout(t *testing.T) {
	t.Setenv(emulator.EnvStartTimeout, "1ms")
	_, err := emulator.LaunchCosmos()
	if !errors.Is(err, emulator.ErrStart) || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("LaunchCosmos with a 1ms deadline: %v, want ErrStart ... not ready", err)
	}
	t.Setenv(emulator.EnvStartTimeout, "soon")
	if _, err := emulator.LaunchCosmos(); !errors.Is(err, emulator.ErrStart) || !strings.Contains(err.Error(), emulator.EnvStartTimeout) {
		t.Fatalf("bad timeout setting: %v, want an error naming %s", err, emulator.EnvStartTimeout)
	}
}
