package blob

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Queue names used by the blob trigger (checklist C32, C33).
const (
	// PoisonQueueName receives the messages of blobs that failed poisonBlobThreshold times.
	PoisonQueueName = "webjobs-blobtrigger-poison"
	// HostsContainer holds receipts and scan watermarks.
	HostsContainer = "azure-webjobs-hosts"
	incompleteKey  = "Incomplete"
)

// InternalQueueName returns the name of the queue that hands blob trigger work to every host
// sharing hostID: azure-webjobs-blobtrigger-<hostId>.
func InternalQueueName(hostID string) string { return "azure-webjobs-blobtrigger-" + hostID }

// FunctionID returns the function id the real Functions host uses in receipts and messages.
func FunctionID(functionName string) string { return "Host.Functions." + functionName }

// Message is a blob trigger message (BlobTriggerMessage) as put on the internal queue and, on
// poisoning, on webjobs-blobtrigger-poison.
type Message struct {
	Type          string `json:"Type"`
	FunctionID    string `json:"FunctionId"`
	BlobType      string `json:"BlobType"`
	ContainerName string `json:"ContainerName"`
	BlobName      string `json:"BlobName"`
	ETag          string `json:"ETag"`
}

// ErrBadMessage is returned by DecodeMessage for text that is not a blob trigger message.
var ErrBadMessage = errors.New("not a blob trigger message")

// encode returns the message text as queued: base64 of the JSON, as the Functions host's
// queues encode messages by default.
func (m *Message) encode() string {
	return base64.StdEncoding.EncodeToString(m.json())
}

func (m *Message) json() []byte {
	b, _ := json.Marshal(m)
	return b
}

// DecodeMessage decodes a queue message text (base64-encoded or plain JSON).
func DecodeMessage(text string) (*Message, error) {
	raw := []byte(text)
	if t := strings.TrimSpace(text); !strings.HasPrefix(t, "{") {
		b, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("%w: neither JSON nor base64", ErrBadMessage)
		}
		raw = b
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if m.Type != "BlobTrigger" || m.FunctionID == "" || m.ContainerName == "" || m.BlobName == "" {
		return nil, fmt.Errorf("%w: Type, FunctionId, ContainerName and BlobName are required", ErrBadMessage)
	}
	return &m, nil
}

// receiptName is the receipt blob name (checklist C31):
// blobreceipts/<hostId>/<functionId>/<etag>/<container>/<blob>.
func receiptName(hostID, functionID, etag, containerName, blobName string) string {
	return "blobreceipts/" + hostID + "/" + functionID + "/" + etag + "/" + containerName + "/" + blobName
}

// scanInfoName is the scan watermark blob name: blobscaninfo/<hostId>/<account>/<container>/scanInfo.
func scanInfoName(hostID, account, containerName string) string {
	return "blobscaninfo/" + hostID + "/" + account + "/" + containerName + "/scanInfo"
}
