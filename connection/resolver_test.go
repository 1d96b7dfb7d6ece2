package connection

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// Secret values used throughout; tests assert they never appear in output.
const (
	key1   = "S2V5T25lU2VjcmV0VmFsdWVGb3JUZXN0cw==" // base64 "KeyOneSecretValueForTests"
	sasTok = "sv=2024-08-04&ss=b&srt=sco&sp=rl&se=2030-01-01T00:00:00Z&sig=U2lnbmF0dXJlU2VjcmV0JTJG"
	sbKey  = "U2VydmljZUJ1c1NlY3JldEtleQ=="
	egKey  = "RXZlbnRHcmlkVG9waWNLZXlTZWNyZXQ="
	cliSec = "client-secret-value-Zq8"
	cosKey = "Q29zbW9zS2V5U2VjcmV0VmFsdWU="
)

var allSecrets = []string{key1, sasTok, "U2lnbmF0dXJlU2VjcmV0JTJG", sbKey, egKey, cliSec, cosKey, DevStoreAccountKey}

func storageCS(acct string) string {
	return "DefaultEndpointsProtocol=https;AccountName=" + acct + ";AccountKey=" + key1 + ";EndpointSuffix=core.windows.net"
}

func sbCS(ns string) string {
	return "Endpoint=sb://" + ns + ".servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + sbKey
}

func cosmosCS(acct string) string {
	return "AccountEndpoint=https://" + acct + ".documents.azure.com:443/;AccountKey=" + cosKey + ";"
}

func egCS(topic string) string {
	return "Endpoint=https://" + topic + ".westus-1.eventgrid.azure.net/api/events;AccessKey=" + egKey
}

// csFor returns a valid connection string for svc that identifies tag.
func csFor(svc Service, tag string) string {
	switch svc {
	case Cosmos:
		return cosmosCS(tag)
	case ServiceBus, EventHubs:
		return sbCS(tag)
	case EventGrid:
		return egCS(tag)
	}
	return storageCS(tag)
}

func endpointFor(svc Service, tag string) string {
	switch svc {
	case Cosmos:
		return "https://" + tag + ".documents.azure.com:443/"
	case ServiceBus, EventHubs:
		return tag + ".servicebus.windows.net"
	case EventGrid:
		return "https://" + tag + ".westus-1.eventgrid.azure.net/api/events"
	}
	return "https://" + tag + "." + string(svc) + ".core.windows.net"
}

func resolver(m map[string]string) *Resolver {
	return NewResolver(NewSettings(FromMap("env", m)), nil)
}

func assertNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range allSecrets {
		if strings.Contains(s, sec) {
			t.Fatalf("%s contains a secret: %q", what, s)
		}
	}
}

var allServices = []Service{Blob, Queue, Table, Cosmos, ServiceBus, EventHubs, EventGrid}

// C1, C2, C3: every service's lookup order, by removing the winning key one at a time.
func TestLookupOrder(t *testing.T) {
	want := map[Service][]string{
		Blob:       {"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"},
		Queue:      {"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"},
		Table:      {"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"},
		Cosmos:     {"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"},
		EventHubs:  {"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"},
		ServiceBus: {"ConnectionStrings:My", "My", "ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy"}, // C2
		EventGrid:  {"My"},                                                                               // C3
	}
	all := []string{"ConnectionStrings:AzureWebJobsMy", "AzureWebJobsMy", "ConnectionStrings:My", "My"}
	for _, svc := range allServices {
		t.Run(string(svc), func(t *testing.T) {
			if got := LookupOrder("My", svc); strings.Join(got, ",") != strings.Join(want[svc], ",") {
				t.Fatalf("LookupOrder = %v, want %v", got, want[svc])
			}
			m := map[string]string{}
			for i, k := range all {
				m[k] = csFor(svc, fmt.Sprintf("acct%d", i))
			}
			for step, k := range want[svc] {
				c, err := resolver(m).Resolve(context.Background(), "My", svc)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if c.Key != k {
					t.Fatalf("step %d: matched %s, want %s", step, c.Key, k)
				}
				idx := 0
				for i, a := range all {
					if a == k {
						idx = i
					}
				}
				if want := endpointFor(svc, fmt.Sprintf("acct%d", idx)); c.Endpoint != want {
					t.Fatalf("endpoint %s, want %s", c.Endpoint, want)
				}
				delete(m, k)
			}
			// Event Grid never looks at prefixed or ConnectionStrings keys (C3).
			_, err := resolver(m).Resolve(context.Background(), "My", svc)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("with only non-candidate keys left: err = %v, want ErrNotFound", err)
			}
			var re *ResolveError
			if !errors.As(err, &re) || strings.Join(re.Tried, ",") != strings.Join(want[svc], ",") || re.Name != "My" || re.Service != svc {
				t.Fatalf("ResolveError = %+v", re)
			}
		})
	}
}

