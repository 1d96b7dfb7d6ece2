package blob_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/blob"
	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
)

// harness runs the conformance suite against the blob trigger. Every test gets its own Azurite,
// because the suite's host ID is fixed ("conformance") and Pending counts the internal queue.
type harness struct {
	az   *emulator.Azurite
	svc  *service.Client
	qsvc *azqueue.ServiceClient
}

func newHarness(t *testing.T) conformance.Harness {
	az := emulator.StartAzurite(t, nil)
	svc, err := service.NewClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	qsvc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString, nil)
	if err != nil {
		t.Fatal(err)
	}
	return harness{az: az, svc: svc, qsvc: qsvc}
}

func (h harness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsStorage": h.az.ConnectionString}
}

func (h harness) Capabilities() conformance.Capabilities {
	return conformance.Capabilities{
		Redelivery:         true,
		PoisonAfter:        3,
		CompetingConsumers: true,
		Metadata:           []string{"BlobTrigger", "Uri", "Properties", "Metadata", "name"},
		HostConfig: map[string]map[string]any{"blobs": {
			"poisonBlobThreshold": 3.0,
			"maxPollingInterval":  "00:00:00.2",
		}},
		SingleValueOutput: true, // a blob output takes one value per invocation
		Timeout:           60 * time.Second,
	}
}

var containerSeq atomic.Int64

type source struct {
	h         harness
	container string
	seq       atomic.Int64
}

func (h harness) NewSource(ctx context.Context, t *testing.T) conformance.Source {
	c := fmt.Sprintf("conf%d", containerSeq.Add(1))
	if _, err := h.svc.NewContainerClient(c).Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return &source{h: h, container: c}
}

func (s *source) Trigger(name string) *driver.BindingSpec {
	return blob.Trigger(name, s.container+"/{name}")
}

func (s *source) Send(ctx context.Context, payload []byte) error {
	name := fmt.Sprintf("item-%04d", s.seq.Add(1))
	_, err := s.h.svc.NewContainerClient(s.container).NewBlockBlobClient(name).UploadBuffer(ctx, payload, nil)
	return err
}

// Pending counts blobs not yet handed over (no complete receipt) plus hand-overs still queued
// (visible or not) on the internal queue.
func (s *source) Pending(ctx context.Context) (int, error) {
	done := map[string]bool{} // "<etag>/<container>/<blob>" with a complete receipt
	hosts := s.h.svc.NewContainerClient(blob.HostsContainer)
	pager := hosts.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "ContainerNotFound") {
				break
			}
			return 0, err
		}
		for _, it := range p.Segment.BlobItems {
			rest, ok := strings.CutPrefix(*it.Name, "blobreceipts/conformance/")
			if !ok {
				continue
			}
			incomplete := false
			for k := range it.Metadata {
				if strings.EqualFold(k, "Incomplete") {
					incomplete = true
				}
			}
			if _, tail, ok := strings.Cut(rest, "/"); ok && !incomplete { // drop the function id
				done[tail] = true
			}
		}
	}
	n := 0
	bp := s.h.svc.NewContainerClient(s.container).NewListBlobsFlatPager(nil)
	for bp.More() {
		p, err := bp.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, it := range p.Segment.BlobItems {
			if !done["\""+strings.Trim(string(*it.Properties.ETag), "\"")+"\"/"+s.container+"/"+*it.Name] {
				n++
			}
		}
	}
	props, err := s.h.qsvc.NewQueueClient(blob.InternalQueueName("conformance")).GetProperties(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueNotFound) {
		return 0, err
	}
	if err == nil {
		n += int(*props.ApproximateMessagesCount)
	}
	return n, nil
}

// Poisoned returns the contents of the blobs reported to webjobs-blobtrigger-poison.
func (s *source) Poisoned(ctx context.Context) ([][]byte, error) {
	resp, err := s.h.qsvc.NewQueueClient(blob.PoisonQueueName).PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: to.Ptr(int32(32))})
	if err != nil {
		if queueerror.HasCode(err, queueerror.QueueNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out [][]byte
	for _, m := range resp.Messages {
		msg, err := blob.DecodeMessage(*m.MessageText)
		if err != nil {
			return nil, err
		}
		if msg.ContainerName != s.container {
			continue
		}
		r, err := s.h.svc.NewContainerClient(msg.ContainerName).NewBlobClient(msg.BlobName).DownloadStream(ctx, nil)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// destination is a fresh container; every invocation writes one blob with a new name.
type destination struct {
	h         harness
	container string
}

func (h harness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	return &destination{h: h, container: fmt.Sprintf("confout%d", containerSeq.Add(1))}
}

func (d *destination) Output(name string) *driver.BindingSpec {
	return blob.Output(name, d.container+"/{rand-guid}.bin")
}

// Received downloads every blob of the container (none when it was never created).
func (d *destination) Received(ctx context.Context) ([][]byte, error) {
	c := d.h.svc.NewContainerClient(d.container)
	var out [][]byte
	pager := c.NewListBlobsFlatPager(nil)
	for pager.More() {
		p, err := pager.NextPage(ctx)
		if err != nil {
			if strings.Contains(err.Error(), "ContainerNotFound") {
				return nil, nil
			}
			return nil, err
		}
		for _, it := range p.Segment.BlobItems {
			r, err := c.NewBlobClient(*it.Name).DownloadStream(ctx, nil)
			if err != nil {
				return nil, err
			}
			b, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func TestConformance(t *testing.T) {
	conformance.Run(t, newHarness)
}
