package blob

import (
	"context"
	"fmt"
	"io"
	"reflect"

	sdkblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
)

var (
	typeBlobClient      = reflect.TypeFor[*sdkblob.Client]()
	typeBlockBlobClient = reflect.TypeFor[*blockblob.Client]()
	typeContainerClient = reflect.TypeFor[*container.Client]()
	typeReadCloser      = reflect.TypeFor[io.ReadCloser]()
)

// paramKind says how a binding exchanges a blob with the handler.
type paramKind int

const (
	kindBytes     paramKind = iota // string, []byte, JSON values: the content, read whole
	kindStream                     // io.Reader / io.ReadCloser: the download stream
	kindBlob                       // *blob.Client
	kindBlockBlob                  // *blockblob.Client
	kindContainer                  // *container.Client
)

func kindOf(t reflect.Type, spec *driver.BindingSpec) paramKind {
	switch {
	case t == typeBlobClient:
		return kindBlob
	case t == typeBlockBlobClient:
		return kindBlockBlob
	case t == typeContainerClient:
		return kindContainer
	case t != nil && t.Kind() == reflect.Interface && t.NumMethod() > 0 && typeReadCloser.Implements(t):
		return kindStream
	case t == nil && spec != nil && spec.DataType == "stream":
		return kindStream
	}
	return kindBytes
}

type input struct {
	svc   *service.Client
	path  *driver.Template
	kind  paramKind
	where string
	conn  *connection.Connection
}

func newInput(ctx context.Context, bc *driver.BindContext) (driver.Input, error) {
	svc, c, t, err := bindingClient(ctx, bc)
	if err != nil {
		return nil, err
	}
	in := &input{svc: svc, path: t, kind: kindOf(bc.Param, bc.Spec), where: bc.Spec.Where, conn: c}
	if t.IsLiteral() {
		if _, _, err := splitPath(t.Literal(), in.kind != kindContainer, in.where); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Bind implements driver.Input.
func (in *input) Bind(ctx context.Context, fc *driver.FunctionContext) (any, error) {
	p, err := in.path.Eval(fc)
	if err != nil {
		return nil, err
	}
	cn, bn, err := splitPath(p, in.kind != kindContainer, in.where)
	if err != nil {
		return nil, err
	}
	cc := in.svc.NewContainerClient(cn)
	switch in.kind {
	case kindContainer:
		return cc, nil
	case kindBlob:
		return cc.NewBlobClient(bn), nil
	case kindBlockBlob:
		return cc.NewBlockBlobClient(bn), nil
	}
	resp, err := cc.NewBlobClient(bn).DownloadStream(ctx, nil)
	if err != nil {
		if bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound) {
			return nil, nil // missing blob: the zero value, as in Functions
		}
		return nil, fmt.Errorf("%s: read blob %s/%s: %w", in.where, cn, bn, err)
	}
	if in.kind == kindStream {
		// A retry reader resumes the same version (If-Match) if the connection drops mid-stream.
		return resp.NewRetryReader(ctx, nil), nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read blob %s/%s: %w", in.where, cn, bn, err)
	}
	return data, nil
}