// C6 and reference 1.2: defaults per service.
func TestDefaults(t *testing.T) {
	tests := []struct {
		svc     Service
		key     string // the setting defined
		wantKey string // "" = error
		msg     string
	}{
		{Blob, "AzureWebJobsStorage", "AzureWebJobsStorage", ""},
		{Queue, "AzureWebJobsStorage", "AzureWebJobsStorage", ""},
		{Table, "AzureWebJobsStorage", "AzureWebJobsStorage", ""},
		{Blob, "Storage", "Storage", ""}, // step 4 of the default name
		{Cosmos, "AzureWebJobsCosmosDB", "AzureWebJobsCosmosDB", ""},
		{Cosmos, "CosmosDB", "CosmosDB", ""},
		{ServiceBus, "ServiceBus", "ServiceBus", ""},
		{ServiceBus, "AzureWebJobsServiceBus", "AzureWebJobsServiceBus", ""},
		{EventHubs, "AzureWebJobsStorage", "", "Event Hubs has no default connection"},
		{EventGrid, "AzureWebJobsStorage", "", "The 'Connection' property or 'TopicEndpointUri' property must be set"},
		{Blob, "Other", "", "Storage account connection string 'AzureWebJobsStorage' does not exist. Make sure that it is a defined App Setting."},
		{Cosmos, "Other", "", "Cosmos DB connection configuration 'CosmosDB' does not exist. Make sure that it is a defined App Setting."},
		{ServiceBus, "Other", "", "Service Bus account connection string with name 'ServiceBus' does not exist in the settings. Make sure that it is a defined App Setting."},
	}
	for _, tt := range tests {
		for _, name := range []string{"", "  "} {
			t.Run(fmt.Sprintf("%s/%s/%q", tt.svc, tt.key, name), func(t *testing.T) {
				c, err := resolver(map[string]string{tt.key: csFor(tt.svc, "d")}).Resolve(context.Background(), name, tt.svc)
				if tt.wantKey == "" {
					if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.msg) {
						t.Fatalf("err = %v, want ErrNotFound with %q", err, tt.msg)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				def, _ := DefaultName(tt.svc)
				if c.Key != tt.wantKey || c.Name != def {
					t.Fatalf("key %s name %s", c.Key, c.Name)
				}
			})
		}
	}
}

// C4: keys are case-insensitive and `__` ≡ `:`; Key reports the source's spelling.
func TestKeyVariants(t *testing.T) {
	tests := []struct {
		name, setting, wantKey string
		identity               bool
	}{
		{"Storage1", "azurewebjobsstorage1", "azurewebjobsstorage1", false},
		{"storage1", "AZUREWEBJOBSSTORAGE1", "AZUREWEBJOBSSTORAGE1", false},
		{"Storage1", "ConnectionStrings__Storage1", "ConnectionStrings__Storage1", false},
		{"Storage1", "connectionstrings:STORAGE1", "connectionstrings:STORAGE1", false},
		{"Storage1", "Storage1__blobServiceUri", "Storage1", true},
		{"Storage1", "STORAGE1:BLOBSERVICEURI", "STORAGE1", true},
		{"STORAGE1", "storage1__BlobServiceUri", "storage1", true},
		{"Storage1", "AzureWebJobsStorage1__blobServiceUri", "AzureWebJobsStorage1", true},
		{"Storage1", "ConnectionStrings__AzureWebJobsStorage1:blobServiceUri", "ConnectionStrings__AzureWebJobsStorage1", true},
		{"a:b", "a__b__blobServiceUri", "a__b", true},
		{"a__b", "A:B:blobserviceuri", "A:B", true},
	}
	for _, tt := range tests {
		t.Run(tt.setting, func(t *testing.T) {
			v := storageCS("acct")
			if tt.identity {
				v = "https://acct.blob.core.windows.net"
			}
			c, err := resolver(map[string]string{tt.setting: v}).Resolve(context.Background(), tt.name, Blob)
			if err != nil {
				t.Fatal(err)
			}
			if c.Key != tt.wantKey {
				t.Fatalf("Key = %q, want %q", c.Key, tt.wantKey)
			}
			if want := map[bool]Kind{false: KindConnectionString, true: KindIdentity}[tt.identity]; c.Kind != want {
				t.Fatalf("Kind = %s", c.Kind)
			}
			if c.Endpoint != "https://acct.blob.core.windows.net" {
				t.Fatalf("Endpoint = %s", c.Endpoint)
			}
		})
	}
}

// C7: a non-empty value is a connection string and beats children; an empty value defers to them;
// an empty value without children stops the lookup (Exists() is true) and is an error.
func TestValueVersusSection(t *testing.T) {
	ctx := context.Background()
	r := resolver(map[string]string{"S": storageCS("exact"), "S__blobServiceUri": "https://prefix.blob.core.windows.net"})
	ex, err := r.Explain(ctx, "S", Blob)
	if err != nil {
		t.Fatal(err)
	}
	if c := ex.Connection; c.Kind != KindConnectionString || c.Endpoint != "https://exact.blob.core.windows.net" {
		t.Fatalf("exact value must win: %v", c)
	}
	if len(ex.Notes) == 0 || !strings.Contains(ex.Notes[0], "section is ignored") {
		t.Fatalf("notes = %v", ex.Notes)
	}
	c, err := resolver(map[string]string{"S": "  ", "S__blobServiceUri": "https://prefix.blob.core.windows.net"}).Resolve(ctx, "S", Blob)
	if err != nil || c.Kind != KindIdentity || c.Endpoint != "https://prefix.blob.core.windows.net" {
		t.Fatalf("blank value + children: %v %v", c, err)
	}
	// An empty AzureWebJobsS exists and stops the lookup before S (as .NET's Exists()).
	_, err = resolver(map[string]string{"AzureWebJobsS": "", "S": storageCS("later")}).Resolve(ctx, "S", Blob)
	var re *ResolveError
	if !errors.Is(err, ErrMalformed) || !errors.As(err, &re) || re.Key != "AzureWebJobsS" || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v", err)
	}
}

