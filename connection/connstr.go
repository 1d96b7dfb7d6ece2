package connection

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Azurite's (and the legacy storage emulator's) well-known development account. The key is public
// (it is documented by Microsoft) but is still treated as a secret for output purposes.
const (
	DevStoreAccountName = "devstoreaccount1"
	DevStoreAccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// connStringKeys are the keys azbind understands, in their canonical spelling. Keys are matched
// case-insensitively (as .NET's DbConnectionStringBuilder does) and rewritten to this spelling,
// because the Go SDKs' parsers are case-sensitive.
var connStringKeys = []string{
	// Storage
	"DefaultEndpointsProtocol", "AccountName", "AccountKey", "EndpointSuffix",
	"BlobEndpoint", "QueueEndpoint", "TableEndpoint", "FileEndpoint",
	"BlobSecondaryEndpoint", "QueueSecondaryEndpoint", "TableSecondaryEndpoint", "FileSecondaryEndpoint",
	"SharedAccessSignature", "UseDevelopmentStorage", "DevelopmentStorageProxyUri",
	// Cosmos DB
	"AccountEndpoint",
	// Service Bus / Event Hubs (and Event Grid's Endpoint)
	"Endpoint", "SharedAccessKeyName", "SharedAccessKey", "EntityPath", "UseDevelopmentEmulator",
	// Event Grid (azbind's form, see package doc)
	"AccessKey",
}

// secretConnStringKeys are redacted in every printable form.
var secretConnStringKeys = map[string]bool{
	"accountkey": true, "sharedaccesssignature": true, "sharedaccesskey": true, "accesskey": true,
}

var canonicalConnStringKey = func() map[string]string {
	m := map[string]string{}
	for _, k := range connStringKeys {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// csField is one `key=value` pair of a connection string.
type csField struct {
	Key   string // canonical spelling for known keys, trimmed spelling otherwise
	Value string
}

// connString is a parsed connection string: ordered fields, keys case-insensitive, later
// duplicates win (as in the Go SDKs' parsers).
type connString struct {
	fields []csField
}

// parseConnString splits a `;`-separated list of `key=value` pairs. Empty segments (a trailing
// `;`, `;;`) are ignored; the value is everything after the first `=`. Errors never quote the
// content, only the position of the offending segment.
func parseConnString(s string) (*connString, error) {
	cs := &connString{}
	for i, seg := range strings.Split(s, ";") {
		if strings.TrimSpace(seg) == "" {
			continue
		}
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			return nil, fmt.Errorf("segment %d has no '=' (expected key=value pairs separated by ';')", i+1)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, fmt.Errorf("segment %d has an empty key", i+1)
		}
		if c, ok := canonicalConnStringKey[strings.ToLower(k)]; ok {
			k = c
		}
		v = strings.TrimSpace(v)
		cs.set(k, v)
	}
	if len(cs.fields) == 0 {
		return nil, fmt.Errorf("it holds no key=value pairs")
	}
	return cs, nil
}

func (cs *connString) set(k, v string) {
	for i := range cs.fields {
		if strings.EqualFold(cs.fields[i].Key, k) {
			cs.fields[i].Value = v
			return
		}
	}
	cs.fields = append(cs.fields, csField{Key: k, Value: v})
}

func (cs *connString) get(k string) (string, bool) {
	for _, f := range cs.fields {
		if strings.EqualFold(f.Key, k) {
			return f.Value, true
		}
	}
	return "", false
}

func (cs *connString) has(k string) bool { _, ok := cs.get(k); return ok }

// String renders the connection string in canonical form (secrets included!).
func (cs *connString) String() string {
	var b strings.Builder
	for _, f := range cs.fields {
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(f.Value)
		b.WriteByte(';')
	}
	return b.String()
}

// printableKey returns a key for printing: known keys as they are, unknown ones only when they
// look like a plain short name (a stray secret can end up in the key position).
func printableKey(k string) (string, bool) {
	if _, ok := canonicalConnStringKey[strings.ToLower(k)]; ok {
		return k, true
	}
	if len(k) > 32 {
		return "<unknown key>", false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return "<unknown key>", false
		}
	}
	return k, false
}

// redacted renders it with secret values, and the values of unknown keys, replaced by ***.
func (cs *connString) redacted() string {
	var b strings.Builder
	for _, f := range cs.fields {
		k, known := printableKey(f.Key)
		b.WriteString(k)
		b.WriteByte('=')
		if !known || secretConnStringKeys[strings.ToLower(f.Key)] {
			b.WriteString("***")
		} else {
			b.WriteString(f.Value)
		}
		b.WriteByte(';')
	}
	return b.String()
}

// secrets returns the secret values (for scrubbing text that might echo them).
func (cs *connString) secrets() []string {
	var out []string
	for _, f := range cs.fields {
		if secretConnStringKeys[strings.ToLower(f.Key)] && f.Value != "" {
			out = append(out, f.Value)
		}
	}
	return out
}

// properties returns the fields keyed by lower-cased name, secrets as ***.
func (cs *connString) properties() map[string]string {
	m := make(map[string]string, len(cs.fields))
	for _, f := range cs.fields {
		k, known := printableKey(f.Key)
		v := f.Value
		if !known || secretConnStringKeys[strings.ToLower(f.Key)] {
			v = "***"
		}
		m[strings.ToLower(k)] = v
	}
	return m
}

// looksLikeConnectionString reports whether s looks like a connection string (some `;`-separated
// segment is `<known key>=...`, even if other segments are malformed) or a SAS token / SAS URL (it
// carries a `sig=` parameter): the test behind the "<< REDACTED >>" rule (C13). It is deliberately
// lenient, since a false positive only hides a name while a false negative prints a secret.
func looksLikeConnectionString(s string) bool {
	if !strings.Contains(s, "=") {
		return false
	}
	for _, seg := range strings.Split(s, ";") {
		k, _, ok := strings.Cut(seg, "=")
		if !ok {
			continue
		}
		if _, known := canonicalConnStringKey[strings.ToLower(strings.TrimSpace(k))]; known {
			return true
		}
	}
	return sasSignature.MatchString(s)
}

// sasSignature matches the signature parameter of a SAS token or SAS URL.
var sasSignature = regexp.MustCompile(`(?i)(^|[?&\s])sig=`)

// parsedConn is what a connection string says for one service.
type parsedConn struct {
	cs         *connString // canonical (and for UseDevelopmentStorage, expanded) form
	endpoint   string
	credential string
	entityPath string
}

// parseForService parses value as a connection string for svc and checks that the SDK will be
// able to build a client from it. Errors describe the problem without quoting the value.
func parseForService(value string, svc Service) (*parsedConn, error) {
	cs, err := parseConnString(value)
	if err != nil {
		return nil, err
	}
	switch svc {
	case Blob, Queue, Table:
		return parseStorage(cs, svc)
	case Cosmos:
		return parseCosmos(cs)
	case ServiceBus, EventHubs:
		return parseMessaging(cs, svc)
	case EventGrid:
		return parseEventGrid(cs)
	}
	return nil, fmt.Errorf("unknown service %q", svc)
}

func storageEndpointKey(svc Service) string {
	switch svc {
	case Queue:
		return "QueueEndpoint"
	case Table:
		return "TableEndpoint"
	}
	return "BlobEndpoint"
}

// expandDevelopmentStorage turns UseDevelopmentStorage=true (with an optional
// DevelopmentStorageProxyUri) into the full Azurite connection string, as the .NET storage SDK
// does: the proxy's scheme and host with the standard ports 10000-10002.
func expandDevelopmentStorage(cs *connString) (*connString, error) {
	v, _ := cs.get("UseDevelopmentStorage")
	if !strings.EqualFold(v, "true") {
		return nil, fmt.Errorf("UseDevelopmentStorage must be \"true\" (remove it to use a real account)")
	}
	for _, f := range cs.fields {
		switch strings.ToLower(f.Key) {
		case "usedevelopmentstorage", "developmentstorageproxyuri":
		default:
			k, _ := printableKey(f.Key)
			return nil, fmt.Errorf("UseDevelopmentStorage=true cannot be combined with %s (only DevelopmentStorageProxyUri is allowed)", k)
		}
	}
	scheme, host := "http", "127.0.0.1"
	if p, ok := cs.get("DevelopmentStorageProxyUri"); ok {
		u, err := url.Parse(p)
		if err != nil || u.Scheme == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("DevelopmentStorageProxyUri is not an absolute URI")
		}
		scheme, host = u.Scheme, u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	out := &connString{}
	out.set("DefaultEndpointsProtocol", scheme)
	out.set("AccountName", DevStoreAccountName)
	out.set("AccountKey", DevStoreAccountKey)
	out.set("BlobEndpoint", fmt.Sprintf("%s://%s:10000/%s", scheme, host, DevStoreAccountName))
	out.set("QueueEndpoint", fmt.Sprintf("%s://%s:10001/%s", scheme, host, DevStoreAccountName))
	out.set("TableEndpoint", fmt.Sprintf("%s://%s:10002/%s", scheme, host, DevStoreAccountName))
	return out, nil
}

func parseStorage(cs *connString, svc Service) (*parsedConn, error) {
	if cs.has("UseDevelopmentStorage") {
		x, err := expandDevelopmentStorage(cs)
		if err != nil {
			return nil, err
		}
		cs = x
	}
	p := &parsedConn{cs: cs}
	proto := "https"
	if v, ok := cs.get("DefaultEndpointsProtocol"); ok {
		if !strings.EqualFold(v, "http") && !strings.EqualFold(v, "https") {
			return nil, fmt.Errorf("DefaultEndpointsProtocol must be http or https")
		}
		proto = strings.ToLower(v)
	}
	suffix := "core.windows.net"
	if v, ok := cs.get("EndpointSuffix"); ok {
		if v == "" || strings.ContainsAny(v, "/: ") {
			return nil, fmt.Errorf("EndpointSuffix must be a DNS suffix such as core.windows.net")
		}
		suffix = v
	}
	for _, k := range []string{"BlobEndpoint", "QueueEndpoint", "TableEndpoint", "FileEndpoint"} {
		if v, ok := cs.get(k); ok {
			if err := checkAbsoluteURL(v); err != nil {
				return nil, fmt.Errorf("%s %v", k, err)
			}
		}
	}
	account, hasAccount := cs.get("AccountName")
	if hasAccount && account == "" {
		return nil, fmt.Errorf("AccountName is empty")
	}
	ek := storageEndpointKey(svc)
	if v, ok := cs.get(ek); ok {
		p.endpoint = v
	} else if hasAccount {
		p.endpoint = fmt.Sprintf("%s://%s.%s.%s", proto, account, svc, suffix)
	} else {
		return nil, fmt.Errorf("it needs AccountName or %s for %s", ek, svc)
	}
	key, hasKey := cs.get("AccountKey")
	sas, hasSAS := cs.get("SharedAccessSignature")
	switch {
	case hasKey && hasSAS:
		return nil, fmt.Errorf("%w: AccountKey and SharedAccessSignature are both set; keep one", ErrConflict)
	case hasKey:
		if !hasAccount {
			return nil, fmt.Errorf("AccountKey needs AccountName")
		}
		if _, err := base64.StdEncoding.DecodeString(key); err != nil || key == "" {
			return nil, fmt.Errorf("AccountKey is not valid base64 (copy the key again from the portal)")
		}
		p.credential = "sharedKey"
	case hasSAS:
		if sas == "" {
			return nil, fmt.Errorf("SharedAccessSignature is empty")
		}
		p.credential = "sas"
	default:
		return nil, fmt.Errorf("it needs AccountKey or SharedAccessSignature (for an identity connection use a section of __ settings instead of a value)")
	}
	return p, nil
}

func parseCosmos(cs *connString) (*parsedConn, error) {
	ep, ok := cs.get("AccountEndpoint")
	if !ok {
		return nil, fmt.Errorf("it needs AccountEndpoint (expected \"AccountEndpoint=XXXXXX;AccountKey=XXXXXX;\")")
	}
	if err := checkAbsoluteURL(ep); err != nil {
		return nil, fmt.Errorf("AccountEndpoint %v", err)
	}
	key, ok := cs.get("AccountKey")
	if !ok || key == "" {
		return nil, fmt.Errorf("it needs AccountKey (expected \"AccountEndpoint=XXXXXX;AccountKey=XXXXXX;\")")
	}
	return &parsedConn{cs: cs, endpoint: ep, credential: "accountKey"}, nil
}

func parseMessaging(cs *connString, svc Service) (*parsedConn, error) {
	ep, ok := cs.get("Endpoint")
	if !ok {
		return nil, fmt.Errorf("it needs Endpoint=sb://<namespace>.servicebus.windows.net/")
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		//lint:ignore ST1005 names the connection-string key Endpoint
		return nil, fmt.Errorf("Endpoint is not an absolute URI such as sb://<namespace>.servicebus.windows.net/")
	}
	p := &parsedConn{cs: cs, endpoint: u.Host}
	if v, ok := cs.get("UseDevelopmentEmulator"); ok && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return nil, fmt.Errorf("UseDevelopmentEmulator must be true or false")
	}
	keyName, hasName := cs.get("SharedAccessKeyName")
	key, hasKey := cs.get("SharedAccessKey")
	sas, hasSAS := cs.get("SharedAccessSignature")
	switch {
	case hasSAS && (hasKey || hasName):
		other := "SharedAccessKey"
		if !hasKey {
			other = "SharedAccessKeyName"
		}
		return nil, fmt.Errorf("%w: SharedAccessSignature and %s are both set; keep one", ErrConflict, other)
	case hasSAS:
		if sas == "" {
			return nil, fmt.Errorf("SharedAccessSignature is empty")
		}
		p.credential = "sas"
	case hasKey || hasName:
		if !hasName || keyName == "" {
			return nil, fmt.Errorf("SharedAccessKey needs SharedAccessKeyName")
		}
		if !hasKey || key == "" {
			return nil, fmt.Errorf("SharedAccessKeyName needs SharedAccessKey")
		}
		p.credential = "sharedAccessKey"
	default:
		return nil, fmt.Errorf("it needs SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature")
	}
	if v, ok := cs.get("EntityPath"); ok {
		if v == "" {
			return nil, fmt.Errorf("EntityPath is empty")
		}
		p.entityPath = v
	}
	_ = svc
	return p, nil
}

func parseEventGrid(cs *connString) (*parsedConn, error) {
	ep, ok := cs.get("Endpoint")
	if !ok {
		return nil, fmt.Errorf("it needs Endpoint=<topic endpoint>;AccessKey=<topic key>")
	}
	if err := checkAbsoluteURL(ep); err != nil {
		//lint:ignore ST1005 names the connection-string key Endpoint, in the real extension's words
		return nil, fmt.Errorf("Endpoint %v (Event Grid topic connection string must be a valid absolute Uri)", err)
	}
	key, ok := cs.get("AccessKey")
	if !ok || key == "" {
		return nil, fmt.Errorf("it needs AccessKey (the topic key)")
	}
	return &parsedConn{cs: cs, endpoint: ep, credential: "topicKey"}, nil
}

// checkAbsoluteURL checks an endpoint value; the message never quotes it.
func checkAbsoluteURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("is not an absolute URI (expected e.g. https://host/...)")
	}
	if u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("must not carry a query string or user info (put a SAS in SharedAccessSignature)")
	}
	return nil
}
