package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/queueerror"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/eventgrid"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/extension/expr"
	"github.com/azbind/azbind/internal/hoststore"
	"github.com/azbind/azbind/queue"
)

type trigger struct {
	fnName  string
	fnID    string
	hostID  string
	where   string
	pattern *expr.Pattern
	svc     *service.Client
	qsvc    *azqueue.ServiceClient
	account string
	kind    paramKind
	opts    Options
	start   startFrom
	state   *hostState
	log     *slog.Logger
	hostLog *slog.Logger
	bconn   *connection.Connection
	qconnC  *connection.Connection

	// eventGrid: source EventGrid — Event Grid BlobCreated events posted to the host's blobs
	// webhook hand blobs over instead of container scans (eventgrid.go).
	eventGrid bool
	host      *driver.Services
	// handOverHook, when set (tests), runs before each Event Grid hand-over's enqueue; its
	// error fails the hand-over.
	handOverHook func(ctx context.Context, m *Message) error
}

func newTrigger(ctx context.Context, bc *driver.BindContext) (driver.Trigger, error) {
	var cfg struct {
		Path      string `binding:"path,required"`
		Source    string `binding:"source"`
		StartFrom string `binding:"startFrom"`
	}
	if err := bc.Decode(&cfg); err != nil {
		return nil, err
	}
	eventGrid := false
	switch strings.ToLower(cfg.Source) {
	case "", "logsandcontainerscan":
	case "eventgrid":
		eventGrid = true
	default:
		return nil, bc.Errorf("source", `use "LogsAndContainerScan" (default) or "EventGrid"`, "%q is not valid", cfg.Source)
	}
	pat, err := expr.ParsePattern(cfg.Path)
	if err != nil {
		return nil, bc.Errorf("path", "", "%w", err)
	}
	var opts Options
	if err := bc.DecodeConfig(&opts); err != nil {
		return nil, err
	}
	if err := opts.normalize(bc.Host.Concurrency, "host.json"); err != nil {
		return nil, err
	}
	sf := opts.StartFrom
	where := "host.json: extensions.blobs"
	if cfg.StartFrom != "" {
		sf, where = cfg.StartFrom, bc.Spec.Where
	}
	start, err := parseStartFrom(sf, where)
	if err != nil {
		return nil, err
	}
	if bc.Host.HostID == "" {
		return nil, bc.Errorf("", "", "the blob trigger needs the host ID (receipts and its internal queue are per host ID)")
	}
	if eventGrid {
		if err := eventgrid.CheckSystemKey(bc.Host, blobsKeyName); err != nil {
			return nil, err
		}
	}
	c, err := bc.Connection(ctx, connection.Blob)
	if err != nil {
		return nil, err
	}
	svc, err := NewServiceClient(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bc.Spec.Where, err)
	}
	qc, err := queueConnection(ctx, bc)
	if err != nil {
		return nil, err
	}
	qsvc, err := queue.NewServiceClient(qc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bc.Spec.Where, err)
	}
	log := bc.Host.Logger
	state, err := stateFor(ctx, bc.Host)
	if err != nil {
		return nil, err
	}
	t := &trigger{
		fnName: bc.Function, fnID: FunctionID(bc.Function), hostID: bc.Host.HostID, where: bc.Spec.Where,
		pattern: pat, svc: svc, qsvc: qsvc, account: accountKey(svc.URL()), kind: kindOf(bc.Param, bc.Spec),
		opts: opts, start: start, state: state,
		log: log.With("function", bc.Function, "trigger", "blobTrigger"), hostLog: log,
		bconn: c, qconnC: qc, eventGrid: eventGrid, host: bc.Host,
	}
	return t, nil
}

// BindingData implements driver.BindingDataContract (checklist C29).
func (t *trigger) BindingData() []string {
	return append([]string{"BlobTrigger", "Uri", "Properties", "Metadata"}, t.pattern.Captures()...)
}

