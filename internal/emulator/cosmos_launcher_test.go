package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

func feedContainer(t *testing.T, c *CosmosFeed, pkPath string) *azcosmos.ContainerClient {
	t.Helper()
	ctx := context.Background()
	client, err := azcosmos.NewClientFromConnectionString(c.ConnectionString, &azcosmos.ClientOptions{
		ClientOptions: policy.ClientOptions{Transport: c.HTTPClient},
	})
	if err != nil {
		t.Fatal(err)
	}
	db := strings.ReplaceAll(t.Name(), "/", "-")
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: db}, nil); err != nil {
		t.Fatal(err)
	}
	dbc, _ := client.NewDatabase(db)
	if _, err := dbc.CreateContainer(ctx, azcosmos.ContainerProperties{ID: "items",
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{pkPath}}}, nil); err != nil {
		t.Fatal(err)
	}
	cc, err := dbc.NewContainer("items")
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func upsert(t *testing.T, cc *azcosmos.ContainerClient, pk, id string, n int) {
	t.Helper()
	doc := fmt.Appendf(nil, `{"id":%q,"pk":%q,"n":%d}`, id, pk, n)
	if _, err := cc.UpsertItem(context.Background(), azcosmos.NewPartitionKeyString(pk), doc, nil); err != nil {
		t.Fatalf("upsert %s/%s: %v", pk, id, err)
	}
}

type feedDoc struct {
	ID  string `json:"id"`
	PK  string `json:"pk"`
	N   int    `json:"n"`
	LSN int64  `json:"_lsn"`
}