// C5: %x% in the name.
func TestPercentNames(t *testing.T) {
	m := map[string]string{"ConnName": "Storage1", "Part": "age", "AzureWebJobsStorage1": storageCS("pct"), "Empty": ""}
	ctx := context.Background()
	for _, name := range []string{"%ConnName%", "%connname%", "Stor%Part%1"} {
		c, err := resolver(m).Resolve(ctx, name, Blob)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.Name != "Storage1" || c.Key != "AzureWebJobsStorage1" {
			t.Fatalf("%s: name %s key %s", name, c.Name, c.Key)
		}
	}
	for name, msg := range map[string]string{
		"%Missing%": "'%Missing%' does not resolve to a value.",
		"%Empty%":   "'%Empty%' does not resolve to a value.",
		"Stor%age":  "The '%' at position 4 does not have a closing '%'",
	} {
		_, err := resolver(m).Resolve(ctx, name, Blob)
		if !errors.Is(err, ErrUnresolvedName) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: err = %v, want %q", name, err, msg)
		}
	}
}

// C13 / reference 1.7: a connection string used as the name is redacted everywhere.
func TestConnectionStringAsNameIsRedacted(t *testing.T) {
	ctx := context.Background()
	sasName := "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=" + sasTok
	m := map[string]string{"Indirect": storageCS("x")}
	for _, svc := range allServices {
		for _, name := range []string{storageCS("x"), sbCS("ns"), sasName, "%Indirect%"} {
			ex, err := resolver(m).Explain(ctx, name, svc)
			var re *ResolveError
			if !errors.As(err, &re) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if re.Name != RedactedName || !strings.Contains(err.Error(), RedactedName) {
				t.Fatalf("name not redacted: %v", err)
			}
			assertNoSecrets(t, "error", err.Error())
			assertNoSecrets(t, "explanation", fmt.Sprintf("%+v %v", ex.Steps, ex.RawName+ex.Name))
			if strings.Contains(err.Error(), "AccountName=x") {
				t.Fatalf("error leaks the name: %v", err)
			}
		}
	}
}

