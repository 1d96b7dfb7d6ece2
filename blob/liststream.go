package blob

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// The scanner's listings are decoded as they stream in. The SDK decodes a List Blobs page into
// 5,000 BlobItem values (some 30 pointers each) from a body it first reads whole (3 MB from
// Azurite): at a 10 s idle cadence that page was most of an idle host's heap. streamListPolicy
// (on the scanner's own client, inert unless the request's context carries a *listSink) reads the
// response body token by token, hands each blob's name, LastModified, ETag and type to the sink,
// and gives the SDK an empty page that carries only the NextMarker, so the pager goes on as
// usual.

type listSinkKey struct{}

type listSink struct {
	streamed int                                                              // pages decoded by the policy
	begin    func(date time.Time)                                             // the response's Date, before any item
	item     func(name string, lastModified time.Time, etag, blobType string) // one blob
}

type streamListPolicy struct{}

// Do implements policy.Policy.
func (streamListPolicy) Do(req *policy.Request) (*http.Response, error) {
	sink, _ := req.Raw().Context().Value(listSinkKey{}).(*listSink)
	if sink == nil || req.Raw().Method != http.MethodGet || req.Raw().URL.Query().Get("comp") != "list" {
		return req.Next()
	}
	runtime.SkipBodyDownload(req)
	resp, err := req.Next()
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	sink.streamed++
	sink.begin(date)
	next, err := decodeBlobList(resp.Body, sink.item)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("list blobs: reading the response: %w", err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs></Blobs><NextMarker>`)
	_ = xml.EscapeText(&b, []byte(next))
	b.WriteString(`</NextMarker></EnumerationResults>`)
	resp.Body = io.NopCloser(strings.NewReader(b.String()))
	resp.ContentLength = int64(b.Len())
	resp.Header.Del("Content-Length")
	return resp, nil
}

// decodeBlobList reads a List Blobs (flat) response, calling item for every blob, and returns
// its NextMarker.
func decodeBlobList(r io.Reader, item func(name string, lastModified time.Time, etag, blobType string)) (next string, err error) {
	dec := xml.NewDecoder(r)
	var (
		path     []string // element names from EnumerationResults down
		text     []byte
		name     string
		encoded  bool
		lm       time.Time
		etag     string
		blobType string
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return next, nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text = text[:0]
			switch {
			case len(path) == 3 && t.Name.Local == "Blob":
				name, encoded, lm, etag, blobType = "", false, time.Time{}, "", ""
			case len(path) == 4 && path[2] == "Blob" && t.Name.Local == "Name":
				for _, a := range t.Attr {
					if a.Name.Local == "Encoded" && strings.EqualFold(a.Value, "true") {
						encoded = true
					}
				}
			}
		case xml.CharData:
			text = append(text, t...)
		case xml.EndElement:
			if len(path) == 0 {
				return "", fmt.Errorf("unbalanced XML")
			}
			switch {
			case len(path) == 4 && path[2] == "Blob" && t.Name.Local == "Name":
				name = string(text)
			case len(path) == 5 && path[2] == "Blob" && path[3] == "Properties":
				switch t.Name.Local {
				case "Last-Modified":
					lm, _ = http.ParseTime(string(text))
				case "Etag":
					etag = quoteETag(string(text))
				case "BlobType":
					blobType = string(text)
				}
			case len(path) == 3 && t.Name.Local == "Blob":
				if encoded {
					if name, err = url.QueryUnescape(name); err != nil {
						return "", fmt.Errorf("encoded blob name: %w", err)
					}
				}
				if blobType == "" {
					blobType = "BlockBlob"
				}
				item(name, lm, etag, blobType)
			case len(path) == 2 && t.Name.Local == "NextMarker":
				next = string(text)
			}
			path = path[:len(path)-1]
			text = text[:0]
		}
	}
}
