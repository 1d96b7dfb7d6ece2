package connection

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every resolution error is a *ResolveError wrapping one of them, so callers use
// errors.Is / errors.As.
var (
	// ErrNotFound: no candidate key exists (checklist C13), or the service has no default
	// connection and the name is empty.
	ErrNotFound = errors.New("connection setting not found")
	// ErrMalformed: the setting exists but its connection string or an identity property cannot be
	// used (bad syntax, missing field, invalid URI).
	ErrMalformed = errors.New("malformed connection setting")
	// ErrIncomplete: an identity section lacks a required property (the service endpoint, or what
	// the chosen credential needs).
	ErrIncomplete = errors.New("incomplete identity connection")
	// ErrConflict: two properties contradict each other; the message names both keys.
	ErrConflict = errors.New("conflicting connection properties")
	// ErrUnresolvedName: a %token% in the connection name names no setting, or a '%' is unclosed.
	ErrUnresolvedName = errors.New("connection name does not resolve")
	// ErrUnsupported: the configuration asks for something azbind cannot do in Go (e.g. a
	// certificate looked up by thumbprint in a Windows certificate store).
	ErrUnsupported = errors.New("unsupported connection configuration")
)

// RedactedName replaces a connection name that is itself a connection string in every message
// (checklist C13, reference 1.7).
const RedactedName = "<< REDACTED >> (a full connection string was incorrectly used instead of a connection setting name)"

// ResolveError is returned by Resolve and Explain for every failure.
type ResolveError struct {
	Name    string   // the connection name after %x% expansion (RedactedName if it was a connection string)
	Service Service  // the service it was resolved for
	Tried   []string // the keys looked up, in order (nil if the failure came before the lookup)
	Key     string   // the key that matched, when the failure is about its content
	Source  string   // the source of Key
	Err     error    // the cause; wraps one of the Err* sentinels
	Fix     string   // what to do about it
	// DidYouMean lists existing settings whose names are close to a key tried (typos), for a
	// not-found error.
	DidYouMean []string
}

// Problem is the error without the connection name and the fix: the cause, the setting used,
// the keys tried and the "did you mean" names, on one line.
func (e *ResolveError) Problem() string {
	var b strings.Builder
	cause := e.Err.Error()
	// The sentinel's text adds nothing to the real system's message that follows it.
	cause = strings.TrimPrefix(cause, ErrNotFound.Error()+": ")
	b.WriteString(strings.TrimSuffix(cause, "."))
	if e.Key != "" {
		fmt.Fprintf(&b, " (setting %s", e.Key)
		if e.Source != "" {
			fmt.Fprintf(&b, " from %s", e.Source)
		}
		b.WriteString(")")
	}
	if len(e.Tried) > 0 {
		fmt.Fprintf(&b, "; tried %s", strings.Join(e.Tried, ", "))
	}
	if len(e.DidYouMean) > 0 {
		fmt.Fprintf(&b, " (did you mean %s?)", strings.Join(e.DidYouMean, " or "))
	}
	return strings.ReplaceAll(b.String(), "\n", " ")
}

func (e *ResolveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connection %q (%s): ", e.Name, e.Service)
	b.WriteString(e.Err.Error())
	if e.Key != "" {
		fmt.Fprintf(&b, " (setting %s", e.Key)
		if e.Source != "" {
			fmt.Fprintf(&b, " from %s", e.Source)
		}
		b.WriteString(")")
	}
	if len(e.Tried) > 0 {
		fmt.Fprintf(&b, "; tried %s", strings.Join(e.Tried, ", "))
	}
	if len(e.DidYouMean) > 0 {
		fmt.Fprintf(&b, " (did you mean %s?)", strings.Join(e.DidYouMean, " or "))
	}
	if e.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(e.Fix)
	}
	return strings.ReplaceAll(b.String(), "\n", " ")
}

func (e *ResolveError) Unwrap() error { return e.Err }

// notFoundMessage is the real system's text for a missing connection (reference 1.8).
func notFoundMessage(name string, svc Service) string {
	switch svc {
	case ServiceBus:
		return fmt.Sprintf("Service Bus account connection string with name '%s' does not exist in the settings. Make sure that it is a defined App Setting.", name)
	case EventHubs:
		return fmt.Sprintf("EventHub account connection string with name '%s' does not exist in the settings. Make sure that it is a defined App Setting.", name)
	case Cosmos:
		return fmt.Sprintf("Cosmos DB connection configuration '%s' does not exist. Make sure that it is a defined App Setting.", name)
	case EventGrid:
		return fmt.Sprintf("Event Grid topic connection string '%s' does not exist. Make sure that it is a defined App Setting.", name)
	}
	// Storage prints the prefixed name even for unprefixed lookups (reference 1.6).
	return fmt.Sprintf("Storage account connection string 'AzureWebJobs%s' does not exist. Make sure that it is a defined App Setting.", name)
}

// missingEndpointMessage is the real system's text for a section without the endpoint property.
func missingEndpointMessage(svc Service) string {
	switch svc {
	case ServiceBus, EventHubs:
		return "Connection should have an 'fullyQualifiedNamespace' property or be a string representing a connection string."
	case Cosmos:
		return "Connection should have an 'accountEndpoint' property or be a string representing a connection string."
	case EventGrid:
		return "Connection should have a 'topicEndpointUri' property or be a string representing a connection string."
	case Queue:
		return "Connection should have a 'queueServiceUri', 'serviceUri' or 'accountName' property or be a string representing a connection string."
	case Table:
		return "Connection should have a 'tableServiceUri' or 'accountName' property or be a string representing a connection string."
	}
	return "Connection should have a 'blobServiceUri', 'serviceUri' or 'accountName' property or be a string representing a connection string."
}

// endpointProperties lists the identity endpoint properties a service reads, in precedence order
// (reference 1.4 / 1.6, extension path: accountName first).
func endpointProperties(svc Service) []string {
	switch svc {
	case Blob:
		return []string{"accountName", "blobServiceUri", "serviceUri"}
	case Queue:
		return []string{"accountName", "queueServiceUri", "serviceUri"}
	case Table:
		return []string{"accountName", "tableServiceUri"}
	case Cosmos:
		return []string{"accountEndpoint"}
	case ServiceBus, EventHubs:
		return []string{"fullyQualifiedNamespace"}
	case EventGrid:
		return []string{"topicEndpointUri"}
	}
	return nil
}

// connectionStringExample is a hint for fixes.
func connectionStringExample(svc Service) string {
	switch svc {
	case Cosmos:
		return "AccountEndpoint=https://<account>.documents.azure.com:443/;AccountKey=<key>;"
	case ServiceBus:
		return "Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>"
	case EventHubs:
		return "Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<name>;SharedAccessKey=<key>;EntityPath=<hub>"
	case EventGrid:
		return "Endpoint=https://<topic>.<region>-1.eventgrid.azure.net/api/events;AccessKey=<key>"
	}
	return "DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<key>;EndpointSuffix=core.windows.net (or UseDevelopmentStorage=true for Azurite)"
}
