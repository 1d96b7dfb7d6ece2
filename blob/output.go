package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"sync"

	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

// ErrMultipleValues is returned when an invocation adds more than one value to a blob output.
var ErrMultipleValues = errors.New("a blob output binding takes one value per invocation")

type output struct {
	svc     *service.Client
	account string
	path    *driver.Template
	where   string
	name    string
	state   *hostState // the host's fast path
	conn    *connection.Connection

	mu      sync.Mutex
	created map[string]bool // containers known to exist
}

func newOutput(ctx context.Context, bc *driver.BindContext) (driver.Output, error) {
	svc, c, t, err := bindingClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	if t.IsLiteral() {
		if _, _, err := splitPath(t.Literal(), true, bc.Spec.Where); err != nil {
			return nil, err
		}
	}
	state, err := stateFor(ctx, bc.Host)
	if err != nil {
		return nil, err
	}
	return &output{svc: svc, account: accountKey(svc.URL()), path: t, where: bc.Spec.Where, name: bc.Spec.Name,
		state: state, conn: c, created: map[string]bool{}}, nil
}

// Open implements driver.Output: the path is evaluated now, the blob written at Flush.
func (o *output) Open(ctx context.Context, fc *driver.FunctionContext) (driver.Sink, error) {
	p, err := o.path.Eval(fc)
	if err != nil {
		return nil, err
	}
	cn, bn, err := splitPath(p, true, o.where)
	if err != nil {
		return nil, err
	}
	return &sink{o: o, container: cn, name: bn}, nil
}

type sink struct {
	o         *output
	container string
	name      string
	item      any
	has       bool
}

// Add implements driver.Sink.
func (s *sink) Add(ctx context.Context, item any) error {
	if item == nil {
		return nil
	}
	if s.has {
		return fmt.Errorf("%s: output %q (%s/%s): %w", s.o.where, s.o.name, s.container, s.name, ErrMultipleValues)
	}
	s.item, s.has = item, true
	return nil
}

// Flush implements driver.Sink: it uploads the value (an io.Reader is streamed) and creates
// the container first if it does not exist.
func (s *sink) Flush(ctx context.Context) error {
	if !s.has {
		return nil
	}
	if err := s.o.ensureContainer(ctx, s.container); err != nil {
		return err
	}
	bb := s.o.svc.NewContainerClient(s.container).NewBlockBlobClient(s.name)
	var (
		etag    string
		lastMod = zeroTime
		err     error
	)
	switch x := s.item.(type) {
	case io.Reader:
		ct := contentTypeFor(s.name, "application/octet-stream")
		var r blockblob.UploadStreamResponse
		r, err = bb.UploadStream(ctx, x, &blockblob.UploadStreamOptions{HTTPHeaders: &sdkblob.HTTPHeaders{BlobContentType: &ct}})
		if c, ok := x.(io.Closer); ok {
			c.Close()
		}
		if err == nil {
			etag, lastMod = etagString(r.ETag), deref(r.LastModified)
		}
	default:
		var data []byte
		var ct string
		data, ct, err = driver.Encode(x)
		if err != nil {
			return fmt.Errorf("%s: output %q: %w", s.o.where, s.o.name, err)
		}
		ct = contentTypeFor(s.name, ct)
		var r blockblob.UploadBufferResponse
		r, err = bb.UploadBuffer(ctx, data, &blockblob.UploadBufferOptions{HTTPHeaders: &sdkblob.HTTPHeaders{BlobContentType: &ct}})
		if err == nil {
			etag, lastMod = etagString(r.ETag), deref(r.LastModified)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: output %q: write blob %s/%s: %w", s.o.where, s.o.name, s.container, s.name, err)
	}
	s.o.state.notifyWritten(written{account: s.o.account, container: s.container, name: s.name, etag: etag, lastModified: lastMod})
	return nil
}

func (o *output) ensureContainer(ctx context.Context, name string) error {
	o.mu.Lock()
	ok := o.created[name]
	o.mu.Unlock()
	if ok {
		return nil
	}
	_, err := o.svc.NewContainerClient(name).Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("%s: output %q: create container %s: %w", o.where, o.name, name, err)
	}
	o.mu.Lock()
	o.created[name] = true
	o.mu.Unlock()
	return nil
}

// contentTypeFor picks the blob's content type from its extension when it is a well-known one,
// else def (from the value's Go type).
func contentTypeFor(name, def string) string {
	if ext := path.Ext(name); ext != "" {
		if ct := mime.TypeByExtension(ext); ct != "" {
			return ct
		}
	}
	return def
}
