package connection

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// ResolverOptions configure a Resolver; the zero value is what a Functions host does.
type ResolverOptions struct {
	// ClientOptions are copied into every Connection (transport, cloud, retry) and used by the
	// credentials the resolver builds.
	ClientOptions azcore.ClientOptions
}

// Resolver resolves connection names against settings. It makes no network call while
// resolving; credentials are built lazily and cached per connection name. Safe for concurrent use.
type Resolver struct {
	settings *Settings
	opts     ResolverOptions

	mu    sync.Mutex
	creds map[string]*lazyCredential // normalized section key -> credential
}

// NewResolver returns a resolver over settings (nil settings = empty).
func NewResolver(settings *Settings, opts *ResolverOptions) *Resolver {
	if settings == nil {
		settings = NewSettings()
	}
	r := &Resolver{settings: settings, creds: map[string]*lazyCredential{}}
	if opts != nil {
		r.opts = *opts
	}
	return r
}

// Settings returns the settings the resolver reads.
func (r *Resolver) Settings() *Settings { return r.settings }

// Resolve resolves name (after %x% expansion; "" = the service's default) for svc.
func (r *Resolver) Resolve(ctx context.Context, name string, svc Service) (*Connection, error) {
	ex, err := r.Explain(ctx, name, svc)
	if err != nil {
		return nil, err
	}
	return ex.Connection, nil
}

// Step is one key looked up while resolving.
type Step struct {
	Key      string // the candidate key, spelled as azbind built it (e.g. ConnectionStrings:AzureWebJobsX)
	Exists   bool   // it has a value or children
	Matched  string // the key as spelled in its source, when it exists
	Source   string // where it was found
	HasValue bool   // it has a non-empty value (a connection string)
	Children int    // number of settings below it
}

// Explanation records how a name was resolved, for humans (`azbind connection resolve`).
type Explanation struct {
	RawName    string // the name as given (RedactedName if it is a connection string)
	Name       string // after %x% expansion and defaulting (RedactedName if it is a connection string)
	Defaulted  bool   // the name was empty and the service default was used
	Service    Service
	Steps      []Step      // the candidate keys in lookup order (stops at the first that exists)
	Connection *Connection // nil when resolution failed
	Notes      []string    // remarks (ignored properties, precedence decisions)
	Err        error       // the *ResolveError, when resolution failed
}

// Tried returns the candidate keys looked up, in order.
func (e *Explanation) Tried() []string {
	out := make([]string, len(e.Steps))
	for i, s := range e.Steps {
		out[i] = s.Key
	}
	return out
}

// DefaultName returns the connection name a service uses when `connection` is empty, and false
// when it has none (Event Hubs, Event Grid): checklist C6 and reference 1.2.
func DefaultName(svc Service) (string, bool) {
	switch svc {
	case Blob, Queue, Table:
		return "Storage", true
	case Cosmos:
		return "CosmosDB", true
	case ServiceBus:
		return "ServiceBus", true
	}
	return "", false
}

// LookupOrder returns the keys looked up for name, in order: checklist C1 (C2 for Service Bus,
// unprefixed first; C3 for Event Grid, the name only).
func LookupOrder(name string, svc Service) []string {
	prefixed := []string{"ConnectionStrings:AzureWebJobs" + name, "AzureWebJobs" + name}
	plain := []string{"ConnectionStrings:" + name, name}
	switch svc {
	case ServiceBus:
		return append(plain, prefixed...)
	case EventGrid:
		return []string{name}
	}
	return append(prefixed, plain...)
}

func knownService(svc Service) bool {
	switch svc {
	case Blob, Queue, Table, Cosmos, ServiceBus, EventHubs, EventGrid:
		return true
	}
	return false
}

