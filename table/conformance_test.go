package table

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/azbind/azbind/conformance"
	"github.com/azbind/azbind/extension/driver"
)

// TestConformance runs the exported suite's output tests against Azurite: single values,
// collectors, and nothing written by a failed invocation.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Harness { return tableHarness{} })
}

type tableHarness struct{}

func (tableHarness) Settings() map[string]string {
	return map[string]string{"AzureWebJobsStorage": azurite.ConnectionString}
}

func (tableHarness) Capabilities() conformance.Capabilities { return conformance.Capabilities{} }

var confSeq atomic.Int64

func (tableHarness) NewDestination(ctx context.Context, t *testing.T) conformance.Destination {
	return &tableDest{name: fmt.Sprintf("conf%d%d", confSeq.Add(1), len(t.Name()))}
}

type tableDest struct{ name string }

func (d *tableDest) Output(name string) *driver.BindingSpec { return Output(name, d.name) }

// Item makes entity i in partition "conformance", with the payload in a string property.
func (d *tableDest) Item(i int, payload []byte) (any, []byte) {
	return map[string]any{"PartitionKey": "conformance", "RowKey": fmt.Sprintf("r%03d", i), "Payload": string(payload)}, payload
}

// Received reads the table back (a missing table means nothing was written).
func (d *tableDest) Received(ctx context.Context) ([][]byte, error) {
	svc, err := aztables.NewServiceClientFromConnectionString(azurite.ConnectionString, nil)
	if err != nil {
		return nil, err
	}
	pager := svc.NewClient(d.name).NewListEntitiesPager(nil)
	var out []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		for _, e := range page.Entities {
			var ent aztables.EDMEntity
			if err := ent.UnmarshalJSON(e); err != nil {
				return nil, err
			}
			s, _ := ent.Properties["Payload"].(string)
			out = append(out, s)
		}
	}
	sort.Strings(out)
	res := make([][]byte, len(out))
	for i, s := range out {
		res[i] = []byte(s)
	}
	return res, nil
}
