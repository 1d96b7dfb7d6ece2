package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/internal/emulator"
)

// `azbind blob reprocess` hands an already-processed blob over to the host's internal queue with
// the real message shape (C32), and never prints the account key.
func TestBlobReprocessCLI(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	ctx := context.Background()
	bc, err := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.CreateContainer(ctx, "images", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.UploadBuffer(ctx, "images", "cat.png", []byte("meow"), nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ls := filepath.Join(dir, "local.settings.json")
	b, _ := json.Marshal(map[string]any{"Values": map[string]string{"AzureWebJobsStorage": az.ConnectionString}})
	if err := os.WriteFile(ls, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"blob", "reprocess", "--host-id", "myhost", "--function", "Thumbnail", "--settings", ls, "images/cat.png"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	qc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := qc.NewQueueClient("azure-webjobs-blobtrigger-myhost").PeekMessages(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Messages) != 1 {
		t.Fatalf("internal queue has %d messages, want 1", len(resp.Messages))
	}
	body, err := base64.StdEncoding.DecodeString(*resp.Messages[0].MessageText)
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("message %q: %v", body, err)
	}
	if msg["Type"] != "BlobTrigger" || msg["FunctionId"] != "Host.Functions.Thumbnail" || msg["ContainerName"] != "images" || msg["BlobName"] != "cat.png" {
		t.Errorf("message = %v", msg)
	}
	for _, s := range []string{out.String(), errb.String()} {
		if strings.Contains(s, az.AccountKey) {
			t.Error("output contains the account key")
		}
	}

	// Usage errors and a missing blob.
	if code := run([]string{"blob", "reprocess", "images/cat.png"}, &out, &errb); code != 2 {
		t.Errorf("missing flags: exit %d, want 2", code)
	}
	errb.Reset()
	code = run([]string{"blob", "reprocess", "--host-id", "myhost", "--function", "Thumbnail", "--settings", ls, "images/nosuch.png"}, &out, &errb)
	if code != 1 || errb.Len() == 0 || strings.Contains(errb.String(), az.AccountKey) {
		t.Errorf("missing blob: exit %d, stderr %q", code, errb.String())
	}
}
