package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// kedaFields are the trigger metadata fields KEDA documents for each scaler used (keda.sh/docs
// scalers azure-storage-queue, azure-storage-blob, azure-service-bus, azure-event-hub,
// metrics-api), and the ones each requires.
var kedaFields = map[string]struct{ allowed, required []string }{
	"azure-queue": {[]string{"queueName", "queueLength", "activationQueueLength", "connectionFromEnv", "accountName", "cloud", "endpointSuffix"},
		[]string{"queueName"}},
	"azure-blob": {[]string{"blobContainerName", "blobCount", "activationBlobCount", "connectionFromEnv", "accountName", "blobPrefix",
		"blobDelimiter", "cloud", "endpointSuffix", "recursive", "globPattern"}, []string{"blobContainerName"}},
	"azure-servicebus": {[]string{"queueName", "topicName", "subscriptionName", "namespace", "connectionFromEnv", "messageCount",
		"activationMessageCount", "cloud", "endpointSuffix", "useRegex", "operation"}, nil},
	"azure-eventhub": {[]string{"connectionFromEnv", "storageConnectionFromEnv", "consumerGroup", "unprocessedEventThreshold",
		"activationUnprocessedEventThreshold", "blobContainer", "checkpointStrategy", "eventHubName", "eventHubNameFromEnv",
		"eventHubNamespace", "cloud", "endpointSuffix", "storageEndpointSuffix", "storageAccountName"}, []string{"connectionFromEnv", "storageConnectionFromEnv"}},
	"metrics-api": {[]string{"targetValue", "activationTargetValue", "url", "valueLocation", "format", "method", "authMode",
		"keyParamName", "unsafeSsl"}, []string{"targetValue", "url", "valueLocation"}},
}