// Explain resolves like Resolve and records how. It returns the explanation also on failure
// (with Err set, and err == Err).
func (r *Resolver) Explain(ctx context.Context, name string, svc Service) (*Explanation, error) {
	ex := &Explanation{RawName: name, Service: svc}
	fail := func(re *ResolveError) (*Explanation, error) {
		re.Service = svc
		if re.Name == "" {
			re.Name = ex.Name
		}
		if re.Tried == nil && ex.Name != RedactedName {
			re.Tried = ex.Tried()
		}
		ex.Err = re
		return ex, re
	}
	if !knownService(svc) {
		ex.Name = name
		if looksLikeConnectionString(name) {
			ex.Name, ex.RawName = RedactedName, RedactedName
		}
		return fail(&ResolveError{Err: fmt.Errorf("%w: unknown service %q", ErrUnsupported, svc),
			Fix: "use one of blob, queue, table, cosmos, servicebus, eventhubs, eventgrid"})
	}
	// C13: a full connection string given as the name is never printed. Checked before %x%
	// expansion, as a SAS may contain '%'.
	if looksLikeConnectionString(name) {
		ex.RawName, ex.Name = RedactedName, RedactedName
		return fail(&ResolveError{Err: fmt.Errorf("%w: a connection string was given where the name of a setting is expected", ErrNotFound),
			Fix: "set the binding's connection property to the NAME of an app setting that holds the connection string, not to the connection string itself"})
	}
	// C5: %x% tokens in the name.
	expanded, err := expandSettings(name, r.settings)
	if err != nil {
		ex.Name = name
		return fail(&ResolveError{Err: fmt.Errorf("%w: %w", ErrUnresolvedName, err),
			Fix: "define the app setting named between the '%' signs, or remove the '%' signs"})
	}
	if looksLikeConnectionString(expanded) {
		ex.Name = RedactedName
		return fail(&ResolveError{Err: fmt.Errorf("%w: the name resolved to a connection string where the name of a setting is expected", ErrNotFound),
			Fix: fmt.Sprintf("the setting named in %s holds a connection string; the connection property must resolve to the NAME of a setting", name)})
	}
	ex.Name = strings.TrimSpace(expanded)
	if ex.Name == "" {
		def, ok := DefaultName(svc)
		if !ok {
			msg := "Event Hubs has no default connection: the connection property is required (the Functions host fails with \"No event hub receiver named <hub>\")"
			fix := "set the binding's connection property to the name of a setting holding an Event Hubs connection string or a <name>__fullyQualifiedNamespace section"
			if svc == EventGrid {
				msg = "The 'Connection' property or 'TopicEndpointUri' property must be set"
				fix = "set the binding's connection property to the name of a <name>__topicEndpointUri section (or a setting holding Endpoint=...;AccessKey=...)"
			}
			return fail(&ResolveError{Err: fmt.Errorf("%w: %s", ErrNotFound, msg), Fix: fix})
		}
		ex.Name, ex.Defaulted = def, true
	}

	// C1-C3: the candidates; the first that exists (value or children) wins.
	var matched *Step
	for _, k := range LookupOrder(ex.Name, svc) {
		st := Step{Key: k}
		if s, ok := r.settings.Lookup(k); ok {
			st.Exists, st.Matched, st.Source = true, s.Key, s.Source
			st.HasValue = strings.TrimSpace(s.Value) != ""
		}
		ch := r.settings.Children(k)
		st.Children = len(ch)
		if len(ch) > 0 && !st.Exists {
			st.Exists = true
			st.Matched, st.Source = sectionSpelling(k, ch)
		}
		ex.Steps = append(ex.Steps, st)
		if st.Exists {
			matched = &ex.Steps[len(ex.Steps)-1]
			break
		}
	}
	if matched == nil {
		return fail(&ResolveError{Err: fmt.Errorf("%w: %s", ErrNotFound, notFoundMessage(ex.Name, svc)),
			Fix: notFoundFix(ex.Name, svc), DidYouMean: suggestKeys(r.settings, ex.Tried())})
	}

	// C7: a non-empty value is a connection string (and beats children); else the children are an
	// identity section.
	if matched.HasValue {
		s, _ := r.settings.Lookup(matched.Key)
		if matched.Children > 0 {
			ex.Notes = append(ex.Notes, fmt.Sprintf("%s has a value and %d settings below it: the value (connection string) is used, the section is ignored", matched.Matched, matched.Children))
		}
		c, err := r.fromConnectionString(ex, s)
		if err != nil {
			return fail(err)
		}
		ex.Connection = c
		return ex, nil
	}
	if matched.Children == 0 {
		return fail(&ResolveError{Key: matched.Matched, Source: matched.Source,
			Err: fmt.Errorf("%w: the setting is empty", ErrMalformed),
			Fix: fmt.Sprintf("set %s to a connection string, or remove it and define %s__<property> settings for an identity connection", matched.Matched, ex.Name)})
	}
	c, rerr := r.fromIdentity(ex, matched)
	if rerr != nil {
		return fail(rerr)
	}
	ex.Connection = c
	return ex, nil
}

