package hoststore_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/internal/emulator"
	"github.com/azbind/azbind/internal/hoststore"
	_ "github.com/azbind/azbind/internal/memconn"
	"github.com/azbind/azbind/internal/storagetest"
)

func TestStoreOnAzurite(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	svc, err := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The container does not exist yet: it is created on the first write.
	name := fmt.Sprintf("hosts%d", time.Now().UnixNano())
	storagetest.Run(t, hoststore.New(svc.ServiceClient().NewContainerClient(name)))
}

// When AzureWebJobsStorage resolves, host storage is its azure-webjobs-hosts container (the real
// layout): what the host writes there (its host-id usage record, and every connector's durable
// state) survives a restart.
func TestHostDefaultsToAzureWebJobsStorage(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	settings := connection.NewSettings(connection.FromMap("test", map[string]string{"AzureWebJobsStorage": az.ConnectionString}))
	h, err := extension.NewHost(extension.HostOptions{Settings: settings, Logger: slog.New(slog.DiscardHandler), HostID: "durable-test"})
	if err != nil {
		t.Fatal(err)
	}
	_ = h.Func("f", extension.Action(func(context.Context, string) error { return nil }),
		extension.Binding("memTrigger", "item", extension.DirIn, extension.Props{"queue": "hoststore-test"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() { cancel(); <-done }()

	svc, err := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob := svc.ServiceClient().NewContainerClient(hoststore.Container).NewBlobClient("ids/usage/durable-test")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := blob.GetProperties(ctx, nil); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no ids/usage/durable-test in %s: %v", hoststore.Container, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := h.Services().Storage.(*hoststore.Store); !ok || h.Services().StorageVolatile {
		t.Errorf("host storage is %T (volatile %v), want the AzureWebJobsStorage store", h.Services().Storage, h.Services().StorageVolatile)
	}
	if _, err := h.Services().DurableStorage("checkpoints"); err != nil {
		t.Errorf("DurableStorage: %v", err)
	}
}

func TestLeaserOnAzurite(t *testing.T) {
	az := emulator.StartAzurite(t, nil)
	svc, err := azblob.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The container does not exist yet: the lock blob and its container are created.
	name := fmt.Sprintf("leases%d", time.Now().UnixNano())
	storagetest.RunLeaser(t, hoststore.New(svc.ServiceClient().NewContainerClient(name)), 15*time.Second, func() { time.Sleep(250 * time.Millisecond) })
}