func TestStorageConnectionStrings(t *testing.T) {
	tests := []struct {
		name, cs     string
		svc          Service
		endpoint     string
		cred         string
		redacted     string // substring of Redacted()
		expandedPart string // substring of ConnectionString
	}{
		{"account key", storageCS("acct"), Blob, "https://acct.blob.core.windows.net", CredSharedKey, "AccountKey=***;", ""},
		{"queue from account", storageCS("acct"), Queue, "https://acct.queue.core.windows.net", CredSharedKey, "", ""},
		{"table from account", storageCS("acct"), Table, "https://acct.table.core.windows.net", CredSharedKey, "", ""},
		{"suffix and http", "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=" + key1 + ";EndpointSuffix=core.chinacloudapi.cn", Queue, "http://a.queue.core.chinacloudapi.cn", CredSharedKey, "", ""},
		{"default protocol https", "AccountName=a;AccountKey=" + key1, Blob, "https://a.blob.core.windows.net", CredSharedKey, "", ""},
		{"explicit endpoint", "AccountName=a;AccountKey=" + key1 + ";BlobEndpoint=http://127.0.0.1:9/a;QueueEndpoint=http://127.0.0.1:8/a", Blob, "http://127.0.0.1:9/a", CredSharedKey, "", ""},
		{"explicit queue endpoint", "AccountName=a;AccountKey=" + key1 + ";BlobEndpoint=http://127.0.0.1:9/a;QueueEndpoint=http://127.0.0.1:8/a", Queue, "http://127.0.0.1:8/a", CredSharedKey, "", ""},
		{"sas", "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=" + sasTok, Blob, "https://a.blob.core.windows.net/", CredSAS, "SharedAccessSignature=***;", ""},
		{"dev storage", "UseDevelopmentStorage=true", Blob, "http://127.0.0.1:10000/devstoreaccount1", CredSharedKey, "AccountKey=***", "AccountName=devstoreaccount1;"},
		{"dev storage queue", "UseDevelopmentStorage=true;", Queue, "http://127.0.0.1:10001/devstoreaccount1", CredSharedKey, "", "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1"},
		{"dev storage table lower case", "usedevelopmentstorage=TRUE", Table, "http://127.0.0.1:10002/devstoreaccount1", CredSharedKey, "", "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1"},
		{"dev storage proxy", "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite.local:1234", Blob, "http://azurite.local:10000/devstoreaccount1", CredSharedKey, "", "QueueEndpoint=http://azurite.local:10001/devstoreaccount1"},
		{"lower-case keys canonicalized", " accountname = a ; accountkey=" + key1 + ";;", Blob, "https://a.blob.core.windows.net", CredSharedKey, "AccountName=a;AccountKey=***;", "AccountName=a;AccountKey="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := resolver(map[string]string{"AzureWebJobsS": tt.cs}).Resolve(context.Background(), "S", tt.svc)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != KindConnectionString || c.Endpoint != tt.endpoint || c.CredentialType != tt.cred {
				t.Fatalf("got kind %s endpoint %s cred %s", c.Kind, c.Endpoint, c.CredentialType)
			}
			if !strings.Contains(c.Redacted(), tt.redacted) || !strings.Contains(c.ConnectionString, tt.expandedPart) {
				t.Fatalf("redacted %q / cs missing %q", c.Redacted(), tt.expandedPart)
			}
			assertNoSecrets(t, "Redacted", c.Redacted())
			for _, p := range c.Properties {
				assertNoSecrets(t, "Properties", p)
			}
			// The SDK accepts what we hand it (no network call is made by these constructors).
			switch tt.svc {
			case Blob:
				_, err = azblob.NewClientFromConnectionString(c.ConnectionString, nil)
			case Queue:
				_, err = azqueue.NewServiceClientFromConnectionString(c.ConnectionString, nil)
			case Table:
				if c.CredentialType == CredSharedKey {
					_, err = aztables.NewServiceClientFromConnectionString(c.ConnectionString, nil)
				}
			}
			if err != nil {
				t.Fatalf("SDK rejects the resolved connection string: %v", err)
			}
		})
	}
}

func TestMalformedConnectionStrings(t *testing.T) {
	tests := []struct {
		svc      Service
		cs, want string
		conflict bool
	}{
		{Blob, "AccountName=a;" + cliSec, "segment 2 has no '='", false},
		{Blob, "UseDevelopmentStorage=true;" + key1, "cannot be combined with <unknown key>", false},
		{Blob, "=x;AccountName=a", "empty key", false},
		{Blob, "AccountKey=" + key1, "needs AccountName or BlobEndpoint", false},
		{Queue, "BlobEndpoint=https://x;AccountKey=" + key1, "needs AccountName or QueueEndpoint", false},
		{Blob, "AccountName=a", "needs AccountKey or SharedAccessSignature", false},
		{Blob, "AccountName=a;AccountKey=not*base64!" + cliSec, "AccountKey is not valid base64", false},
		{Blob, "AccountName=a;AccountKey=" + key1 + ";SharedAccessSignature=" + sasTok, "AccountKey and SharedAccessSignature", true},
		{Blob, "DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=" + key1, "DefaultEndpointsProtocol must be http or https", false},
		{Blob, "AccountName=a;AccountKey=" + key1 + ";BlobEndpoint=not a uri", "BlobEndpoint is not an absolute URI", false},
		{Blob, "UseDevelopmentStorage=false", "UseDevelopmentStorage must be \"true\"", false},
		{Blob, "UseDevelopmentStorage=true;AccountKey=" + key1, "cannot be combined with AccountKey", false},
		{Cosmos, "AccountKey=" + cosKey, "needs AccountEndpoint", false},
		{Cosmos, "AccountEndpoint=https://a.documents.azure.com:443/", "needs AccountKey", false},
		{ServiceBus, "SharedAccessKeyName=a;SharedAccessKey=" + sbKey, "needs Endpoint", false},
		{ServiceBus, "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=" + sbKey, "SharedAccessKey needs SharedAccessKeyName", false},
		{EventHubs, "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k", "SharedAccessKeyName needs SharedAccessKey", false},
		{EventHubs, "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + sbKey + ";SharedAccessSignature=" + sasTok, "SharedAccessSignature and SharedAccessKey", true},
		{EventHubs, "Endpoint=sb://ns.servicebus.windows.net/", "needs SharedAccessKeyName and SharedAccessKey, or SharedAccessSignature", false},
		{EventGrid, "Endpoint=/relative;AccessKey=" + egKey, "Endpoint is not an absolute URI", false},
		{EventGrid, "Endpoint=https://t.westus-1.eventgrid.azure.net/api/events", "needs AccessKey", false},
		{Blob, ";;;", "holds no key=value pairs", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.svc)+"/"+tt.want, func(t *testing.T) {
			name := "S"
			_, err := resolver(map[string]string{"S": tt.cs}).Resolve(context.Background(), name, tt.svc)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrMalformed with %q", err, tt.want)
			}
			if tt.conflict != errors.Is(err, ErrConflict) {
				t.Fatalf("ErrConflict = %v", errors.Is(err, ErrConflict))
			}
			var re *ResolveError
			if !errors.As(err, &re) || re.Key != "S" || !strings.Contains(err.Error(), "setting S from env") {
				t.Fatalf("error does not name the setting: %v", err)
			}
			assertNoSecrets(t, "error", err.Error())
		})
	}
}

