package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/emulator"
)

// The conformance kit builds its hosts from settings alone, so it cannot hand the SDK a CA: its
// launcher serves plain HTTP. Its containers have 4 feed ranges, as the package's other tests'
// (several leases: keys run in parallel, hosts share the leases).
var (
	plainOnce sync.Once
	plainFeed *emulator.CosmosFeed
	plainErr  error
)

func plainLauncher(t *testing.T) *emulator.CosmosFeed {
	plainOnce.Do(func() {
		plainFeed, plainErr = emulator.LaunchCosmosFeed(&emulator.CosmosFeedOptions{PlainHTTP: true, Ranges: 4})
	})
	if plainErr != nil {
		t.Fatalf("emulator: %v", plainErr)
	}
	return plainFeed
}

func stopPlainLauncher() {
	if plainFeed != nil {
		_ = plainFeed.Stop()
	}
}

// TestConformance runs the kit against the connector: the trigger tests on a trigger-only harness
// (documents written by the source, mapped back to their payloads by conformance.PayloadMapper),
// and the output tests on an output-only one. (One harness with both would also run the kit's
// OutputRoundTrip, which writes raw bytes — not documents — to the output.)
func TestConformance(t *testing.T) {
	f := plainLauncher(t)
	t.Run("Trigger", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) conformance.Harness {
			return &cosmosTriggerHarness{f: f, storage: extension.NewMemoryStorage()}
		})
	})
	t.Run("Output", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) conformance.Harness { return cosmosHarness{f} })
	})
}

type cosmosHarness struct{ f *emulator.CosmosFeed }

func (h cosmosHarness) Settings() map[string]string {
	return map[string]string{"CosmosDB": h.f.ConnectionString}
}

func (cosmosHarness) Capabilities() conformance.Capabilities { return conformance.Capabilities{} }

var confSeq atomic.Int64

func (h cosmosHarness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	return &cosmosDest{f: h.f, db: fmt.Sprintf("conf%d", confSeq.Add(1))}
}

type cosmosDest struct {
	f  *emulator.CosmosFeed
	db string
}

// Output writes to a container created on first use.
func (d *cosmosDest) Output(name string) *driver.BindingSpec {
	return Output(name, d.db, "out", driver.Props{"createIfNotExists": true, "partitionKey": "/pk"})
}

// Item makes document i with the payload in a string property.
func (d *cosmosDest) Item(i int, payload []byte) (any, []byte) {
	return map[string]any{"id": fmt.Sprintf("d%03d", i), "pk": "conformance", "payload": string(payload)}, payload
}

// Received reads the container back (missing: nothing written).
func (d *cosmosDest) Received(ctx context.Context) ([][]byte, error) {
	cred, err := azcosmos.NewKeyCredential(d.f.Key)
	if err != nil {
		return nil, err
	}
	cl, err := azcosmos.NewClientWithKey(d.f.Endpoint, cred, nil)
	if err != nil {
		return nil, err
	}
	cc, err := cl.NewContainer(d.db, "out")
	if err != nil {
		return nil, err
	}
	pager := cc.NewQueryItemsPager("SELECT * FROM c", azcosmos.NewPartitionKey(), nil)
	var out []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		for _, it := range page.Items {
			var v struct {
				Payload string `json:"payload"`
			}
			if err := json.Unmarshal(it, &v); err != nil {
				return nil, err
			}
			out = append(out, v.Payload)
		}
	}
	sort.Strings(out)
	res := make([][]byte, len(out))
	for i, s := range out {
		res[i] = []byte(s)
	}
	return res, nil
}
