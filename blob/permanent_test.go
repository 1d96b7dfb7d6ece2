package blob

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/azbind/azbind/extension/expr"
)

// A listing the service refuses as a bad request (here an invalid container name, which load-time
// validation normally catches first) cannot clear by retrying: the scanner hands the error to the
// watching functions at once instead of logging a warning every poll forever.
func TestScannerStopsOnPermanentListError(t *testing.T) {
	host := newServices(t, "perm")
	state, err := stateFor(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	key := scanKey{hostID: unique("perm"), container: "Bad_Container"}
	pat, err := expr.ParsePattern("okname/{name}")
	if err != nil {
		t.Fatal(err)
	}
	w := &watch{fnID: "fn", pattern: pat, start: startFrom{}, fail: make(chan error, 1)}
	_, release := acquireScanner(state, key, func() *scanner {
		hosts := svc.NewContainerClient(HostsContainer)
		return &scanner{cc: svc.NewContainerClient("Bad_Container"), hosts: hosts, rc: &receipts{hosts: hosts},
			interval: 50 * time.Millisecond, workers: 1, log: slog.New(slog.DiscardHandler)}
	}, w)
	defer release()
	select {
	case err := <-w.fail:
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 400 || !permanentListError(err) {
			t.Fatalf("fail = %v; want the service's 400", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the scanner kept retrying a listing that cannot succeed")
	}
}
