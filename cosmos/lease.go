package cosmos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// The lease store. Documents follow the layout of the Cosmos DB change-feed processor's
// EPK-based leases (azure-cosmos-dotnet-v3 DocumentServiceLeaseCoreEpk), so that they read the
// same in the lease container:
//
//	id                 <prefix>..<leaseToken>, prefix = leaseContainerPrefix + account host +
//	                   "_" + database rid + "_" + container rid (GetLeasePrefix)
//	version            1 (EPK range based)
//	LeaseToken         "<min>-<max>" of the feed range
//	FeedRange          {"Range":{"min":…,"max":…}}
//	Owner              the owning listener (a GUID, as Functions' instance names), "" when released
//	ContinuationToken  the change feed's etag after the last checkpointed batch ("" = not started)
//	timestamp          when the owner last acquired, renewed or checkpointed it (UTC)
//	properties         azbind.startFromTime when the trigger declared startFromTime;
//	                   azbind.hostId, the owner's host id
//
// plus <prefix>.info, written once every lease of the container exists (start options are then
// no longer applied). Every write is a create (409 if it exists) or a replace conditional on the
// document's ETag (412 when another host wrote it first).
type leaseDoc struct {
	ID                string            `json:"id"`
	Version           int               `json:"version"`
	LeaseToken        string            `json:"LeaseToken"`
	FeedRange         *leaseFeedRange   `json:"FeedRange,omitempty"`
	Owner             string            `json:"Owner"`
	ContinuationToken string            `json:"ContinuationToken"`
	Timestamp         time.Time         `json:"timestamp"`
	Properties        map[string]string `json:"properties"`
	ETag              azcore.ETag       `json:"_etag,omitempty"`
	TS                int64             `json:"_ts,omitempty"`
}

type leaseFeedRange struct {
	Range struct {
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"Range"`
}

const (
	propStartFromTime = "azbind.startFromTime"
	propHostID        = "azbind.hostId" // the host id of the lease's current owner
)

func (l *leaseDoc) feedRange() azcosmos.FeedRange {
	if l.FeedRange == nil {
		return azcosmos.FeedRange{MinInclusive: "", MaxExclusive: "FF"}
	}
	return azcosmos.FeedRange{MinInclusive: l.FeedRange.Range.Min, MaxExclusive: l.FeedRange.Range.Max}
}

// expired reports whether the lease has no live owner at now.
func (l *leaseDoc) expired(now time.Time, expiration time.Duration) bool {
	if l.Owner == "" {
		return true
	}
	return now.Sub(l.renewed()) > expiration
}

// renewed is when the lease was last written by its owner.
func (l *leaseDoc) renewed() time.Time {
	ts := l.Timestamp
	if ts.IsZero() && l.TS > 0 {
		ts = time.Unix(l.TS, 0)
	}
	return ts
}

type leaseStore struct {
	cc     *azcosmos.ContainerClient
	prefix string
}

// leasePrefix is GetLeasePrefix: processor name, account host, database and container rids.
func leasePrefix(processor, endpoint, dbRID, collRID string) string {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	clean := func(s string) string { return strings.NewReplacer("/", "-", "\\", "-", "?", "-", "#", "-").Replace(s) }
	return processor + clean(host) + "_" + clean(dbRID) + "_" + clean(collRID)
}

func (s *leaseStore) infoID() string { return s.prefix + ".info" }

func (s *leaseStore) leaseID(token string) string { return s.prefix + ".." + token }

func pkOf(id string) azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(id) }

// initialized reports whether the .info marker exists.
func (s *leaseStore) initialized(ctx context.Context) (bool, error) {
	_, err := s.cc.ReadItem(ctx, pkOf(s.infoID()), s.infoID(), nil)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, err
}

func (s *leaseStore) markInitialized(ctx context.Context) error {
	b, _ := json.Marshal(map[string]any{"id": s.infoID(), "timestamp": time.Now().UTC()})
	if _, err := s.cc.CreateItem(ctx, pkOf(s.infoID()), b, nil); err != nil && !isConflict(err) {
		return err
	}
	return nil
}

// create writes a new lease; an existing one is left alone (created=false).
func (s *leaseStore) create(ctx context.Context, l *leaseDoc) (created bool, err error) {
	b, err := json.Marshal(l)
	if err != nil {
		return false, err
	}
	if _, err := s.cc.CreateItem(ctx, pkOf(l.ID), b, nil); err != nil {
		if isConflict(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// list returns every lease of this processor (not the .info marker).
func (s *leaseStore) list(ctx context.Context) ([]*leaseDoc, error) {
	pager := s.cc.NewQueryItemsPager("SELECT * FROM c WHERE STARTSWITH(c.id, @prefix)", azcosmos.NewPartitionKey(),
		&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@prefix", Value: s.prefix + ".."}}})
	var out []*leaseDoc
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			var l leaseDoc
			if err := json.Unmarshal(it, &l); err != nil {
				return nil, fmt.Errorf("lease document: %w", err)
			}
			out = append(out, &l)
		}
	}
	return out, nil
}

func (s *leaseStore) read(ctx context.Context, id string) (*leaseDoc, error) {
	resp, err := s.cc.ReadItem(ctx, pkOf(id), id, nil)
	if err != nil {
		return nil, err
	}
	var l leaseDoc
	if err := json.Unmarshal(resp.Value, &l); err != nil {
		return nil, fmt.Errorf("lease document %s: %w", id, err)
	}
	if l.ETag == "" {
		l.ETag = resp.ETag
	}
	return &l, nil
}

// replace writes l if its ETag is still current and returns the stored document (new ETag).
// A 412 means another host wrote the lease since l was read.
func (s *leaseStore) replace(ctx context.Context, l *leaseDoc) (*leaseDoc, error) {
	etag := l.ETag
	c := *l
	c.ETag, c.TS = "", 0
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	resp, err := s.cc.ReplaceItem(ctx, pkOf(l.ID), l.ID, b, &azcosmos.ItemOptions{IfMatchEtag: &etag, EnableContentResponseOnWrite: true})
	if err != nil {
		return nil, err
	}
	var out leaseDoc
	if len(resp.Value) > 0 && json.Unmarshal(resp.Value, &out) == nil && out.ID != "" {
		if out.ETag == "" {
			out.ETag = resp.ETag
		}
		return &out, nil
	}
	c.ETag = resp.ETag
	return &c, nil
}