func TestOtherConnectionStrings(t *testing.T) {
	tests := []struct {
		svc                        Service
		cs, endpoint, cred, entity string
	}{
		{Cosmos, cosmosCS("cos"), "https://cos.documents.azure.com:443/", CredAccountKey, ""},
		{ServiceBus, sbCS("ns"), "ns.servicebus.windows.net", CredSharedAccessKey, ""},
		{ServiceBus, sbCS("ns") + ";EntityPath=orders", "ns.servicebus.windows.net", CredSharedAccessKey, "orders"},
		{EventHubs, "Endpoint=sb://eh.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=x&" + sasTok + ";EntityPath=hub1", "eh.servicebus.windows.net", CredSAS, "hub1"},
		{EventHubs, "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + sbKey + ";UseDevelopmentEmulator=true", "localhost", CredSharedAccessKey, ""},
		{EventGrid, egCS("topic"), "https://topic.westus-1.eventgrid.azure.net/api/events", CredTopicKey, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.svc)+"/"+tt.endpoint, func(t *testing.T) {
			c, err := resolver(map[string]string{"X": tt.cs}).Resolve(context.Background(), "X", tt.svc)
			if err != nil {
				t.Fatal(err)
			}
			if c.Endpoint != tt.endpoint || c.CredentialType != tt.cred || c.EntityPath != tt.entity {
				t.Fatalf("endpoint %s cred %s entity %s", c.Endpoint, c.CredentialType, c.EntityPath)
			}
			assertNoSecrets(t, "redacted", c.Redacted()+c.String()+fmt.Sprint(c.Properties))
		})
	}
}

