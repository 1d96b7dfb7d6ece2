package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/expr"
)

func init() {
	commands["kubernetes"] = command{
		summary: "print a Deployment and a KEDA ScaledObject for an app folder (as `func kubernetes deploy --dry-run`)",
		run:     runKubernetes,
	}
}

const kubernetesUsage = `usage: azbind kubernetes APPDIR [--name NAME] [--image IMAGE] [--namespace NS]
                         [--secret SECRET] [--min-replicas N] [--max-replicas N]

Prints, as YAML on standard output, what runs the app folder on Kubernetes with KEDA, as
` + "`func kubernetes deploy --dry-run`" + ` does: a Deployment of IMAGE (which runs ` + "`azbind start`" + ` on the app,
see the Dockerfile) with the app settings from the Secret SECRET (default NAME), a Service on port
7071, and a KEDA ScaledObject whose triggers come from the app's bindings: azure-queue,
azure-blob, azure-servicebus and azure-eventhub scalers with the bindings' connection settings as
connectionFromEnv, and KEDA's metrics-api scaler on the host's /admin/scale (with the master key
host__master from the Secret) for every other trigger and for identity-based connections.
Nothing secret is printed: create the Secret yourself, e.g.
  kubectl create secret generic NAME --from-env-file=app.env   (one SETTING=value per line,
  including host__master, the master key the metrics-api scaler presents)
`

