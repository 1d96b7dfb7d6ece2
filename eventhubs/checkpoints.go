package eventhubs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2/checkpoints"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// store is the SDK's checkpoints.BlobStore with the names Functions writes and KEDA reads: the
// namespace, hub and consumer group are lower-cased in blob names
// (<fqns>/<hub>/<group>/checkpoint/<partition>, …/ownership/<partition>), and a partition without a
// current checkpoint falls back to the v4 extension's checkpoint <fqns>/<hub>/<group>/<partition>
// (a JSON body with Offset and SequenceNumber), so that a host moved from Azure Functions
// continues where Functions stopped. Ownership, claims and load balancing stay the SDK's.
type store struct {
	inner   *checkpoints.BlobStore
	cc      *container.Client
	ownerID string // this trigger's Processor

	// interval and expiry are the Processor's load-balancing interval and ownership expiration.
	interval, expiry time.Duration

	mu     sync.Mutex
	others map[string]string                // partition → the other owner the last listing or claim showed
	mine   map[string]azeventhubs.Ownership // partition → this owner's ownership as last listed or written

	// listed is the last listing of the ownership blobs (lower-case names), kept up to date with
	// this store's claims; listKey is its namespace, hub and group, listedAt when it was read.
	listed   []azeventhubs.Ownership
	listKey  [3]string
	listedAt time.Time
}

// processorRound is the Processor's UpdateInterval for a load-balancing interval: rounds come
// every quarter second (0.2–0.33 s with the SDK's jitter), but only one in every interval lists
// the ownership blobs (see ListOwnership); the others cost no request and a few microseconds of
// CPU. A partition whose owner stopped renewing is then claimed within a third of a second of its
// expiry, not up to 1.3 intervals later (issue 24: 35 s after a kill at the defaults with 10 s
// rounds, 30–31 s with 1 s rounds, the expiry plus at most about half a second now).
func processorRound(interval time.Duration) time.Duration {
	return min(interval, 250*time.Millisecond)
}

var _ azeventhubs.CheckpointStore = (*store)(nil)

func newStore(cc *container.Client, ownerID string, interval, expiry time.Duration) (*store, error) {
	bs, err := checkpoints.NewBlobStore(cc, nil)
	if err != nil {
		return nil, fmt.Errorf("eventhubs: checkpoint store: %w", err)
	}
	return &store{inner: bs, cc: cc, ownerID: ownerID, interval: interval, expiry: expiry,
		others: map[string]string{}, mine: map[string]azeventhubs.Ownership{}}, nil
}

// renewDue reports whether an ownership written age ago must be renewed in this round: once it
// is within a load-balancing interval of its expiry — or within the longest gap to the next round
// (the Processor's jitter makes a round 0.8–1.3 × processorRound) with a sixth of the expiration to
// spare, if that is longer. At the defaults (10 s, 30 s, rounds of a quarter second) an ownership is rewritten
// when it is 20 s old, which leaves a whole interval for a failed renewal to be retried, and makes
// a third of the writes of renewing every round; a killed host's ownership still expires at most
// expiry after its last write.
func renewDue(age, interval, expiry time.Duration) bool {
	return age+max(interval, processorRound(interval)*13/10+expiry/6) >= expiry
}

// observe records what a listing of the ownership blobs showed (the Processor lists them every
// load-balancing round): partitions another owner holds now.
func (s *store) observe(owns []azeventhubs.Ownership) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range owns {
		if o.OwnerID != s.ownerID && o.OwnerID != "" {
			s.others[o.PartitionID] = o.OwnerID
			delete(s.mine, o.PartitionID)
		} else {
			delete(s.others, o.PartitionID)
			if o.OwnerID == s.ownerID {
				s.mine[o.PartitionID] = o
			} else {
				delete(s.mine, o.PartitionID)
			}
		}
	}
}

// claimed forgets an earlier owner of pid: the Processor has just claimed it for this trigger.
func (s *store) claimed(pid string) {
	s.mu.Lock()
	delete(s.others, pid)
	s.mu.Unlock()
}

// lostTo reports the other owner of pid when the last listing showed one.
func (s *store) lostTo(pid string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.others[pid]
	return o, ok
}

func lower(fqns, hub, group string) (string, string, string) {
	return strings.ToLower(fqns), strings.ToLower(hub), strings.ToLower(group)
}

