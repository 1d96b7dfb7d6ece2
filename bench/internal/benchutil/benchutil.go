// Package benchutil holds what the blob benchmarks share: filling a container, polling a
// condition, percentiles.
package benchutil

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// FillContainer uploads n small JSON blobs data/00000.json… to the container, 8 at a time.
func FillContainer(ctx context.Context, svc *service.Client, container string, n int) error {
	cc := svc.NewContainerClient(container)
	ch := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				name := fmt.Sprintf("data/%05d.json", i)
				if _, err := cc.NewBlockBlobClient(name).UploadBuffer(ctx, []byte(`{"i":1}`), nil); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// WaitUntil polls cond every 5 ms until it holds, or fails after d.
func WaitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Pct is the p-th percentile of d, rounded to the millisecond ("n/a" when d is empty).
func Pct(d []time.Duration, p int) string {
	if len(d) == 0 {
		return "n/a"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(time.Millisecond).String()
}
