package servicebus

import (
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"
)

// MetadataNames are the binding-data names of a serviceBusTrigger message (reference §3.5,
// ServiceBusTriggerBindingStrategy v5: the 27 names of its contract). A name whose value the
// message does not carry (SessionId of a message without a session…) is absent. Batches
// (cardinality many) give the message fields with the suffix "Array", each an array with one
// element per message (nil where a message does not carry the field), present even when no
// message carries it. MessageActions (and its v4 name MessageReceiver, and ReceiveActions),
// SessionActions (and MessageSession; sessions only) and Client are objects, not for expressions;
// they keep their names in batches.
var MetadataNames = []string{
	"DeliveryCount", "DeadLetterSource", "LockToken", "ExpiresAtUtc", "ExpiresAt", "EnqueuedTimeUtc",
	"EnqueuedTime", "MessageId", "ContentType", "ReplyTo", "SequenceNumber", "To", "Subject", "Label",
	"CorrelationId", "ApplicationProperties", "UserProperties", "SessionId", "ReplyToSessionId",
	"PartitionKey", "TransactionPartitionKey",
	"MessageActions", "MessageReceiver", "ReceiveActions", "SessionActions", "MessageSession", "Client",
}

// isObjectName reports the binding-data names that are objects (no "Array" form in a batch).
func isObjectName(name string) bool {
	switch strings.ToLower(name) {
	case "messageactions", "messagereceiver", "receiveactions", "sessionactions", "messagesession", "client":
		return true
	}
	return false
}

// isMessageField reports the message fields of MetadataNames (case-insensitive).
func isMessageField(name string) bool {
	for _, n := range MetadataNames {
		if strings.EqualFold(n, name) {
			return !isObjectName(n)
		}
	}
	return false
}

// messageValue returns the binding-data value name of m.
func messageValue(m *azservicebus.ReceivedMessage, name string) (any, bool) {
	str := func(p *string) (any, bool) {
		if p == nil {
			return nil, false
		}
		return *p, true
	}
	utc := func(p *time.Time) (any, bool) {
		if p == nil {
			return nil, false
		}
		return p.UTC(), true
	}
	switch strings.ToLower(name) {
	case "deliverycount":
		return int(m.DeliveryCount), true
	case "deadlettersource":
		return str(m.DeadLetterSource)
	case "locktoken":
		return uuid.UUID(m.LockToken).String(), true
	case "expiresatutc", "expiresat":
		return utc(m.ExpiresAt)
	case "enqueuedtimeutc", "enqueuedtime":
		return utc(m.EnqueuedTime)
	case "messageid":
		return m.MessageID, true
	case "contenttype":
		return str(m.ContentType)
	case "replyto":
		return str(m.ReplyTo)
	case "sequencenumber":
		if m.SequenceNumber == nil {
			return nil, false
		}
		return *m.SequenceNumber, true
	case "to":
		return str(m.To)
	case "subject", "label":
		return str(m.Subject)
	case "correlationid":
		return str(m.CorrelationID)
	case "applicationproperties", "userproperties":
		p := m.ApplicationProperties
		if p == nil {
			p = map[string]any{}
		}
		return p, true
	case "sessionid":
		return str(m.SessionID)
	case "replytosessionid":
		return str(m.ReplyToSessionID)
	case "partitionkey":
		return str(m.PartitionKey)
	case "transactionpartitionkey":
		if raw := m.RawAMQPMessage; raw != nil {
			if v, ok := raw.MessageAnnotations["x-opt-via-partition-key"].(string); ok {
				return v, true
			}
		}
		return nil, false
	}
	return nil, false
}

// metadata is the binding data of one invocation: one message, or a batch.
type metadata struct {
	msgs    []*azservicebus.ReceivedMessage
	batch   bool
	actions *MessageActions
	session *SessionActions
	client  *azservicebus.Client
}

// Lookup implements driver.Metadata.
func (md *metadata) Lookup(name string) (any, bool) {
	switch strings.ToLower(name) {
	case "messageactions", "messagereceiver", "receiveactions":
		return md.actions, md.actions != nil
	case "sessionactions", "messagesession":
		return md.session, md.session != nil
	case "client":
		return md.client, md.client != nil
	}
	if !md.batch {
		if len(md.msgs) == 0 {
			return nil, false
		}
		return messageValue(md.msgs[0], name)
	}
	base, ok := strings.CutSuffix(strings.ToLower(name), "array")
	if !ok || !isMessageField(base) {
		return nil, false
	}
	// One element per message, nil where the message lacks the field (GetBindingData_MultipleDispatch).
	out := make([]any, len(md.msgs))
	for i, m := range md.msgs {
		out[i], _ = messageValue(m, base)
	}
	return out, true
}