// ClaimOwnership implements azeventhubs.CheckpointStore. A renewal of an ownership this trigger
// wrote recently (the listing still shows it, same ETag) is skipped (renewDue): it is returned as
// it stands.
func (s *store) ClaimOwnership(ctx context.Context, owns []azeventhubs.Ownership, opts *azeventhubs.ClaimOwnershipOptions) ([]azeventhubs.Ownership, error) {
	if len(owns) == 0 {
		return nil, nil
	}
	orig := owns[0]
	var kept []azeventhubs.Ownership
	var low []azeventhubs.Ownership
	s.mu.Lock()
	for _, o := range owns {
		if m, ok := s.mine[o.PartitionID]; ok && o.OwnerID == s.ownerID && o.ETag != nil && m.ETag != nil && *m.ETag == *o.ETag &&
			!renewDue(time.Since(m.LastModifiedTime), s.interval, s.expiry) {
			kept = append(kept, o)
			continue
		}
		o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup = lower(o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup)
		low = append(low, o)
	}
	s.mu.Unlock()
	var got []azeventhubs.Ownership
	var err error
	if len(low) > 0 {
		got, err = s.inner.ClaimOwnership(ctx, low, opts)
		for i := range got {
			got[i].FullyQualifiedNamespace, got[i].EventHubName, got[i].ConsumerGroup = orig.FullyQualifiedNamespace, orig.EventHubName, orig.ConsumerGroup
		}
	}
	if err != nil {
		s.mu.Lock()
		s.listed = nil
		s.mu.Unlock()
		return got, err
	}
	s.claimedInListing(low, got)
	s.observe(got)
	return append(kept, got...), nil
}

// ListOwnership implements azeventhubs.CheckpointStore. The blobs are listed when the last listing
// is a load-balancing interval old, or when it shows a partition nobody owns or another owner's
// ownership past its expiry (the Processor would claim it); otherwise the last listing is
// returned as it stands with this store's claims since applied, so the Processor's frequent
// rounds (processorRound) cost a request only as often as the configured interval.
func (s *store) ListOwnership(ctx context.Context, fqns, hub, group string, opts *azeventhubs.ListOwnershipOptions) ([]azeventhubs.Ownership, error) {
	lf, lh, lg := lower(fqns, hub, group)
	got, ok := s.cachedListing([3]string{lf, lh, lg})
	if !ok {
		var err error
		got, err = s.inner.ListOwnership(ctx, lf, lh, lg, opts)
		if err != nil {
			return got, err
		}
		s.mu.Lock()
		s.listed, s.listKey, s.listedAt = slices.Clone(got), [3]string{lf, lh, lg}, time.Now()
		s.mu.Unlock()
		s.observe(got)
	}
	for i := range got {
		got[i].FullyQualifiedNamespace, got[i].EventHubName, got[i].ConsumerGroup = fqns, hub, group
	}
	return got, nil
}

// cachedListing returns a copy of the last listing when it may stand for a new one.
func (s *store) cachedListing(key [3]string) ([]azeventhubs.Ownership, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listed == nil || s.listKey != key || time.Since(s.listedAt) >= s.interval {
		return nil, false
	}
	for _, o := range s.listed {
		if o.OwnerID == "" || o.OwnerID != s.ownerID && time.Since(o.LastModifiedTime) > s.expiry {
			return nil, false
		}
	}
	return slices.Clone(s.listed), true
}

// claimedInListing applies the ownerships a claim wrote to the kept listing; a claim that was
// refused (another owner was first) makes the next round list the blobs again.
func (s *store) claimedInListing(asked, got []azeventhubs.Ownership) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listed == nil {
		return
	}
	if len(got) < len(asked) {
		s.listed = nil
		return
	}
	for _, o := range got {
		o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup = lower(o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup)
		if [3]string{o.FullyQualifiedNamespace, o.EventHubName, o.ConsumerGroup} != s.listKey {
			continue
		}
		i := slices.IndexFunc(s.listed, func(l azeventhubs.Ownership) bool { return l.PartitionID == o.PartitionID })
		if i < 0 {
			s.listed = append(s.listed, o)
		} else {
			s.listed[i] = o
		}
	}
}

// SetCheckpoint implements azeventhubs.CheckpointStore.
func (s *store) SetCheckpoint(ctx context.Context, cp azeventhubs.Checkpoint, opts *azeventhubs.SetCheckpointOptions) error {
	cp.FullyQualifiedNamespace, cp.EventHubName, cp.ConsumerGroup = lower(cp.FullyQualifiedNamespace, cp.EventHubName, cp.ConsumerGroup)
	return s.inner.SetCheckpoint(ctx, cp, opts)
}

