package table

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/azbind/azbind/extension/driver"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrEntityExists: an insert (the default mode) found an entity with the same PartitionKey
	// and RowKey. Use mode "upsert" or "merge" to overwrite. Also matches driver.ErrConflict.
	ErrEntityExists = errors.New("entity already exists")
	// ErrPreconditionFailed: a write conditioned on an entity's ETag found a different ETag.
	// Also matches driver.ErrConflict.
	ErrPreconditionFailed = errors.New("entity ETag does not match")
	// ErrInvalidEntity: a value written to a table output cannot be an entity (no keys, keys
	// with characters Azure Tables forbids, a type that is not a struct, map or JSON object…).
	ErrInvalidEntity = errors.New("invalid table entity")
	// ErrFilterValue: a value substituted into a filter outside quotes is not a number or a
	// boolean (it would change the filter's structure); nothing is queried.
	ErrFilterValue = errors.New("invalid value in table filter")
)

// EntityError is the error a table output returns when the service rejects one entity of a
// write. errors.Is(err, ErrEntityExists) / ErrPreconditionFailed / driver.ErrConflict work
// on it; Unwrap gives the SDK's *azcore.ResponseError.
type EntityError struct {
	Table        string
	PartitionKey string
	RowKey       string
	Mode         Mode
	StatusCode   int    // HTTP status of the failed operation (409, 412, 400, …)
	Code         string // service error code, e.g. "EntityAlreadyExists"
	Message      string // service message (first line)
	Err          error
}

func (e *EntityError) Error() string {
	switch e.Code {
	case "EntityAlreadyExists":
		return fmt.Sprintf("table: entity (PartitionKey=%q, RowKey=%q) already exists in table %q: use mode upsert or merge to overwrite it",
			e.PartitionKey, e.RowKey, e.Table)
	case "UpdateConditionNotSatisfied":
		return fmt.Sprintf("table: entity (PartitionKey=%q, RowKey=%q) in table %q was changed since it was read: its ETag no longer matches (%s)",
			e.PartitionKey, e.RowKey, e.Table, e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("table: writing entity (PartitionKey=%q, RowKey=%q) to table %q with mode %s failed: %d %s: %s",
		e.PartitionKey, e.RowKey, e.Table, e.Mode, e.StatusCode, e.Code, msg)
}

func (e *EntityError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrEntityExists), ErrPreconditionFailed and driver.ErrConflict work.
func (e *EntityError) Is(target error) bool {
	switch target {
	case ErrEntityExists:
		return e.Code == "EntityAlreadyExists"
	case ErrPreconditionFailed:
		return e.Code == "UpdateConditionNotSatisfied"
	case driver.ErrConflict:
		return e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusPreconditionFailed
	}
	return false
}

// opFailure is the failed operation of a transaction, as reported by the service.
type opFailure struct {
	index   int // index of the failed action in the transaction; -1 when unknown
	status  int
	code    string
	message string
}

// parseTransactionError extracts the failed operation from an error of SubmitTransaction. The
// SDK reports a rejected changeset as an *azcore.ResponseError with StatusCode 202 whose body is
// the multipart batch response holding the real status (409, 404, …); a request rejected as a
// whole comes as a plain ResponseError. ok is false when err is not a service response.
func parseTransactionError(err error) (f opFailure, ok bool) {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return f, false
	}
	f = opFailure{index: -1, status: re.StatusCode, code: re.ErrorCode}
	if re.RawResponse == nil {
		return f, true
	}
	body, _ := runtime.Payload(re.RawResponse)
	if re.StatusCode != http.StatusAccepted {
		f.code, f.message, f.index = parseODataError(body, f.code)
		return f, true
	}
	mt, params, perr := mime.ParseMediaType(re.RawResponse.Header.Get("Content-Type"))
	if perr != nil || !strings.HasPrefix(mt, "multipart/") {
		return f, true
	}
	if sub, ok := findFailedPart(body, params["boundary"], 0); ok {
		return sub, true
	}
	return f, true
}

// findFailedPart walks a multipart batch response (and its nested changeset) for the first
// embedded HTTP response with a status of 400 or more.
func findFailedPart(body []byte, boundary string, depth int) (opFailure, bool) {
	if boundary == "" || depth > 2 {
		return opFailure{}, false
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return opFailure{}, false
		}
		data, err := io.ReadAll(p)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return opFailure{}, false
		}
		mt, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if strings.HasPrefix(mt, "multipart/") {
			if f, ok := findFailedPart(data, params["boundary"], depth+1); ok {
				return f, true
			}
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			continue
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			continue
		}
		f := opFailure{index: -1, status: resp.StatusCode}
		f.code, f.message, f.index = parseODataError(rb, "")
		if f.index < 0 {
			// Content-ID numbers the operations from 1 (Azurite sets it on every part).
			if n, err := strconv.Atoi(resp.Header.Get("Content-ID")); err == nil && n > 0 {
				f.index = n - 1
			}
		}
		return f, true
	}
}

// parseODataError reads {"odata.error":{"code":…,"message":{"value":"<index>:<text>\nRequestId…"}}}.
func parseODataError(body []byte, defCode string) (code, message string, index int) {
	index = -1
	var doc struct {
		E struct {
			Code    string `json:"code"`
			Message struct {
				Value string `json:"value"`
			} `json:"message"`
		} `json:"odata.error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return defCode, "", index
	}
	code = doc.E.Code
	if code == "" {
		code = defCode
	}
	msg, _, _ := strings.Cut(doc.E.Message.Value, "\n")
	if i := strings.IndexByte(msg, ':'); i > 0 {
		if n, err := strconv.Atoi(msg[:i]); err == nil {
			index, msg = n, msg[i+1:]
		}
	}
	return code, strings.TrimSpace(msg), index
}