// Run implements driver.Trigger.
func (t *trigger) Run(ctx context.Context, exec driver.Executor) error {
	iq := t.qsvc.NewQueueClient(InternalQueueName(t.hostID))
	if err := createQueue(ctx, iq); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
			// Refused (authorization, bad account…): the trigger cannot work at all.
			return fmt.Errorf("%s: blob trigger: create internal queue %s: %w", t.where, InternalQueueName(t.hostID), err)
		}
		// Unreachable for now: hand-overs create the queue when they first enqueue, and the
		// listener polls until it exists.
		t.log.Warn("blob trigger: could not create the internal queue yet; retrying as work arrives", "queue", InternalQueueName(t.hostID), "error", err)
	}
	_, releaseD := acquireDispatcher(t, iq, exec)
	defer releaseD()
	if t.eventGrid {
		return t.runEventGrid(ctx, iq)
	}

	key := t.scanKey()
	w := &watch{fnID: t.fnID, pattern: t.pattern, start: t.start, enqueue: func(ctx context.Context, m *Message) error {
		return queue.Enqueue(ctx, t.state.hub, iq, m.encode())
	}, fail: make(chan error, 1)}
	_, releaseS := acquireScanner(t.state, key, func() *scanner {
		hosts := t.svc.NewContainerClient(HostsContainer)
		// The listing client decodes pages as they stream in (liststream.go); the same
		// connection gave t.svc, so this cannot fail where that did not.
		lsvc, err := hoststore.ServiceClient(t.bconn, streamListPolicy{})
		if err != nil {
			lsvc = t.svc
		}
		return &scanner{
			cc: lsvc.NewContainerClient(t.pattern.Container()), hosts: hosts, rc: &receipts{hosts: hosts},
			interval: t.opts.PollingInterval, idle: t.opts.MaxScanInterval, workers: 16, log: t.hostLog.With("trigger", "blobTrigger", "container", t.pattern.Container()),
		}
	}, w)
	defer releaseS()
	select {
	case <-ctx.Done():
		return nil
	case err := <-w.fail:
		return fmt.Errorf("%s: blob trigger: listing container %q failed with an error that retrying cannot clear: %w: %w", t.where, t.pattern.Container(), err, driver.ErrPermanent)
	}
}

func createQueue(ctx context.Context, q *azqueue.QueueClient) error {
	_, err := q.Create(ctx, nil)
	if err != nil && !queueerror.HasCode(err, queueerror.QueueAlreadyExists) {
		return err
	}
	return nil
}

// Properties are the blob's properties as binding data (checklist C29: {Properties.ContentType}…).
type Properties struct {
	ContentType        string    `json:"ContentType"`
	ContentEncoding    string    `json:"ContentEncoding,omitempty"`
	ContentLanguage    string    `json:"ContentLanguage,omitempty"`
	ContentDisposition string    `json:"ContentDisposition,omitempty"`
	CacheControl       string    `json:"CacheControl,omitempty"`
	ContentMD5         []byte    `json:"ContentMD5,omitempty"`
	ContentLength      int64     `json:"ContentLength"`
	ETag               string    `json:"ETag"`
	LastModified       time.Time `json:"LastModified"`
	CreatedOn          time.Time `json:"CreatedOn"`
	BlobType           string    `json:"BlobType"`
}

func metadataMap(md map[string]*string) map[string]string {
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[k] = deref(v)
	}
	return out
}