// k8s manifests, with fields in the order kubectl prints them.
type (
	k8sMeta struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace,omitempty"`
		Labels    map[string]string `yaml:"labels,omitempty"`
	}
	k8sObject struct {
		APIVersion string  `yaml:"apiVersion"`
		Kind       string  `yaml:"kind"`
		Metadata   k8sMeta `yaml:"metadata"`
		Spec       any     `yaml:"spec"`
	}
	deploymentSpec struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	}
	container struct {
		Name           string    `yaml:"name"`
		Image          string    `yaml:"image"`
		Ports          []port    `yaml:"ports"`
		Env            []envVar  `yaml:"env,omitempty"`
		EnvFrom        []envFrom `yaml:"envFrom"`
		ReadinessProbe probe     `yaml:"readinessProbe"`
	}
	port struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	}
	envVar struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	envFrom struct {
		SecretRef struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port int    `yaml:"port"`
		} `yaml:"httpGet"`
	}
	serviceSpec struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []servicePort     `yaml:"ports"`
	}
	servicePort struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort int    `yaml:"targetPort"`
	}
	scaledObjectSpec struct {
		ScaleTargetRef struct {
			Name string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicaCount int           `yaml:"minReplicaCount"`
		MaxReplicaCount int           `yaml:"maxReplicaCount"`
		Triggers        []kedaTrigger `yaml:"triggers"`
	}
	kedaTrigger struct {
		Type              string            `yaml:"type"`
		Name              string            `yaml:"name,omitempty"`
		Metadata          map[string]string `yaml:"metadata"`
		AuthenticationRef *struct {
			Name string `yaml:"name"`
		} `yaml:"authenticationRef,omitempty"`
	}
	triggerAuthSpec struct {
		SecretTargetRef []secretTargetRef `yaml:"secretTargetRef"`
	}
	secretTargetRef struct {
		Parameter string `yaml:"parameter"`
		Name      string `yaml:"name"`
		Key       string `yaml:"key"`
	}
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func runKubernetes(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("azbind kubernetes", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "")
	image := fs.String("image", "", "")
	namespace := fs.String("namespace", "default", "")
	secret := fs.String("secret", "", "")
	minR := fs.Int("min-replicas", 0, "")
	maxR := fs.Int("max-replicas", 10, "")
	pos, err := parseInterspersed(fs, args)
	if err != nil || len(pos) != 1 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, kubernetesUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind kubernetes: need one APPDIR\n%s", kubernetesUsage)
		return 2
	}
	dir := pos[0]
	app, err := extension.LoadAppDir(dir, nil)
	if err != nil {
		var pe *extension.ProblemsError
		if errors.As(err, &pe) {
			for _, p := range pe.Problems {
				fmt.Fprintln(stderr, p.String())
			}
			fmt.Fprintf(stderr, "azbind kubernetes: %s does not load (`azbind validate %s` explains)\n", dir, dir)
			return 1
		}
		fmt.Fprintf(stderr, "azbind kubernetes: %v\n", err)
		return 1
	}
	if *name == "" {
		abs, _ := filepath.Abs(dir)
		*name = strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-"), "-")
	}
	for flagName, v := range map[string]string{"--name": *name, "--namespace": *namespace} {
		if len(v) > 63 || !dnsLabel.MatchString(v) {
			fmt.Fprintf(stderr, "azbind kubernetes: %s %q: use lower-case letters, digits and '-' (a DNS label, at most 63 characters)\n", flagName, v)
			return 2
		}
	}
	if *image == "" {
		*image = *name + ":latest"
	}
	if *secret == "" {
		*secret = *name
	}
	if *minR < 0 || *maxR < 1 || *minR > *maxR {
		fmt.Fprintf(stderr, "azbind kubernetes: --min-replicas %d --max-replicas %d: want 0 <= min <= max, max >= 1\n", *minR, *maxR)
		return 2
	}
	out, err := kubernetesManifests(app, *name, *image, *namespace, *secret, *minR, *maxR)
	if err != nil {
		fmt.Fprintf(stderr, "azbind kubernetes: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

// kubernetesManifests builds the YAML documents for app.
func kubernetesManifests(app *extension.AppSpec, name, image, namespace, secret string, minR, maxR int) (string, error) {
	labels := map[string]string{"app": name}
	meta := k8sMeta{Name: name, Namespace: namespace, Labels: labels}

	var dep deploymentSpec
	dep.Replicas = 1
	dep.Selector.MatchLabels = labels
	dep.Template.Metadata.Labels = labels
	c := container{Name: name, Image: image,
		Ports: []port{{Name: "http", ContainerPort: 7071}},
		Env:   []envVar{{Name: "AZBIND_HTTP_ADDR", Value: ":7071"}}}
	var ef envFrom
	ef.SecretRef.Name = secret
	c.EnvFrom = []envFrom{ef}
	c.ReadinessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Port = "/admin/host/ping", 7071
	dep.Template.Spec.Containers = []container{c}

	docs := []any{
		k8sObject{APIVersion: "apps/v1", Kind: "Deployment", Metadata: meta, Spec: dep},
		k8sObject{APIVersion: "v1", Kind: "Service", Metadata: meta, Spec: serviceSpec{Selector: labels,
			Ports: []servicePort{{Name: "http", Port: 7071, TargetPort: 7071}}}},
	}

	triggers, needAdmin, http := kedaTriggers(app, name, namespace)
	if len(triggers) > 0 {
		so := scaledObjectSpec{MinReplicaCount: minR, MaxReplicaCount: maxR, Triggers: triggers}
		so.ScaleTargetRef.Name = name
		if http && so.MinReplicaCount == 0 {
			so.MinReplicaCount = 1 // HTTP functions need a pod to answer: KEDA does not scale HTTP from zero
		}
		docs = append(docs, k8sObject{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Metadata: meta, Spec: so})
		if needAdmin {
			docs = append(docs, k8sObject{APIVersion: "keda.sh/v1alpha1", Kind: "TriggerAuthentication",
				Metadata: k8sMeta{Name: name + "-admin", Namespace: namespace, Labels: labels},
				Spec:     triggerAuthSpec{SecretTargetRef: []secretTargetRef{{Parameter: "apiKey", Name: secret, Key: "host__master"}}}})
		}
	}
	var b bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			b.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(d); err != nil {
			return "", err
		}
		_ = enc.Close()
	}
	return b.String(), nil
}

// kedaTriggers maps each function's trigger to a KEDA trigger. Storage queues and blobs, Service
// Bus and Event Hubs with a connection-string setting get their own scaler (connectionFromEnv is
// the setting's name); everything else — other triggers, identity-based connections — is covered
// by one metrics-api trigger on /admin/scale (the host's target-based instance count).
func kedaTriggers(app *extension.AppSpec, name, namespace string) (out []kedaTrigger, needAdmin, http bool) {
	str := func(b *extension.BindingSpec, prop string) string {
		raw, _ := b.String(prop)
		v, err := expr.ResolveSettings(raw, app.Settings.Get)
		if err != nil {
			return raw
		}
		return v
	}
	metricsAPI := false
	for _, f := range app.Functions {
		if f.Disabled {
			continue
		}
		for _, b := range f.Bindings {
			if b == nil || !b.IsTrigger() {
				continue
			}
			conn := str(b, "connection")
			var t *kedaTrigger
			switch strings.ToLower(b.Type) {
			case "queuetrigger":
				if env, ok := connectionEnv(app.Settings, conn, connection.Queue); ok {
					t = &kedaTrigger{Type: "azure-queue", Metadata: map[string]string{
						"queueName": expr.NormalizeQueueName(str(b, "queueName")), "queueLength": "5", "connectionFromEnv": env}}
				}
			case "blobtrigger":
				if env, ok := connectionEnv(app.Settings, conn, connection.Blob); ok {
					container, rest, _ := strings.Cut(str(b, "path"), "/")
					md := map[string]string{"blobContainerName": container, "blobCount": "5", "connectionFromEnv": env}
					if prefix, _, _ := strings.Cut(rest, "{"); prefix != "" {
						md["blobPrefix"] = prefix
					}
					t = &kedaTrigger{Type: "azure-blob", Metadata: md}
				}
			case "servicebustrigger":
				if env, ok := connectionEnv(app.Settings, conn, connection.ServiceBus); ok {
					md := map[string]string{"messageCount": "5", "connectionFromEnv": env}
					if q := str(b, "queueName"); q != "" {
						md["queueName"] = q
					} else {
						md["topicName"], md["subscriptionName"] = str(b, "topicName"), str(b, "subscriptionName")
					}
					t = &kedaTrigger{Type: "azure-servicebus", Metadata: md}
				}
			case "eventhubtrigger":
				env, ok := connectionEnv(app.Settings, conn, connection.EventHubs)
				storage, sok := connectionEnv(app.Settings, "", connection.Blob)
				if ok && sok {
					group := str(b, "consumerGroup")
					if group == "" {
						group = "$Default"
					}
					t = &kedaTrigger{Type: "azure-eventhub", Metadata: map[string]string{
						"connectionFromEnv": env, "storageConnectionFromEnv": storage, "eventHubName": str(b, "eventHubName"),
						"consumerGroup": group, "unprocessedEventThreshold": "64", "checkpointStrategy": "azureFunction"}}
				}
			case "httptrigger":
				http = true
				continue
			}
			if t == nil {
				metricsAPI = true
				continue
			}
			t.Name = strings.ToLower(f.Name)
			out = append(out, *t)
		}
	}
	if metricsAPI {
		needAdmin = true
		t := kedaTrigger{Type: "metrics-api", Name: "admin-scale", Metadata: map[string]string{
			"url":           fmt.Sprintf("http://%s.%s.svc.cluster.local:7071/admin/scale", name, namespace),
			"valueLocation": "targetInstances", "targetValue": "1",
			"authMode": "apiKey", "method": "header", "keyParamName": "x-functions-key"}}
		t.AuthenticationRef = &struct {
			Name string `yaml:"name"`
		}{Name: name + "-admin"}
		out = append(out, t)
	}
	return out, needAdmin, http
}

// connectionEnv is the environment variable holding the connection string of the connection
// name (the first key of the resolver's lookup order that the app's settings define, else the
// name as written); ok is false for an identity-based connection (name__… settings), which KEDA's
// connectionFromEnv cannot use.
func connectionEnv(s *connection.Settings, name string, svc connection.Service) (string, bool) {
	if name == "" {
		if def, ok := connection.DefaultName(svc); ok {
			name = def
		}
	}
	if name == "" {
		return "", false
	}
	for _, k := range connection.LookupOrder(name, svc) {
		if strings.Contains(k, ":") {
			continue // ConnectionStrings:… is not an environment variable name
		}
		if v, ok := s.Get(k); ok && v != "" {
			return k, true
		}
	}
	if len(s.Children(name)) > 0 || len(s.Children("AzureWebJobs"+name)) > 0 {
		return "", false
	}
	if svc == connection.Queue || svc == connection.Blob || svc == connection.Table {
		return "AzureWebJobs" + name, true // Storage -> AzureWebJobsStorage
	}
	return name, true
}