// Reference 1.4 / 1.6 (C8): identity endpoints per service and their precedence.
func TestIdentityEndpoints(t *testing.T) {
	tests := []struct {
		svc   Service
		props map[string]string
		want  string
	}{
		{Blob, map[string]string{"blobServiceUri": "https://b.blob.core.windows.net"}, "https://b.blob.core.windows.net"},
		{Blob, map[string]string{"serviceUri": "https://s.blob.core.windows.net"}, "https://s.blob.core.windows.net"},
		{Blob, map[string]string{"serviceUri": "https://s.blob.core.windows.net", "blobServiceUri": "https://b.blob.core.windows.net"}, "https://b.blob.core.windows.net"},
		{Blob, map[string]string{"accountName": "acct", "blobServiceUri": "https://b.blob.core.windows.net"}, "https://acct.blob.core.windows.net"}, // C8: extension path
		{Queue, map[string]string{"queueServiceUri": "https://q.queue.core.windows.net", "blobServiceUri": "https://b"}, "https://q.queue.core.windows.net"},
		{Queue, map[string]string{"serviceUri": "https://s.queue.core.windows.net"}, "https://s.queue.core.windows.net"},
		{Queue, map[string]string{"serviceUri": "https://s.queue.core.windows.net", "queueServiceUri": "https://q.queue.core.windows.net"}, "https://q.queue.core.windows.net"},
		{Queue, map[string]string{"accountName": "acct"}, "https://acct.queue.core.windows.net"},
		{Table, map[string]string{"tableServiceUri": "https://t.table.core.windows.net"}, "https://t.table.core.windows.net"},
		{Table, map[string]string{"accountName": "acct", "azureCloud": "usgov"}, "https://acct.table.core.usgovcloudapi.net"},
		{Blob, map[string]string{"accountName": "acct", "azureCloud": "China"}, "https://acct.blob.core.chinacloudapi.cn"},
		{Cosmos, map[string]string{"accountEndpoint": "https://c.documents.azure.com:443/"}, "https://c.documents.azure.com:443/"},
		{ServiceBus, map[string]string{"fullyQualifiedNamespace": "ns.servicebus.windows.net"}, "ns.servicebus.windows.net"},
		{ServiceBus, map[string]string{"fullyQualifiedNamespace": "sb://ns.servicebus.windows.net/"}, "ns.servicebus.windows.net"},
		{EventHubs, map[string]string{"fullyQualifiedNamespace": "eh.servicebus.windows.net"}, "eh.servicebus.windows.net"},
		{EventGrid, map[string]string{"topicEndpointUri": "https://t.westus-1.eventgrid.azure.net/api/events"}, "https://t.westus-1.eventgrid.azure.net/api/events"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d/%s", i, tt.svc), func(t *testing.T) {
			m := map[string]string{}
			for k, v := range tt.props {
				m["Conn__"+k] = v
			}
			c, err := resolver(m).Resolve(context.Background(), "Conn", tt.svc)
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != KindIdentity || c.Endpoint != tt.want || c.Credential == nil || c.CredentialType != CredDefault {
				t.Fatalf("kind %s endpoint %s cred %s", c.Kind, c.Endpoint, c.CredentialType)
			}
		})
	}
}

func TestIdentityEndpointErrors(t *testing.T) {
	tests := []struct {
		svc   Service
		props map[string]string
		sent  error
		want  string
	}{
		{Blob, map[string]string{"queueServiceUri": "https://q"}, ErrIncomplete, "'blobServiceUri', 'serviceUri' or 'accountName'"},
		{Table, map[string]string{"serviceUri": "https://q"}, ErrIncomplete, "'tableServiceUri' or 'accountName'"},
		{ServiceBus, map[string]string{"credential": "managedidentity"}, ErrIncomplete, "Connection should have an 'fullyQualifiedNamespace' property or be a string representing a connection string."},
		{EventHubs, map[string]string{"clientId": "x"}, ErrIncomplete, "Connection should have an 'fullyQualifiedNamespace' property"},
		{Cosmos, map[string]string{"clientId": "x"}, ErrIncomplete, "Connection should have an 'accountEndpoint' property or be a string representing a connection string."},
		{EventGrid, map[string]string{"clientId": "x"}, ErrIncomplete, "'topicEndpointUri'"},
		{Blob, map[string]string{"blobServiceUri": "not a uri"}, ErrMalformed, "Conn__blobServiceUri is not an absolute URI"},
		{Blob, map[string]string{"blobServiceUri": "https://a.blob.core.windows.net/?sig=" + sasTok}, ErrMalformed, "must not carry a query string"},
		{EventGrid, map[string]string{"topicEndpointUri": "/api/events"}, ErrMalformed, "The 'TopicEndpointUri' property must be a valid absolute Uri"},
		{Blob, map[string]string{"accountName": "https://acct.blob.core.windows.net"}, ErrMalformed, "must be a storage account name"},
		{ServiceBus, map[string]string{"fullyQualifiedNamespace": "ns.servicebus.windows.net/path"}, ErrMalformed, "is not a host name"},
		{Blob, map[string]string{"accountName": "a", "azureCloud": "mars"}, ErrMalformed, "Conn__azureCloud must be public, usgov or china"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d/%s", i, tt.svc), func(t *testing.T) {
			m := map[string]string{}
			for k, v := range tt.props {
				m["Conn__"+k] = v
			}
			_, err := resolver(m).Resolve(context.Background(), "Conn", tt.svc)
			if !errors.Is(err, tt.sent) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v with %q", err, tt.sent, tt.want)
			}
			assertNoSecrets(t, "error", err.Error())
		})
	}
}