func notFoundFix(name string, svc Service) string {
	ep := endpointProperties(svc)
	prop := ep[len(ep)-1]
	if svc == Blob || svc == Queue || svc == Table {
		prop = ep[1]
	}
	key := "AzureWebJobs" + name
	if svc == ServiceBus || svc == EventGrid {
		key = name
	}
	return fmt.Sprintf("define %s (environment or local.settings.json Values) as a connection string, or %s__%s (plus %s__credential etc.) for an identity connection", key, name, prop, name)
}

// sectionSpelling returns the section prefix as spelled in its source (taken from its first
// child) and the sources of its children.
func sectionSpelling(candidate string, children map[string]Setting) (spelled, source string) {
	keys := make([]string, 0, len(children))
	for k := range children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := strings.Count(NormalizeKey(candidate), ":") + 1
	spelled = spelledPrefix(children[keys[0]].Key, n)
	seen := map[string]bool{}
	var srcs []string
	for _, k := range keys {
		if s := children[k].Source; !seen[s] {
			seen[s] = true
			srcs = append(srcs, s)
		}
	}
	sort.Strings(srcs)
	return spelled, strings.Join(srcs, ", ")
}

// spelledPrefix returns the first n segments of key as spelled, where segments are separated by
// `__` or `:` exactly as NormalizeKey splits them.
func spelledPrefix(key string, n int) string {
	segs := 0
	for i := 0; i < len(key); {
		sep := 0
		if strings.HasPrefix(key[i:], "__") {
			sep = 2
		} else if key[i] == ':' {
			sep = 1
		}
		if sep == 0 {
			i++
			continue
		}
		segs++
		if segs == n {
			return key[:i]
		}
		i += sep
	}
	return key
}

func (r *Resolver) newConnection(ex *Explanation, key, source string, kind Kind) *Connection {
	return &Connection{Name: ex.Name, Service: ex.Service, Source: source, Key: key, Kind: kind,
		ClientOptions: r.opts.ClientOptions}
}

func (r *Resolver) fromConnectionString(ex *Explanation, s Setting) (*Connection, *ResolveError) {
	p, err := parseForService(s.Value, ex.Service)
	if err != nil {
		return nil, &ResolveError{Key: s.Key, Source: s.Source,
			Err: fmt.Errorf("%w: the %s connection string is not usable: %w", ErrMalformed, ex.Service, err),
			Fix: fmt.Sprintf("set %s to a connection string like %s", s.Key, connectionStringExample(ex.Service))}
	}
	c := r.newConnection(ex, s.Key, s.Source, KindConnectionString)
	c.ConnectionString = p.cs.String()
	c.redactedCS = p.cs.redacted()
	c.Endpoint = p.endpoint
	c.CredentialType = p.credential
	c.EntityPath = p.entityPath
	c.Properties = p.cs.properties()
	c.secrets = p.cs.secrets()
	if orig, err := parseConnString(s.Value); err == nil && orig.has("UseDevelopmentStorage") {
		ex.Notes = append(ex.Notes, "UseDevelopmentStorage=true expanded to Azurite's well-known account and endpoints")
	}
	if ex.Service == Table && c.CredentialType == CredSAS && p.cs.has("TableEndpoint") {
		ex.Notes = append(ex.Notes, "aztables ignores TableEndpoint when the connection string carries a SharedAccessSignature (it builds https://<AccountName>.table.core.windows.net)")
	}
	return c, nil
}

