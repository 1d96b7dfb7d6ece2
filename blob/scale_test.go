package blob

import (
	"context"
	"testing"

	"github.com/azbind/azbind/extension/driver"
)

// The blobTrigger reports its backlog for target-based scaling: the blobs waiting in the host's
// internal hand-over queue (plus those a running sweep found and has not handed over), with the
// internal queue's batch size per instance.
func TestTriggerScale(t *testing.T) {
	ctx := context.Background()
	host := newServices(t, unique("h"))
	c := unique("scale")
	createContainer(t, c)
	tr, err := newTrigger(ctx, bindContext("Scale", Trigger("b", c+"/{name}"), host, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := tr.(driver.Scaler)
	if !ok {
		t.Fatal("the blob trigger is not a driver.Scaler")
	}
	want := int64(min(32, 8*host.Concurrency/2+1)) // default MDOP 8 × processors (C34)
	m, err := s.Scale(ctx)
	if err != nil || m.Backlog != 0 || m.TargetPerInstance != want {
		t.Fatalf("no internal queue yet: %+v, %v; want backlog 0, target %d", m, err, want)
	}
	iq := qsvc.NewQueueClient(InternalQueueName(host.HostID))
	if _, err := iq.Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = iq.Delete(context.Background(), nil) })
	const n = 5
	for i := range n {
		msg := &Message{Type: "BlobTrigger", FunctionID: FunctionID("Scale"), BlobType: "BlockBlob", ContainerName: c, BlobName: string(rune('a' + i)), ETag: `"0x1"`}
		if _, err := iq.EnqueueMessage(ctx, msg.encode(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if m, err = s.Scale(ctx); err != nil || m.Backlog != n || m.TargetPerInstance != want {
		t.Fatalf("after %d hand-overs: %+v, %v; want backlog %d, target %d", n, m, err, n, want)
	}
}