func TestConnectionRedaction(t *testing.T) {
	for _, cs := range []string{storageCS("a"), "UseDevelopmentStorage=true", storageCS("a") + ";" + key1 + ";Odd=" + cliSec, "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=" + sasTok} {
		c, err := resolver(map[string]string{"S": cs}).Resolve(context.Background(), "S", Blob)
		if err != nil {
			t.Fatal(err)
		}
		var logBuf strings.Builder
		slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("resolved", "connection", c)
		slog.New(slog.NewTextHandler(&logBuf, nil)).Info("resolved", "connection", c)
		out := fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c) + c.String() + c.Redacted() + logBuf.String()
		assertNoSecrets(t, "printed connection", out)
		if !strings.Contains(logBuf.String(), `"endpoint":"https://a.blob.core.windows.net`) && !strings.Contains(logBuf.String(), "127.0.0.1:10000") {
			t.Fatalf("log lacks the endpoint: %s", logBuf.String())
		}
		if !strings.Contains(c.Redacted(), "=***") {
			t.Fatalf("Redacted = %q", c.Redacted())
		}
		if got := c.Scrub("failed: AccountKey=" + key1 + " sig=" + "U2lnbmF0dXJlU2VjcmV0JTJG" + " and " + DevStoreAccountKey); strings.Contains(got, key1) || strings.Contains(got, DevStoreAccountKey) || strings.Contains(got, "U2lnbmF0dXJlU2VjcmV0JTJG") {
			t.Fatalf("Scrub = %q", got)
		}
	}
}

// Resolving makes no network call; credentials are cached per connection section.
func TestNoNetworkAndCredentialCache(t *testing.T) {
	tr := &failTransport{t: t}
	m := map[string]string{
		"A__blobServiceUri": "https://a.blob.core.windows.net", "A__queueServiceUri": "https://a.queue.core.windows.net",
		"A__credential": "managedidentity", "B__blobServiceUri": "https://b.blob.core.windows.net",
	}
	r := NewResolver(NewSettings(FromMap("env", m)), &ResolverOptions{ClientOptions: azcore.ClientOptions{Transport: tr}})
	ctx := context.Background()
	a1, err := r.Resolve(ctx, "A", Blob)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := r.Resolve(ctx, "a", Queue)
	b, _ := r.Resolve(ctx, "B", Blob)
	if a1.Credential != a2.Credential {
		t.Fatal("credential not cached per connection")
	}
	if a1.Credential == b.Credential {
		t.Fatal("different connections share a credential")
	}
	if a2.Endpoint != "https://a.queue.core.windows.net" || a1.ClientOptions.Transport != tr {
		t.Fatalf("endpoint %s / client options not passed on", a2.Endpoint)
	}
	if tr.calls != 0 {
		t.Fatalf("resolve made %d HTTP calls", tr.calls)
	}
}

type failTransport struct {
	t     *testing.T
	calls int
}

func (f *failTransport) Do(r *http.Request) (*http.Response, error) {
	f.calls++
	return nil, errors.New("no network in this test")
}

// Settings sources: environment beats local.settings.json; ConnectionStrings section (C68).
func TestSettingsSources(t *testing.T) {
	ls, err := ParseLocalSettings("local.settings.json", []byte(`{"IsEncrypted": false,
		"Values": {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "Both": "`+storageCS("file")+`", "S1__blobServiceUri": "https://f.blob.core.windows.net"},
		"ConnectionStrings": {"Named": "`+storageCS("named")+`"},
		"Host": {"LocalHttpPort": 7071}}`))
	if err != nil {
		t.Fatal(err)
	}
	env := FromEnviron([]string{"Both=" + storageCS("env"), "S1__credential=managedidentity", "malformed", "=x"})
	r := NewResolver(NewSettings(env, ls), nil)
	ctx := context.Background()
	c, err := r.Resolve(ctx, "Both", Blob)
	if err != nil || c.Source != "env" || c.Endpoint != "https://env.blob.core.windows.net" {
		t.Fatalf("env must win: %v %v", c, err)
	}
	c, err = r.Resolve(ctx, "Named", Blob)
	if err != nil || c.Source != "local.settings.json" || c.Key != "ConnectionStrings:Named" {
		t.Fatalf("ConnectionStrings: %v %v", c, err)
	}
	c, err = r.Resolve(ctx, "", Queue)
	if err != nil || c.Endpoint != "http://127.0.0.1:10001/devstoreaccount1" {
		t.Fatalf("default storage: %v %v", c, err)
	}
	c, err = r.Resolve(ctx, "S1", Blob)
	if err != nil || c.CredentialType != CredManagedIdentity || c.Source != "env, local.settings.json" {
		t.Fatalf("mixed section: %v %v", c, err)
	}

	_, err = ParseLocalSettings("x/local.settings.json", []byte(`{"IsEncrypted": true, "Values": {"A": "secretcipher"}}`))
	if !errors.Is(err, ErrEncryptedSettings) || !strings.Contains(err.Error(), "x/local.settings.json") || strings.Contains(err.Error(), "secretcipher") {
		t.Fatalf("encrypted: %v", err)
	}
	// Numbers and booleans are read as their text, as Core Tools accepts them; an object is an
	// error naming the key (escaped when it holds a control character), never the values.
	lsrc, err := ParseLocalSettings("l.json", []byte("\uFEFF{'Values': {'A': '"+key1+"', 'B': 3, 'C': true, 'D': 1.50, 'E': null,}, // comment\n}"))
	if err != nil {
		t.Fatalf("lenient local.settings.json: %v", err)
	}
	lss := NewSettings(lsrc)
	for k, want := range map[string]string{"B": "3", "C": "true", "D": "1.50"} {
		if v, ok := lss.Get(k); !ok || v != want {
			t.Errorf("Values.%s = %q, %v; want %q", k, v, ok, want)
		}
	}
	if lss.Exists("E") {
		t.Errorf("null value became a setting")
	}
	_, err = ParseLocalSettings("l.json", []byte(`{"Values": {"A": "`+key1+`", "B\u0000x": {"n": 3}}}`))
	if err == nil || strings.Contains(err.Error(), key1) || !strings.Contains(err.Error(), "l.json: Values.\"B\\x00x\": holds an object") {
		t.Fatalf("bad type: %v", err)
	}
	_, err = ParseLocalSettings("l.json", []byte(`{"Values": {"A": "`+key1+`"`))
	if err == nil || strings.Contains(err.Error(), key1) {
		t.Fatalf("syntax: %v", err)
	}
	if _, err := LoadLocalSettings(t.TempDir() + "/missing.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if s, err := NewDefaultSettings(t.TempDir() + "/missing.json"); err != nil || s == nil {
		t.Fatalf("NewDefaultSettings with a missing file: %v", err)
	}
}

