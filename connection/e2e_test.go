package connection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/identitytest"
)

// An identity-based connection (credential=managedidentity + <svc>ServiceUri) resolves to a
// credential that gets its token from an App Service style managed-identity endpoint on loopback,
// and real azblob/azqueue/aztables clients authenticate to Azurite (--oauth basic, HTTPS) with it.
func TestIdentityConnectionEndToEnd(t *testing.T) {
	az := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	mi := identitytest.Start(t, nil)
	mi.SetEnv(t)

	settings := connection.NewSettings(connection.FromMap("env", map[string]string{
		"IdConn__credential":      "managedidentity",
		"IdConn__blobServiceUri":  az.BlobEndpoint,
		"IdConn__queueServiceUri": az.QueueEndpoint,
		"IdConn__tableServiceUri": az.TableEndpoint,
	}))
	r := connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: az.HTTPClient}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	resolve := func(svc connection.Service) *connection.Connection {
		t.Helper()
		c, err := r.Resolve(ctx, "IdConn", svc)
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != connection.KindIdentity || c.CredentialType != connection.CredManagedIdentity || c.Credential == nil {
			t.Fatalf("%s: %v", svc, c)
		}
		return c
	}
	if n := len(mi.Requests()); n != 0 {
		t.Fatalf("resolving called the token endpoint %d times", n)
	}

	// Blob: create a container, upload, download.
	bc := resolve(connection.Blob)
	if bc.Endpoint != az.BlobEndpoint {
		t.Fatalf("blob endpoint %s", bc.Endpoint)
	}
	blobs, err := azblob.NewClient(bc.Endpoint, bc.Credential, &azblob.ClientOptions{ClientOptions: bc.ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blobs.CreateContainer(ctx, "idtest", nil); err != nil {
		t.Fatalf("create container with managed identity: %v", err)
	}
	payload := []byte("hello from a managed identity")
	if _, err := blobs.UploadBuffer(ctx, "idtest", "a.txt", payload, nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	dl, err := blobs.DownloadStream(ctx, "idtest", "a.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(dl.Body)
	dl.Body.Close()
	if !bytes.Equal(got, payload) {
		t.Fatalf("downloaded %q", got)
	}

	// Queue: create, enqueue, dequeue, delete.
	qc := resolve(connection.Queue)
	if qc.Credential != bc.Credential {
		t.Fatal("the credential is not shared by the connection's services")
	}
	qs, err := azqueue.NewServiceClient(qc.Endpoint, qc.Credential, &azqueue.ClientOptions{ClientOptions: qc.ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := qs.CreateQueue(ctx, "idqueue", nil); err != nil {
		t.Fatalf("create queue: %v", err)
	}
	q := qs.NewQueueClient("idqueue")
	if _, err := q.EnqueueMessage(ctx, "msg-1", nil); err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	deq, err := q.DequeueMessage(ctx, nil)
	if err != nil {
		t.Fatalf("dequeue: %v", err)
	}
	if len(deq.Messages) != 1 || *deq.Messages[0].MessageText != "msg-1" {
		t.Fatalf("dequeued %+v", deq.Messages)
	}
	if _, err := q.DeleteMessage(ctx, *deq.Messages[0].MessageID, *deq.Messages[0].PopReceipt, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}

	// Table: create, add an entity, read it back.
	tc := resolve(connection.Table)
	ts, err := aztables.NewServiceClient(tc.Endpoint, tc.Credential, &aztables.ClientOptions{ClientOptions: tc.ClientOptions})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.CreateTable(ctx, "idtable", nil); err != nil {
		t.Fatalf("create table: %v", err)
	}
	tbl := ts.NewClient("idtable")
	ent, _ := json.Marshal(map[string]any{"PartitionKey": "p", "RowKey": "r", "Value": 42})
	if _, err := tbl.AddEntity(ctx, ent, nil); err != nil {
		t.Fatalf("add entity: %v", err)
	}
	ge, err := tbl.GetEntity(ctx, "p", "r", nil)
	if err != nil || !strings.Contains(string(ge.Value), `"Value":42`) {
		t.Fatalf("get entity: %v %s", err, ge.Value)
	}

	// The token came from the loopback endpoint, for Azure Storage.
	reqs := mi.Requests()
	if len(reqs) == 0 {
		t.Fatal("the managed identity endpoint was never called")
	}
	for _, rq := range reqs {
		if rq.Status != 200 || rq.Resource != "https://storage.azure.com" || rq.ClientID != "" {
			t.Fatalf("token request %+v", rq)
		}
	}
}

// Without a token the OAuth Azurite refuses the same call: the e2e test above really depends on
// the resolved credential (an identity section with a bad IDENTITY_HEADER fails).
func TestIdentityConnectionWrongIdentityHeaderFails(t *testing.T) {
	az := emulator.StartAzurite(t, &emulator.AzuriteOptions{OAuth: true})
	mi := identitytest.Start(t, nil)
	mi.SetEnv(t)
	t.Setenv("IDENTITY_HEADER", "not-the-header")
	settings := connection.NewSettings(connection.FromMap("env", map[string]string{
		"Bad__credential":     "managedidentity",
		"Bad__clientId":       "not-cached-client",
		"Bad__blobServiceUri": az.BlobEndpoint,
	}))
	r := connection.NewResolver(settings, &connection.ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: az.HTTPClient}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := r.Resolve(ctx, "Bad", connection.Blob)
	if err != nil {
		t.Fatal(err)
	}
	blobs, _ := azblob.NewClient(c.Endpoint, c.Credential, &azblob.ClientOptions{ClientOptions: c.ClientOptions})
	_, err = blobs.CreateContainer(ctx, "nope", nil)
	if err == nil {
		t.Fatal("a container was created without a valid token")
	}
	if reqs := mi.Requests(); len(reqs) == 0 || reqs[0].Status != 401 {
		t.Fatalf("requests %+v", reqs)
	}
}