// ListCheckpoints implements azeventhubs.CheckpointStore: current checkpoints, then legacy v4 ones
// for partitions that have no current checkpoint.
func (s *store) ListCheckpoints(ctx context.Context, fqns, hub, group string, opts *azeventhubs.ListCheckpointsOptions) ([]azeventhubs.Checkpoint, error) {
	lf, lh, lg := lower(fqns, hub, group)
	got, err := s.inner.ListCheckpoints(ctx, lf, lh, lg, opts)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for i := range got {
		got[i].FullyQualifiedNamespace, got[i].EventHubName, got[i].ConsumerGroup = fqns, hub, group
		if got[i].Offset != nil && *got[i].Offset == "" {
			// Functions writes offset "" when it positions by sequence number only (geo-replicated
			// namespaces); the Processor must then start from the sequence number.
			got[i].Offset = nil
		}
		have[got[i].PartitionID] = true
	}
	legacy, err := s.legacyCheckpoints(ctx, fqns, hub, group, have)
	if err != nil {
		return nil, err
	}
	return append(got, legacy...), nil
}

// legacyCheckpoint is the body of a v4 (EventProcessorHost) checkpoint blob.
type legacyCheckpoint struct {
	PartitionID    string  `json:"PartitionId"`
	Offset         *string `json:"Offset"`
	SequenceNumber *int64  `json:"SequenceNumber"`
}

// legacyCheckpoints reads <fqns>/<hub>/<group>/<partition> blobs (names as given, as the v4
// extension wrote them) for partitions not in have. Unreadable ones are ignored, as Functions does.
func (s *store) legacyCheckpoints(ctx context.Context, fqns, hub, group string, have map[string]bool) ([]azeventhubs.Checkpoint, error) {
	prefix := fmt.Sprintf("%s/%s/%s/", fqns, hub, group)
	pager := s.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	var out []azeventhubs.Checkpoint
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return nil, nil
			}
			return nil, fmt.Errorf("eventhubs: listing legacy checkpoints: %w", err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil {
				continue
			}
			pid := strings.TrimPrefix(*b.Name, prefix)
			if pid == "" || strings.Contains(pid, "/") || have[pid] {
				continue
			}
			cp, ok := s.readLegacy(ctx, *b.Name)
			if !ok {
				continue
			}
			out = append(out, azeventhubs.Checkpoint{FullyQualifiedNamespace: fqns, EventHubName: hub, ConsumerGroup: group, PartitionID: pid,
				Offset: cp.Offset, SequenceNumber: cp.SequenceNumber})
		}
	}
	return out, nil
}

func (s *store) readLegacy(ctx context.Context, name string) (legacyCheckpoint, bool) {
	resp, err := s.cc.NewBlobClient(name).DownloadStream(ctx, nil)
	if err != nil {
		return legacyCheckpoint{}, false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return legacyCheckpoint{}, false
	}
	var cp legacyCheckpoint
	if json.Unmarshal(raw, &cp) != nil || cp.Offset == nil || *cp.Offset == "" || cp.SequenceNumber == nil {
		return legacyCheckpoint{}, false
	}
	return cp, true
}

// owns reports whether ownerID still owns partition pid: one HEAD of its ownership blob.
func (s *store) owns(ctx context.Context, fqns, hub, group, pid, ownerID string) (bool, error) {
	lf, lh, lg := lower(fqns, hub, group)
	props, err := s.cc.NewBlobClient(fmt.Sprintf("%s/%s/%s/ownership/%s", lf, lh, lg, pid)).GetProperties(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return false, nil
		}
		return false, err
	}
	for k, v := range props.Metadata {
		if strings.EqualFold(k, "ownerid") {
			return v != nil && *v == ownerID, nil
		}
	}
	return false, nil
}

// checkpointMap returns the checkpoints by partition.
func (s *store) checkpointMap(ctx context.Context, fqns, hub, group string) (map[string]azeventhubs.Checkpoint, error) {
	list, err := s.ListCheckpoints(ctx, fqns, hub, group, nil)
	if err != nil {
		return nil, err
	}
	m := make(map[string]azeventhubs.Checkpoint, len(list))
	for _, cp := range list {
		m[cp.PartitionID] = cp
	}
	return m, nil
}