func TestSettingsAPI(t *testing.T) {
	s := NewSettings(FromMap("m", map[string]string{"A__B__C": "1", "a:b:d": "2", "A__BX": "3", "Top": "v"}), FromMap("later", map[string]string{"top": "ignored"}))
	if v, ok := s.Get("a:B__c"); !ok || v != "1" {
		t.Fatal("Get")
	}
	if v, _ := s.Get("TOP"); v != "v" {
		t.Fatal("first source must win")
	}
	ch := s.Children("a__b")
	if len(ch) != 2 || ch["c"].Value != "1" || ch["d"].Value != "2" {
		t.Fatalf("Children = %v", ch)
	}
	if !s.Exists("a") || !s.Exists("A:B") || s.Exists("a:b:c:d") || s.Exists("nope") {
		t.Fatal("Exists")
	}
	if len(s.All()) != 4 {
		t.Fatal("All")
	}
	var nilS *Settings
	if _, ok := nilS.Get("x"); ok || nilS.Exists("x") || nilS.Children("x") != nil {
		t.Fatal("nil settings")
	}
}

func TestUnknownService(t *testing.T) {
	_, err := resolver(nil).Resolve(context.Background(), "X", Service("files"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "blob, queue") {
		t.Fatalf("err = %v", err)
	}
}

func TestAzureCloudClientOptions(t *testing.T) {
	c, err := resolver(map[string]string{"C__accountName": "a", "C__azureCloud": "usgov"}).Resolve(context.Background(), "C", Blob)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientOptions.Cloud.ActiveDirectoryAuthorityHost != cloud.AzureGovernment.ActiveDirectoryAuthorityHost {
		t.Fatalf("cloud = %+v", c.ClientOptions.Cloud)
	}
}

// A missing connection names the keys tried and suggests settings with close names; the
// problem text has no fix in it, no sentinel prefix and no repeated punctuation.
func TestNotFoundDidYouMean(t *testing.T) {
	s := NewSettings(FromMap("local.settings.json", map[string]string{
		"AzureWebJobStorage":         "UseDevelopmentStorage=true",
		"Storag1__queueServiceUri":   "https://x.queue.core.windows.net",
		"Unrelated":                  "x",
		"AzureWebJobsStorageAccount": "y",
	}))
	r := NewResolver(s, nil)
	for _, tc := range []struct {
		name, want string
	}{
		{"", `(did you mean AzureWebJobStorage or Storag1?)`},
		{"Storage1", `(did you mean Storag1?)`},
	} {
		_, err := r.Resolve(context.Background(), tc.name, Queue)
		var re *ResolveError
		if !errors.As(err, &re) || !errors.Is(err, ErrNotFound) {
			t.Fatalf("Resolve(%q) = %v", tc.name, err)
		}
		p := re.Problem()
		if !strings.HasSuffix(p, tc.want) || strings.Contains(p, "fix") || strings.Contains(p, ErrNotFound.Error()) || strings.Contains(p, ".;") {
			t.Errorf("Resolve(%q).Problem() = %q; want one ending %q", tc.name, p, tc.want)
		}
		if strings.Contains(err.Error(), "UseDevelopmentStorage") || strings.Contains(err.Error(), "x.queue") {
			t.Errorf("value leaked: %v", err)
		}
	}
}
