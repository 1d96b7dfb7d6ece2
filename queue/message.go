package queue

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Encoding is how message bodies are stored in the queue (host.json `messageEncoding`).
type Encoding string

const (
	// Base64 stores the body base64-encoded (the Azure Functions default).
	Base64 Encoding = "base64"
	// None stores the body as plain text.
	None Encoding = "none"
)

// ErrDecode reports a message whose text is not valid for the configured encoding.
var ErrDecode = errors.New("message does not decode")

// ErrEncode reports an output message that the configured encoding cannot carry (bytes that are
// not XML text with messageEncoding none).
var ErrEncode = errors.New("message cannot be encoded")

// ErrInvalidQueueName reports a queue name that the service would reject.
var ErrInvalidQueueName = errors.New("invalid queue name")

func parseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "base64":
		return Base64, nil
	case "none":
		return None, nil
	}
	return "", fmt.Errorf("messageEncoding %q is not supported: use \"base64\" or \"none\"", s)
}

// encode turns a body into queue message text.
func (e Encoding) encode(body []byte) string {
	if e == None {
		return string(body)
	}
	return base64.StdEncoding.EncodeToString(body)
}

// decode turns queue message text into the body.
func (e Encoding) decode(text string) ([]byte, error) {
	if e == None {
		return []byte(text), nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("%w as base64: %v", ErrDecode, err)
	}
	return b, nil
}

// Message is one queue message as the trigger received it. Declare a handler parameter as
// *queue.Message (or queue.Message) to get it whole.
type Message struct {
	ID              string
	PopReceipt      string // the pop receipt at receive time (renewals replace it internally)
	DequeueCount    int64
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time // as of the receive
	// Text is the message text exactly as stored in the queue (base64 text with the default encoding).
	Text string
	// Body is the decoded payload.
	Body []byte
	// Queue is the name of the queue the message came from.
	Queue string
}

// String returns the body as text.
func (m *Message) String() string { return string(m.Body) }

func newMessage(queue string, d *azqueue.DequeuedMessage) *Message {
	m := &Message{Queue: queue}
	if d.MessageID != nil {
		m.ID = *d.MessageID
	}
	if d.PopReceipt != nil {
		m.PopReceipt = *d.PopReceipt
	}
	if d.DequeueCount != nil {
		m.DequeueCount = *d.DequeueCount
	}
	if d.InsertionTime != nil {
		m.InsertionTime = *d.InsertionTime
	} else {
		m.InsertionTime = time.Now().UTC()
	}
	m.ExpirationTime = maxTime
	if d.ExpirationTime != nil {
		m.ExpirationTime = *d.ExpirationTime
	}
	m.NextVisibleTime = maxTime
	if d.TimeNextVisible != nil {
		m.NextVisibleTime = *d.TimeNextVisible
	}
	if d.MessageText != nil {
		m.Text = *d.MessageText
	}
	return m
}

// maxTime stands for DateTimeOffset.MaxValue (C27 defaults).
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)

// MetadataNames are the queue trigger's binding data names (C27).
var MetadataNames = []string{"QueueTrigger", "DequeueCount", "ExpirationTime", "Id", "InsertionTime", "NextVisibleTime", "PopReceipt"}

// Metadata is the binding data of one queue message (C27), looked up case-insensitively. The
// members of a JSON object body are binding data too, whatever the handler's parameter type; the
// runtime derives them from the event's payload and they take precedence (reference §3.1).
type Metadata struct {
	Message *Message
}

// Lookup implements driver.Metadata.
func (md *Metadata) Lookup(name string) (any, bool) {
	m := md.Message
	switch strings.ToLower(name) {
	case "queuetrigger":
		if !utf8.Valid(m.Body) {
			return nil, false
		}
		return string(m.Body), true
	case "dequeuecount":
		return m.DequeueCount, true
	case "expirationtime":
		return m.ExpirationTime, true
	case "id":
		return m.ID, true
	case "insertiontime":
		return m.InsertionTime, true
	case "nextvisibletime":
		return m.NextVisibleTime, true
	case "popreceipt":
		return m.PopReceipt, true
	}
	return nil, false
}

// ValidQueueName reports whether name is a valid queue name: 3–63 characters, lower-case letters,
// digits and single dashes, starting and ending with a letter or digit.
func ValidQueueName(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("%w %q: a queue name has 3 to 63 characters", ErrInvalidQueueName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-':
			if i == 0 || i == len(name)-1 || name[i-1] == '-' {
				return fmt.Errorf("%w %q: dashes may not start or end a queue name or follow each other", ErrInvalidQueueName, name)
			}
		default:
			return fmt.Errorf("%w %q: use lower-case letters, digits and dashes only", ErrInvalidQueueName, name)
		}
	}
	return nil
}

// PoisonQueueName returns `<name>-poison`, or "" when name already ends in "-poison" or the result
// is not a valid queue name (then the queue has no poison queue, as in Functions).
func PoisonQueueName(name string) string {
	if strings.HasSuffix(name, "-poison") {
		return ""
	}
	p := name + "-poison"
	if ValidQueueName(p) != nil {
		return ""
	}
	return p
}