// process runs one trigger message for this function (BlobQueueTriggerExecutor).
func (t *trigger) process(ctx context.Context, exec driver.Executor, m *Message, dequeueCount int64) driver.Result {
	log := t.log.With("container", m.ContainerName, "blob", m.BlobName, "dequeue_count", dequeueCount)
	if m.ContainerName != t.pattern.Container() {
		log.Warn("blob trigger: message names another container; dropping it")
		return driver.Result{Status: driver.Succeeded}
	}
	caps, ok := t.pattern.Match(m.BlobName)
	if !ok {
		log.Warn("blob trigger: blob does not match the path pattern; dropping the message", "path", t.pattern.String())
		return driver.Result{Status: driver.Succeeded}
	}
	bc := t.svc.NewContainerClient(m.ContainerName).NewBlobClient(m.BlobName)
	var (
		data  any
		props Properties
		md    map[string]string
		body  io.ReadCloser
	)
	etag := azcore.ETag(m.ETag)
	switch t.kind {
	case kindStream, kindBytes:
		resp, err := bc.DownloadStream(ctx, &sdkblob.DownloadStreamOptions{AccessConditions: &sdkblob.AccessConditions{
			ModifiedAccessConditions: &sdkblob.ModifiedAccessConditions{IfMatch: &etag}}})
		if err != nil {
			return t.readFailed(log, err)
		}
		props = Properties{
			ContentType: deref(resp.ContentType), ContentEncoding: deref(resp.ContentEncoding), ContentLanguage: deref(resp.ContentLanguage),
			ContentDisposition: deref(resp.ContentDisposition), CacheControl: deref(resp.CacheControl), ContentMD5: resp.ContentMD5,
			ContentLength: deref(resp.ContentLength), ETag: etagString(resp.ETag), LastModified: deref(resp.LastModified),
			CreatedOn: deref(resp.CreationTime), BlobType: blobTypeName(resp.BlobType),
		}
		md = metadataMap(resp.Metadata)
		if t.kind == kindStream {
			rr := resp.NewRetryReader(ctx, nil)
			body, data = rr, rr
		} else {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return driver.Result{Status: driver.Failed, Err: fmt.Errorf("read blob %s/%s: %w", m.ContainerName, m.BlobName, err)}
			}
			data = b
		}
	default:
		resp, err := bc.GetProperties(ctx, nil)
		if err != nil {
			return t.readFailed(log, err)
		}
		if got := etagString(resp.ETag); got != m.ETag {
			return t.readFailed(log, errETagChanged)
		}
		props = Properties{
			ContentType: deref(resp.ContentType), ContentEncoding: deref(resp.ContentEncoding), ContentLanguage: deref(resp.ContentLanguage),
			ContentDisposition: deref(resp.ContentDisposition), CacheControl: deref(resp.CacheControl), ContentMD5: resp.ContentMD5,
			ContentLength: deref(resp.ContentLength), ETag: etagString(resp.ETag), LastModified: deref(resp.LastModified),
			CreatedOn: deref(resp.CreationTime), BlobType: blobTypeName(resp.BlobType),
		}
		md = metadataMap(resp.Metadata)
		cc := t.svc.NewContainerClient(m.ContainerName)
		switch t.kind {
		case kindBlob:
			data = bc
		case kindBlockBlob:
			data = cc.NewBlockBlobClient(m.BlobName)
		case kindContainer:
			data = cc
		}
	}
	meta := driver.MapMetadata{
		"BlobTrigger": m.ContainerName + "/" + m.BlobName,
		"Uri":         blobURI(t.svc.NewContainerClient(m.ContainerName).URL(), m.BlobName),
		"Properties":  props,
		"Metadata":    md,
	}
	for k, v := range caps {
		meta[k] = v
	}
	res := exec.Execute(ctx, &driver.Event{Data: data, Metadata: meta, ID: m.ContainerName + "/" + m.BlobName})
	if body != nil {
		body.Close()
	}
	return res
}

var errETagChanged = errors.New("blob changed since it was queued")

// readFailed maps a failure to read the blob to an outcome: a deleted or since-changed blob
// drops the message (the new version has its own receipt), anything else is retried.
func (t *trigger) readFailed(log *slog.Logger, err error) driver.Result {
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound):
		log.Info("blob trigger: blob no longer exists; dropping the message")
		return driver.Result{Status: driver.Succeeded}
	case errors.Is(err, errETagChanged) || bloberror.HasCode(err, bloberror.ConditionNotMet) || isStatus(err, 412):
		log.Info("blob trigger: blob changed since it was queued; its new version is processed on its own")
		return driver.Result{Status: driver.Succeeded}
	}
	return driver.Result{Status: driver.Failed, Err: fmt.Errorf("blob trigger: read blob %s: %w", t.where, err)}
}

var _ driver.Scaler = (*trigger)(nil)

// Scale implements driver.Scaler: the backlog is the blobs waiting in the host's internal
// hand-over queue (approximate message count; the queue is shared by the host's blob-triggered
// functions) plus, for container scans, the blobs the running sweep of this trigger's container
// found and has not yet handed over. One instance is sized for the internal queue's batch size (min(32, MDOP/2+1)).
func (t *trigger) Scale(ctx context.Context) (driver.ScaleMetrics, error) {
	m := driver.ScaleMetrics{TargetPerInstance: int64(t.opts.batchSize())}
	if s, ok := t.state.scanners.get(t.scanKey()); ok && !t.eventGrid {
		m.Backlog += s.pending.Load()
	}
	resp, err := t.qsvc.NewQueueClient(InternalQueueName(t.hostID)).GetProperties(ctx, nil)
	if queueerror.HasCode(err, queueerror.QueueNotFound) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("%s: blob trigger: internal queue length: %w", t.where, err)
	}
	if resp.ApproximateMessagesCount != nil {
		m.Backlog += int64(*resp.ApproximateMessagesCount)
	}
	return m, nil
}

// scanKey identifies the host's scanner of the trigger's container.
func (t *trigger) scanKey() scanKey {
	return scanKey{hostID: t.hostID, account: t.account, container: t.pattern.Container()}
}