// readFeed reads one page of the change feed of fr from continuation cont ("" = beginning).
func readFeed(t *testing.T, cc *azcosmos.ContainerClient, fr azcosmos.FeedRange, cont string, max int32) ([]feedDoc, string, int) {
	t.Helper()
	opts := &azcosmos.ChangeFeedOptions{MaxItemCount: max}
	if cont == "" {
		opts.FeedRange = &fr
	} else {
		opts.Continuation = &cont
	}
	resp, err := cc.ReadChangeFeed(context.Background(), opts)
	if err != nil {
		t.Fatalf("ReadChangeFeed: %v", err)
	}
	var docs []feedDoc
	for _, it := range resp.Items {
		var d feedDoc
		if err := json.Unmarshal(it, &d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs, resp.ContinuationToken, resp.RawResponse.StatusCode
}

func ids(docs []feedDoc) string {
	var s []string
	for _, d := range docs {
		s = append(s, fmt.Sprintf("%s:%d", d.ID, d.N))
	}
	return strings.Join(s, ",")
}

// azcosmos reads the launcher's change feed incrementally: everything from the beginning, then
// 304, then only what changed (the new version of an updated document), page by page with
// MaxItemCount, in LSN order.
func TestCosmosFeedIncremental(t *testing.T) {
	c := StartCosmosFeed(t, nil)
	cc := feedContainer(t, c, "/pk")
	ranges, err := cc.ReadFeedRanges(context.Background(), nil)
	if err != nil {
		t.Fatalf("ReadFeedRanges: %v", err)
	}
	if len(ranges) != 1 || ranges[0].MinInclusive != "" || ranges[0].MaxExclusive != "FF" {
		t.Fatalf("feed ranges %+v, want one [\"\", FF)", ranges)
	}
	for i := range 4 {
		upsert(t, cc, "a", fmt.Sprintf("d%d", i), i)
	}
	docs, cont, status := readFeed(t, cc, ranges[0], "", 3)
	if status != 200 || ids(docs) != "d0:0,d1:1,d2:2" {
		t.Fatalf("first page: %d %s", status, ids(docs))
	}
	docs, cont, status = readFeed(t, cc, ranges[0], cont, 3)
	if status != 200 || ids(docs) != "d3:3" {
		t.Fatalf("second page: %d %s", status, ids(docs))
	}
	docs, cont2, status := readFeed(t, cc, ranges[0], cont, 3)
	if status != http.StatusNotModified || len(docs) != 0 {
		t.Fatalf("nothing new: %d %s, want 304", status, ids(docs))
	}
	upsert(t, cc, "a", "d1", 10)
	upsert(t, cc, "b", "d9", 9)
	docs, cont, status = readFeed(t, cc, ranges[0], cont2, 0)
	if status != 200 || ids(docs) != "d1:10,d9:9" {
		t.Fatalf("after an update and a create: %d %s", status, ids(docs))
	}
	if docs[0].LSN >= docs[1].LSN {
		t.Fatalf("LSNs not increasing: %+v", docs)
	}
	if _, _, status = readFeed(t, cc, ranges[0], cont, 0); status != http.StatusNotModified {
		t.Fatalf("status %d, want 304", status)
	}
	// A partition key scopes the feed.
	pk := azcosmos.NewPartitionKeyString("b")
	resp, err := cc.ReadChangeFeed(context.Background(), &azcosmos.ChangeFeedOptions{FeedRange: &ranges[0], PartitionKey: &pk})
	if err != nil || len(resp.Items) != 1 || !strings.Contains(string(resp.Items[0]), `"d9"`) {
		t.Fatalf("feed for pk b: %v %q", err, resp.Items)
	}
	// StartFrom (If-Modified-Since) without a continuation: a time after every write gives nothing.
	later := time.Now().Add(2 * time.Second)
	resp, err = cc.ReadChangeFeed(context.Background(), &azcosmos.ChangeFeedOptions{FeedRange: &ranges[0], StartFrom: &later})
	if err != nil || len(resp.Items) != 0 {
		t.Fatalf("feed from the future: %v %d items", err, len(resp.Items))
	}
}

// With several ranges, every document is in exactly one range's feed.
func TestCosmosFeedRanges(t *testing.T) {
	c := StartCosmosFeed(t, &CosmosFeedOptions{Ranges: 4})
	cc := feedContainer(t, c, "/pk")
	ranges, err := cc.ReadFeedRanges(context.Background(), nil)
	if err != nil {
		t.Fatalf("ReadFeedRanges: %v", err)
	}
	if len(ranges) != 4 || ranges[0].MinInclusive != "" || ranges[3].MaxExclusive != "FF" || ranges[0].MaxExclusive != ranges[1].MinInclusive {
		t.Fatalf("feed ranges %+v", ranges)
	}
	const n = 40
	for i := range n {
		upsert(t, cc, fmt.Sprintf("p%d", i), fmt.Sprintf("d%d", i), i)
	}
	seen := map[string]int{}
	nonEmpty := 0
	for _, fr := range ranges {
		docs, _, _ := readFeed(t, cc, fr, "", 0)
		if len(docs) > 0 {
			nonEmpty++
		}
		for _, d := range docs {
			seen[d.ID]++
		}
	}
	if len(seen) != n || nonEmpty < 2 {
		t.Fatalf("%d distinct documents over %d non-empty ranges, want %d over at least 2", len(seen), nonEmpty, n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("%s in %d ranges", id, k)
		}
	}
}

// The stock server's gaps the launcher closes: 404 for a missing item, queries scoped to their
// partition key, 412 for a stale If-Match; and HTTPS only trusts our CA.
func TestCosmosFeedFixes(t *testing.T) {
	c := StartCosmosFeed(t, nil)
	cc := feedContainer(t, c, "/pk")
	ctx := context.Background()
	_, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "missing", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Fatalf("read of a missing item: %v, want 404", err)
	}
	upsert(t, cc, "a", "x", 1)
	upsert(t, cc, "b", "y", 2)
	pager := cc.NewQueryItemsPager("SELECT * FROM c WHERE c.n >= @min", azcosmos.NewPartitionKeyString("a"),
		&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@min", Value: 0}}})
	var got []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var d feedDoc
			_ = json.Unmarshal(it, &d)
			got = append(got, d.ID)
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "x" {
		t.Fatalf("query scoped to pk a returned %v", got)
	}
	item, err := cc.ReadItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	stale := azcore.ETag("stale")
	_, err = cc.ReplaceItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", []byte(`{"id":"x","pk":"a","n":2}`), &azcosmos.ItemOptions{IfMatchEtag: &stale})
	if !errors.As(err, &re) || re.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("replace with a stale etag: %v, want 412", err)
	}
	if _, err = cc.ReplaceItem(ctx, azcosmos.NewPartitionKeyString("a"), "x", []byte(`{"id":"x","pk":"a","n":2}`), &azcosmos.ItemOptions{IfMatchEtag: &item.ETag}); err != nil {
		t.Fatalf("replace with the current etag: %v", err)
	}
	// The system trust store does not know our CA.
	resp, err := http.Get(c.Endpoint)
	if err == nil {
		resp.Body.Close()
		t.Fatal("plain HTTPS client trusted the launcher's certificate")
	}
	if strings.Contains(fmt.Sprint(c), c.Key) || strings.Contains(fmt.Sprintf("%#v", c), c.Key) {
		t.Fatal("String prints the key")
	}
}

// If-None-Match: * ("from now") answers 304 with the current position; reading from it gives
// only later writes. PlainHTTP serves http:// to a client without a CA.
func TestCosmosFeedFromNowPlainHTTP(t *testing.T) {
	c := StartCosmosFeed(t, &CosmosFeedOptions{PlainHTTP: true})
	if !strings.HasPrefix(c.Endpoint, "http://") || c.CertPool != nil {
		t.Fatalf("endpoint %s, pool %v", c.Endpoint, c.CertPool)
	}
	cc := feedContainer(t, c, "/pk")
	upsert(t, cc, "a", "old", 1)
	now := `{"version":1,"resourceId":"","continuation":[{"minInclusive":"","maxExclusive":"FF","continuationToken":"*"}]}`
	resp, err := cc.ReadChangeFeed(context.Background(), &azcosmos.ChangeFeedOptions{Continuation: &now})
	if err != nil || resp.RawResponse.StatusCode != http.StatusNotModified || resp.ETag == "" {
		t.Fatalf("from now: %v, status %v etag %q", err, resp.RawResponse, resp.ETag)
	}
	upsert(t, cc, "a", "new", 2)
	docs, _, status := readFeed(t, cc, azcosmos.FeedRange{MinInclusive: "", MaxExclusive: "FF"}, resp.ContinuationToken, 0)
	if status != 200 || ids(docs) != "new:2" {
		t.Fatalf("after from-now: %d %s", status, ids(docs))
	}
}