func (r *Resolver) fromIdentity(ex *Explanation, st *Step) (*Connection, *ResolveError) {
	ch := r.settings.Children(st.Key)
	p := props{prefix: st.Matched, m: ch}
	bad := func(err error, fix string) *ResolveError {
		return &ResolveError{Key: st.Matched, Source: st.Source, Err: err, Fix: fix}
	}
	var cloudCfg *cloud.Configuration
	suffix := "core.windows.net"
	if v := p.get("azureCloud"); v != "" {
		cl, ok := azureClouds[strings.ToLower(v)]
		if !ok {
			return nil, bad(fmt.Errorf("%w: %s must be public, usgov or china", ErrMalformed, p.key("azureCloud")), "fix "+p.key("azureCloud"))
		}
		cfg := cl.cfg
		cloudCfg, suffix = &cfg, cl.suffix
	}

	// Endpoint (reference 1.4 / 1.6). Storage follows the extension path (C8): accountName, then
	// <svc>ServiceUri, then serviceUri (blob, queue).
	var endpoint, from string
	for _, prop := range endpointProperties(ex.Service) {
		v := p.get(prop)
		if v == "" {
			continue
		}
		if endpoint != "" {
			ex.Notes = append(ex.Notes, fmt.Sprintf("%s is ignored: %s takes precedence", p.key(prop), p.key(from)))
			continue
		}
		from = prop
		switch prop {
		case "accountName":
			if strings.ContainsAny(v, "./: ") {
				return nil, bad(fmt.Errorf("%w: %s must be a storage account name, not a URI", ErrMalformed, p.key(prop)), "set it to the account name only, or use "+p.prefix+"__"+string(ex.Service)+"ServiceUri")
			}
			endpoint = fmt.Sprintf("https://%s.%s.%s", v, ex.Service, suffix)
		case "fullyQualifiedNamespace":
			host := v
			if strings.Contains(v, "://") {
				u, err := url.Parse(v)
				if err != nil || u.Host == "" {
					return nil, bad(fmt.Errorf("%w: %s is not a host name such as <namespace>.servicebus.windows.net", ErrMalformed, p.key(prop)), "fix "+p.key(prop))
				}
				host = u.Host
			}
			if strings.ContainsAny(strings.TrimSuffix(host, "/"), "/ ?#@") {
				return nil, bad(fmt.Errorf("%w: %s is not a host name such as <namespace>.servicebus.windows.net", ErrMalformed, p.key(prop)), "fix "+p.key(prop))
			}
			endpoint = strings.TrimSuffix(host, "/")
		default:
			if err := checkAbsoluteURL(v); err != nil {
				msg := ""
				if ex.Service == EventGrid {
					msg = " (The 'TopicEndpointUri' property must be a valid absolute Uri)"
				}
				return nil, bad(fmt.Errorf("%w: %s %v%s", ErrMalformed, p.key(prop), err, msg), "set "+p.key(prop)+" to the service URI, e.g. https://<account>."+string(ex.Service)+".core.windows.net")
			}
			endpoint = v
		}
	}
	if endpoint == "" {
		props := endpointProperties(ex.Service)
		keys := make([]string, len(props))
		for i, k := range props {
			keys[i] = p.prefix + "__" + k
		}
		return nil, bad(fmt.Errorf("%w: %s", ErrIncomplete, missingEndpointMessage(ex.Service)),
			fmt.Sprintf("set one of %s, or set %s itself to a connection string", strings.Join(keys, ", "), p.prefix))
	}

	spec, err := selectCredential(p, cloudCfg, func(k string) string { v, _ := r.settings.Get(k); return v })
	if err != nil {
		return nil, bad(err, "change the "+p.prefix+"__ credential properties as the message says (see the credential rules in the azbind connection docs)")
	}
	ex.Notes = append(ex.Notes, spec.notes...)

	c := r.newConnection(ex, st.Matched, st.Source, KindIdentity)
	if cloudCfg != nil {
		c.ClientOptions.Cloud = *cloudCfg
	}
	c.Endpoint = endpoint
	c.CredentialType = spec.typ
	c.ClientID, c.TenantID, c.ResourceID = spec.clientID, spec.tenantID, spec.resourceID
	if spec.objectID != "" {
		c.ObjectID = spec.objectID
	}
	c.Properties = map[string]string{}
	for k, s := range ch {
		v := s.Value
		if isSecretIdentityProp(k, v) {
			if v != "" {
				c.secrets = append(c.secrets, v)
			}
			v = "***"
		}
		c.Properties[k] = v
	}
	c.Credential = r.credential(NormalizeKey(st.Key), spec, c.Name)
	return c, nil
}

// credential returns the cached lazy credential for a section, creating it on first use.
func (r *Resolver) credential(sectionKey string, spec *credSpec, name string) *lazyCredential {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.creds[sectionKey]; ok {
		return l
	}
	opts := r.opts.ClientOptions
	l := &lazyCredential{
		build: func() (azcore.TokenCredential, error) { return spec.build(opts) },
		what:  fmt.Sprintf("%s credential for connection %q", spec.typ, name),
	}
	r.creds[sectionKey] = l
	return l
}