// Issue 22: `azbind kubernetes APPDIR` prints a Deployment, a Service and a KEDA ScaledObject
// whose triggers come from the app's bindings, as `func kubernetes deploy --dry-run` does. The
// YAML is parsed and checked against the Kubernetes shapes and KEDA's documented fields; the
// connection settings appear as connectionFromEnv names, never their values.
func TestKubernetesManifests(t *testing.T) {
	dir := t.TempDir()
	write := appWriter(t, dir)
	write("host.json", `{"version": "2.0"}`)
	const secret = "a2V5LXRoYXQtbXVzdC1ub3QtbGVhaw=="
	write("local.settings.json", `{"Values": {"AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=`+secret+`;EndpointSuffix=core.windows.net",
		"SB": "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=`+secret+`",
		"AzureWebJobsEH": "Endpoint=sb://y.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=`+secret+`",
		"Ident__fullyQualifiedNamespace": "z.servicebus.windows.net", "HubName": "readings",
		"CosmosDB": "AccountEndpoint=https://c.documents.azure.com:443/;AccountKey=`+secret+`;"}}`)
	write("Queue/function.json", `{"bindings": [{"type": "queueTrigger", "name": "m", "queueName": "Orders"}]}`)
	write("Blob/function.json", `{"bindings": [{"type": "blobTrigger", "name": "b", "path": "samples/in/{name}"}]}`)
	write("Topic/function.json", `{"bindings": [{"type": "serviceBusTrigger", "name": "m", "topicName": "t", "subscriptionName": "s", "connection": "SB"}]}`)
	write("Hub/function.json", `{"bindings": [{"type": "eventHubTrigger", "name": "e", "eventHubName": "%HubName%", "connection": "EH", "consumerGroup": "cg"}]}`)
	write("Feed/function.json", `{"bindings": [{"type": "cosmosDBTrigger", "name": "d", "databaseName": "db", "containerName": "c"}]}`)
	write("Ident/function.json", `{"bindings": [{"type": "serviceBusTrigger", "name": "m", "queueName": "q", "connection": "Ident"}]}`)

	code, out, errOut := runCmd(t, "kubernetes", dir, "--name", "shop", "--image", "registry.example/shop:1", "--namespace", "prod")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, secret) || strings.Contains(out, "AccountKey") || strings.Contains(out, "SharedAccessKey") {
		t.Fatalf("a secret is printed:\n%s", out)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(out)))
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("not YAML: %v\n%s", err, out)
		}
		docs[d["kind"].(string)] = d
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				m, _ := v.(map[string]any)
				v = m[k]
			case int:
				l, _ := v.([]any)
				if k >= len(l) {
					return nil
				}
				v = l[k]
			}
		}
		return v
	}
	dep := docs["Deployment"]
	if dep == nil || dep["apiVersion"] != "apps/v1" || get(dep, "metadata", "name") != "shop" || get(dep, "metadata", "namespace") != "prod" {
		t.Fatalf("Deployment: %v", dep)
	}
	if get(dep, "spec", "selector", "matchLabels", "app") != get(dep, "spec", "template", "metadata", "labels", "app") {
		t.Errorf("the selector does not match the pod labels")
	}
	c := get(dep, "spec", "template", "spec", "containers", 0)
	if get(c, "image") != "registry.example/shop:1" || get(c, "envFrom", 0, "secretRef", "name") != "shop" ||
		get(c, "readinessProbe", "httpGet", "path") != "/admin/host/ping" || get(c, "ports", 0, "containerPort") != 7071 {
		t.Errorf("container: %v", c)
	}
	if svc := docs["Service"]; svc == nil || get(svc, "spec", "ports", 0, "port") != 7071 || get(svc, "spec", "selector", "app") != "shop" {
		t.Errorf("Service: %v", svc)
	}
	so := docs["ScaledObject"]
	if so == nil || so["apiVersion"] != "keda.sh/v1alpha1" || get(so, "spec", "scaleTargetRef", "name") != "shop" ||
		get(so, "spec", "minReplicaCount") != 0 || get(so, "spec", "maxReplicaCount") != 10 {
		t.Fatalf("ScaledObject: %v", so)
	}
	byType := map[string]map[string]any{}
	for _, tr := range get(so, "spec", "triggers").([]any) {
		tm := tr.(map[string]any)
		typ := tm["type"].(string)
		f, known := kedaFields[typ]
		if !known {
			t.Errorf("trigger type %q is not one of the scalers used", typ)
			continue
		}
		md, _ := tm["metadata"].(map[string]any)
		for k, v := range md {
			if !contains(f.allowed, k) {
				t.Errorf("%s: metadata %q is not a documented field", typ, k)
			}
			if _, isStr := v.(string); !isStr {
				t.Errorf("%s: metadata %s = %v (%T): KEDA metadata values are strings", typ, k, v, v)
			}
		}
		for _, k := range f.required {
			if md[k] == nil {
				t.Errorf("%s: required metadata %q missing", typ, k)
			}
		}
		byType[typ] = md
	}
	for typ, want := range map[string]map[string]string{
		"azure-queue":      {"queueName": "orders", "connectionFromEnv": "AzureWebJobsStorage"},
		"azure-blob":       {"blobContainerName": "samples", "blobPrefix": "in/", "connectionFromEnv": "AzureWebJobsStorage"},
		"azure-servicebus": {"topicName": "t", "subscriptionName": "s", "connectionFromEnv": "SB"},
		"azure-eventhub": {"eventHubName": "readings", "consumerGroup": "cg", "connectionFromEnv": "AzureWebJobsEH",
			"storageConnectionFromEnv": "AzureWebJobsStorage", "checkpointStrategy": "azureFunction"},
		"metrics-api": {"url": "http://shop.prod.svc.cluster.local:7071/admin/scale", "valueLocation": "targetInstances", "targetValue": "1"},
	} {
		for k, v := range want {
			if got := byType[typ][k]; got != v {
				t.Errorf("%s: %s = %v, want %q", typ, k, got, v)
			}
		}
	}
	// The Cosmos DB trigger and the identity-based Service Bus connection go through metrics-api,
	// whose master key comes from the Secret.
	ta := docs["TriggerAuthentication"]
	if ta == nil || get(ta, "spec", "secretTargetRef", 0, "parameter") != "apiKey" || get(ta, "spec", "secretTargetRef", 0, "key") != "host__master" {
		t.Errorf("TriggerAuthentication: %v", ta)
	}

	// Bad names are refused with the rule.
	code, _, errOut = runCmd(t, "kubernetes", dir, "--name", "Shop_1")
	if code != 2 || !strings.Contains(errOut, "DNS label") {
		t.Errorf("--name Shop_1: exit %d %q", code, errOut)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
