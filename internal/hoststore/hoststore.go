// Package hoststore is the host's durable storage: driver.HostStorage on a blob container
// (azure-webjobs-hosts in AzureWebJobsStorage, the real host's layout). The runtime uses it by
// default whenever AzureWebJobsStorage resolves.
package hoststore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// Store implements driver.HostStorage on a blob container (azure-webjobs-hosts in
// AzureWebJobsStorage): a key is a blob name, a record's Data its content, its Metadata the
// blob's metadata (names must be valid C# identifiers; they come back in Go's canonical header
// case, e.g. "Functioninstance", so compare them case-insensitively), and ETag conditions map to
// the service's If-Match / If-None-Match. The container is created on the first write.
type Store struct {
	c       *container.Client
	created atomic.Bool
}

var _ driver.HostStorage = (*Store)(nil)

// New returns a Store on c.
func New(c *container.Client) *Store { return &Store{c: c} }

// mapErr maps storage errors to driver.ErrNotFound / ErrConflict.
func (h *Store) mapErr(op, key string, err error) error {
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) || isStatus(err, 404):
		return fmt.Errorf("host storage %s %q: %w", op, key, driver.ErrNotFound)
	case isStatus(err, 409) || isStatus(err, 412):
		return fmt.Errorf("host storage %s %q: %w (%v)", op, key, driver.ErrConflict, errorCode(err))
	}
	return fmt.Errorf("host storage %s %q: %w", op, key, err)
}

func errorCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}

func etagString(e *azcore.ETag) string {
	if e == nil || *e == "" {
		return ""
	}
	if s := string(*e); strings.HasPrefix(s, "\"") {
		return s
	}
	return "\"" + string(*e) + "\""
}

func metadataMap(md map[string]*string) map[string]string {
	out := make(map[string]string, len(md))
	for k, v := range md {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Get implements driver.HostStorage.
func (h *Store) Get(ctx context.Context, key string) (driver.Record, error) {
	resp, err := h.c.NewBlobClient(key).DownloadStream(ctx, nil)
	if err != nil {
		return driver.Record{}, h.mapErr("get", key, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return driver.Record{}, fmt.Errorf("host storage get %q: %w", key, err)
	}
	var md map[string]string
	if len(resp.Metadata) > 0 {
		md = metadataMap(resp.Metadata)
	}
	return driver.Record{Data: data, Metadata: md, ETag: etagString(resp.ETag)}, nil
}

// Put implements driver.HostStorage.
func (h *Store) Put(ctx context.Context, key string, rec driver.Record, cond driver.Cond) (string, error) {
	opts := &blockblob.UploadOptions{}
	if len(rec.Metadata) > 0 {
		opts.Metadata = make(map[string]*string, len(rec.Metadata))
		for k, v := range rec.Metadata {
			opts.Metadata[k] = &v
		}
	}
	if cond.IfMatch != "" || cond.IfNoneMatch {
		mac := &sdkblob.ModifiedAccessConditions{}
		if cond.IfMatch != "" {
			e := azcore.ETag(cond.IfMatch)
			mac.IfMatch = &e
		}
		if cond.IfNoneMatch {
			e := azcore.ETagAny
			mac.IfNoneMatch = &e
		}
		opts.AccessConditions = &sdkblob.AccessConditions{ModifiedAccessConditions: mac}
	}
	bb := h.c.NewBlockBlobClient(key)
	for attempt := 0; ; attempt++ {
		resp, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(rec.Data)), opts)
		if err == nil {
			h.created.Store(true)
			return etagString(resp.ETag), nil
		}
		if attempt == 0 && bloberror.HasCode(err, bloberror.ContainerNotFound) {
			if cerr := h.ensureContainer(ctx); cerr != nil {
				return "", cerr
			}
			continue
		}
		if cond.IfMatch != "" && (bloberror.HasCode(err, bloberror.BlobNotFound) || isStatus(err, 404)) {
			return "", fmt.Errorf("host storage put %q: the record does not exist: %w", key, driver.ErrConflict)
		}
		return "", h.mapErr("put", key, err)
	}
}

func (h *Store) ensureContainer(ctx context.Context) error {
	if _, err := h.c.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("host storage: create container: %w", err)
	}
	h.created.Store(true)
	return nil
}

// Delete implements driver.HostStorage.
func (h *Store) Delete(ctx context.Context, key string, cond driver.Cond) error {
	var opts *sdkblob.DeleteOptions
	if cond.IfMatch != "" {
		e := azcore.ETag(cond.IfMatch)
		opts = &sdkblob.DeleteOptions{AccessConditions: &sdkblob.AccessConditions{ModifiedAccessConditions: &sdkblob.ModifiedAccessConditions{IfMatch: &e}}}
	}
	if _, err := h.c.NewBlobClient(key).Delete(ctx, opts); err != nil {
		return h.mapErr("delete", key, err)
	}
	return nil
}

// List implements driver.HostStorage.
func (h *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	pager := h.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: nilIfEmpty(prefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if bloberror.HasCode(err, bloberror.ContainerNotFound) {
				return nil, nil
			}
			return nil, fmt.Errorf("host storage list %q: %w", prefix, err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name != nil {
				out = append(out, *it.Name)
			}
		}
	}
	return out, nil
}

// Container is the real host's storage container in AzureWebJobsStorage.
const Container = "azure-webjobs-hosts"

// Open returns the Store in the azure-webjobs-hosts container of the resolved AzureWebJobsStorage
// connection (resolved for the blob service). Nothing is sent to the service until first use.
func Open(c *connection.Connection) (*Store, error) {
	sc, err := ServiceClient(c)
	if err != nil {
		return nil, fmt.Errorf("host storage: %w", err)
	}
	return New(sc.NewContainerClient(Container)), nil
}

// ServiceClient builds the blob service client of a connection resolved for the blob service:
// the one place a storage connection becomes an azblob client (the blob connector, host storage
// and the Event Hubs checkpoint store use it). Errors never carry the connection's secrets.
// perCall policies are added after the connection's own (the blob scanner's streaming listing).
func ServiceClient(c *connection.Connection, perCall ...policy.Policy) (*service.Client, error) {
	co := c.SDKOptions()
	if len(perCall) > 0 {
		co.PerCallPolicies = append(slices.Clip(co.PerCallPolicies), perCall...)
	}
	opts := &service.ClientOptions{ClientOptions: co}
	switch c.Kind {
	case connection.KindConnectionString:
		sc, err := service.NewClientFromConnectionString(c.ConnectionString, opts)
		if err != nil {
			return nil, fmt.Errorf("connection %q (%s): blob client: %w", c.Name, c.Key, c.RedactError(err))
		}
		return sc, nil
	case connection.KindIdentity:
		if c.Endpoint == "" {
			return nil, &driver.ConfigError{Where: "connection " + c.Name, Problem: "no blob endpoint", Fix: fmt.Sprintf("set %s__blobServiceUri (or __serviceUri / __accountName)", c.Name)}
		}
		sc, err := service.NewClient(c.Endpoint, c.Credential, opts)
		if err != nil {
			return nil, fmt.Errorf("connection %q (%s): blob client for %s: %w", c.Name, c.Key, c.Endpoint, err)
		}
		return sc, nil
	}
	return nil, &driver.ConfigError{Where: "connection " + c.Name, Problem: fmt.Sprintf("unsupported connection kind %q for blob storage", c.Kind)}
}
