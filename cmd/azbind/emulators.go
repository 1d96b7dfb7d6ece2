package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/expr"
	"github.com/azbind/azbind/internal/emulator"
)

func init() {
	commands["emulators"] = command{
		summary: "start the local emulators an app needs and print the settings to use (emulators start)",
		run:     runEmulators,
	}
}

// LocalSASKey is the SAS key of the local Service Bus / Event Hubs (the AMQP peer) that
// `azbind emulators start` runs: a public, well-known test value like Azurite's account key and
// the one of Microsoft's own Service Bus emulator, so that settings written once keep working.
const localSASKey = "SAS_KEY_VALUE"

const emulatorsUsage = `usage: azbind emulators start [APPDIR] [--all] [--free-ports] [--dir DIR]
                              [--queue NAME[:session]]... [--topic TOPIC/SUBSCRIPTION[:session]]...
                              [--hub NAME]... [--partitions N]

Starts the local emulators an app folder needs, as its bindings say (APPDIR, default the current
folder when it holds host.json), or all of them with --all, and runs until Ctrl-C, then stops them:
  Azurite          Storage: blob, queue and table (always; AzureWebJobsStorage)  ports 10000-10002
  AMQP peer        a local Service Bus and Event Hubs (serviceBus*, eventHub*)     port 5672
  Cosmos launcher  a local Cosmos DB (cosmosDB*), plain HTTP                       port 8081
It prints every app setting to use, named after the bindings' "connection" properties.
Service Bus queues, topics and subscriptions and event hubs are declared from the app's bindings
(queueName, topicName/subscriptionName, isSessionsEnabled, eventHubName, consumerGroup) and from
--queue, --topic and --hub; --partitions is the partition count of every event hub (default 2).
--free-ports picks free ports instead of the standard ones; --dir keeps Azurite's data in DIR
(default: a temporary folder, removed on exit). The emulators are installed once with
` + "`npm ci --prefix emulators`" + ` in the azbind repository (or set AZBIND_EMULATORS_DIR).
`

// appNeeds is what an app folder's bindings need from the emulators.
type appNeeds struct {
	serviceBus, eventHubs, cosmos bool
	conns                         map[connection.Service]map[string]bool // connection names as written ("" = default)
	queues                        map[string]bool                        // name -> requiresSession
	topics                        map[string]map[string]bool             // topic -> subscription -> requiresSession
	hubs                          map[string]map[string]bool             // hub -> consumer groups
	notes                         []string
}

func newNeeds() *appNeeds {
	return &appNeeds{conns: map[connection.Service]map[string]bool{}, queues: map[string]bool{},
		topics: map[string]map[string]bool{}, hubs: map[string]map[string]bool{}}
}

func (n *appNeeds) conn(svc connection.Service, name string) {
	if n.conns[svc] == nil {
		n.conns[svc] = map[string]bool{}
	}
	n.conns[svc][name] = true
}

func (n *appNeeds) topic(t, sub string, session bool) {
	if n.topics[t] == nil {
		n.topics[t] = map[string]bool{}
	}
	if sub != "" {
		n.topics[t][sub] = session
	}
}

func (n *appNeeds) hub(h, group string) {
	if n.hubs[h] == nil {
		n.hubs[h] = map[string]bool{}
	}
	if group != "" && !strings.EqualFold(group, "$Default") {
		n.hubs[h][group] = true
	}
}

// needsOf reads what app's bindings need. %setting% names resolve with the app's settings.
func needsOf(app *extension.AppSpec) *appNeeds {
	n := newNeeds()
	str := func(f *extension.FunctionSpec, b *extension.BindingSpec, prop string) string {
		raw, _ := b.String(prop)
		v, err := expr.ResolveSettings(raw, app.Settings.Get)
		if err != nil {
			n.notes = append(n.notes, fmt.Sprintf("%s: %s: %v (not declared)", f.Where, prop, err))
			return ""
		}
		return v
	}
	for _, f := range app.Functions {
		for _, b := range f.Bindings {
			if b == nil {
				continue
			}
			conn, _ := b.String("connection")
			session := false
			if v, ok := b.Properties["isSessionsEnabled"].(bool); ok {
				session = v
			}
			switch strings.ToLower(b.Type) {
			case "queuetrigger", "queue", "blobtrigger", "blob", "table":
				svc := connection.Queue
				if strings.HasPrefix(strings.ToLower(b.Type), "blob") {
					svc = connection.Blob
				} else if strings.EqualFold(b.Type, "table") {
					svc = connection.Table
				}
				n.conn(svc, conn)
			case "servicebustrigger", "servicebus":
				n.serviceBus = true
				n.conn(connection.ServiceBus, conn)
				if q := str(f, b, "queueName"); q != "" {
					n.queues[q] = n.queues[q] || session
				} else if t := str(f, b, "topicName"); t != "" {
					n.topic(t, str(f, b, "subscriptionName"), session)
				}
			case "eventhubtrigger", "eventhub":
				n.eventHubs = true
				n.conn(connection.EventHubs, conn)
				if h := str(f, b, "eventHubName"); h != "" {
					n.hub(h, str(f, b, "consumerGroup"))
				}
			case "cosmosdbtrigger", "cosmosdb":
				n.cosmos = true
				n.conn(connection.Cosmos, conn)
				if lc, _ := b.String("leaseConnection"); lc != "" {
					n.conn(connection.Cosmos, lc)
				}
			}
		}
	}
	return n
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runEmulators(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "start" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, emulatorsUsage)
			return 0
		}
		fmt.Fprint(stderr, emulatorsUsage)
		return 2
	}
	fs := flag.NewFlagSet("azbind emulators start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	all := fs.Bool("all", false, "")
	free := fs.Bool("free-ports", false, "")
	dir := fs.String("dir", "", "")
	partitions := fs.Int("partitions", 2, "")
	var queues, topics, hubs multiFlag
	fs.Var(&queues, "queue", "")
	fs.Var(&topics, "topic", "")
	fs.Var(&hubs, "hub", "")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || len(pos) > 1 || *partitions < 1 || *partitions > 32 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, emulatorsUsage)
			return 0
		}
		fmt.Fprintf(stderr, "azbind emulators start: bad arguments\n%s", emulatorsUsage)
		return 2
	}
	needs := newNeeds()
	appDir := ""
	if len(pos) == 1 {
		appDir = pos[0]
	} else if _, err := os.Stat("host.json"); err == nil {
		appDir = "."
	}
	if appDir != "" {
		app, err := extension.LoadAppDir(appDir, nil)
		if app == nil || len(app.Functions) == 0 {
			msg := "no function folders"
			if err != nil {
				msg = connection.ScrubText(strings.SplitN(err.Error(), "\n", 2)[0])
			}
			fmt.Fprintf(stderr, "azbind emulators start: %s: %s (pass an app folder, or --all)\n", appDir, msg)
			return 1
		}
		needs = needsOf(app)
	}
	for _, q := range queues {
		name, session := strings.CutSuffix(q, ":session")
		needs.serviceBus = true
		needs.queues[name] = needs.queues[name] || session
	}
	for _, t := range topics {
		spec, session := strings.CutSuffix(t, ":session")
		topic, sub, _ := strings.Cut(spec, "/")
		needs.serviceBus = true
		needs.topic(topic, sub, session)
	}
	for _, h := range hubs {
		needs.eventHubs = true
		needs.hub(h, "")
	}
	if *all {
		needs.serviceBus, needs.eventHubs, needs.cosmos = true, true, true
	}
	for _, note := range needs.notes {
		fmt.Fprintln(stderr, "azbind emulators start: "+note)
	}

	var stops []func() error
	stopAll := func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		stops = nil
		return errors.Join(errs...)
	}
	defer func() { _ = stopAll() }()
	fail := func(what string, err error, port string) int {
		msg := err.Error()
		if !*free && strings.Contains(msg, "in use") {
			msg += fmt.Sprintf(" (another %s may already be running on %s — or use --free-ports)", what, port)
		}
		fmt.Fprintf(stderr, "azbind emulators start: %s: %s\n", what, msg)
		return 1
	}

	// Azurite: always (AzureWebJobsStorage is the host's storage, and every storage binding's).
	aopts := &emulator.AzuriteOptions{Dir: *dir}
	if !*free {
		aopts.Ports = [3]int{10000, 10001, 10002}
	}
	az, err := emulator.LaunchAzurite(aopts)
	if err != nil {
		return fail("Azurite", err, "ports 10000-10002")
	}
	stops = append(stops, az.Stop)
	var settings []string
	storage := "UseDevelopmentStorage=true"
	if *free {
		storage = az.ConnectionString
	}
	fmt.Fprintf(stdout, "Azurite (Storage) is running: blob %s, queue %s, table %s\n", az.BlobEndpoint, az.QueueEndpoint, az.TableEndpoint)
	settings = append(settings, settingLines(needs.conns[connection.Queue], needs.conns[connection.Blob], needs.conns[connection.Table], "AzureWebJobsStorage", storage, true)...)

	if needs.serviceBus || needs.eventHubs {
		popts := &emulator.AMQPPeerOptions{Key: localSASKey, Entities: peerEntities(needs, *partitions)}
		if !*free {
			popts.Port = 5672
		}
		peer, err := emulator.LaunchAMQPPeer(popts)
		if err != nil {
			return fail("the AMQP peer", err, "port 5672")
		}
		stops = append(stops, peer.Stop)
		fmt.Fprintf(stdout, "AMQP peer (local Service Bus and Event Hubs) is running: amqp://127.0.0.1:%d, admin %s\n", peer.Port, peer.AdminURL)
		for _, l := range entityLines(needs, *partitions) {
			fmt.Fprintln(stdout, "  "+l)
		}
		if needs.serviceBus {
			settings = append(settings, settingLines(needs.conns[connection.ServiceBus], nil, nil, "AzureWebJobsServiceBus", peer.ConnectionString, false)...)
		}
		if needs.eventHubs {
			settings = append(settings, settingLines(needs.conns[connection.EventHubs], nil, nil, "EventHubConnection", peer.ConnectionString, false)...)
		}
	}
	if needs.cosmos {
		copts := &emulator.CosmosFeedOptions{PlainHTTP: true}
		if !*free {
			copts.Port = 8081
		}
		feed, err := emulator.LaunchCosmosFeed(copts)
		if err != nil {
			return fail("the Cosmos launcher", err, "port 8081")
		}
		stops = append(stops, feed.Stop)
		fmt.Fprintf(stdout, "Cosmos launcher (local Cosmos DB) is running: %s\n", feed.Endpoint)
		settings = append(settings, settingLines(needs.conns[connection.Cosmos], nil, nil, "CosmosDB", feed.ConnectionString, false)...)
	}
	fmt.Fprintln(stdout, "Use these app settings (environment variables, or local.settings.json \"Values\"):")
	for _, s := range settings {
		fmt.Fprintln(stdout, "  "+s)
	}
	fmt.Fprintln(stdout, "See what functions wrote with `azbind peek queue NAME`, `azbind get blob C/B`, `azbind peek servicebus ENTITY`, `azbind peek eventhub HUB`.")
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
	if err := stopAll(); err != nil {
		fmt.Fprintf(stderr, "azbind emulators: stopping: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "Emulators stopped.")
	return 0
}

// settingLines names the settings for the connection names used (several sets for storage's
// three services); the default name when none is written. A connection name resolves as the
// setting of that name (or AzureWebJobs<name>), so NAME=value works for every service.
func settingLines(a, b, c map[string]bool, def, value string, storage bool) []string {
	names := map[string]bool{}
	for _, m := range []map[string]bool{a, b, c} {
		for n := range m {
			if n == "" || storage && (strings.EqualFold(n, "Storage") || strings.EqualFold(n, "AzureWebJobsStorage")) {
				n = def
			}
			names[n] = true
		}
	}
	if len(names) == 0 {
		names[def] = true
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n+"="+value)
	}
	sort.Strings(out)
	return out
}

// peerEntities is the AMQP peer's entity configuration (emulators/amqp-peer/peer.js's format).
func peerEntities(n *appNeeds, partitions int) map[string]any {
	var queues, topics, hubs []map[string]any
	for _, q := range sortedSet(n.queues) {
		queues = append(queues, map[string]any{"name": q, "requiresSession": n.queues[q]})
	}
	for _, t := range sortedSet(n.topics) {
		var subs []map[string]any
		for _, s := range sortedSet(n.topics[t]) {
			subs = append(subs, map[string]any{"name": s, "requiresSession": n.topics[t][s]})
		}
		topics = append(topics, map[string]any{"name": t, "subscriptions": subs})
	}
	for _, h := range sortedSet(n.hubs) {
		hubs = append(hubs, map[string]any{"name": h, "partitions": partitions, "consumerGroups": sortedSet(n.hubs[h])})
	}
	return map[string]any{"queues": queues, "topics": topics, "eventHubs": hubs}
}

func entityLines(n *appNeeds, partitions int) []string {
	var out []string
	for _, q := range sortedSet(n.queues) {
		s := "queue " + q
		if n.queues[q] {
			s += " (sessions)"
		}
		out = append(out, s)
	}
	for _, t := range sortedSet(n.topics) {
		s := "topic " + t
		if subs := sortedSet(n.topics[t]); len(subs) > 0 {
			s += ", subscriptions " + strings.Join(subs, ", ")
		}
		out = append(out, s)
	}
	for _, h := range sortedSet(n.hubs) {
		s := "event hub " + h + " (" + strconv.Itoa(partitions) + " partitions"
		if g := sortedSet(n.hubs[h]); len(g) > 0 {
			s += ", consumer groups $Default, " + strings.Join(g, ", ")
		}
		out = append(out, s+")")
	}
	if len(out) == 0 {
		out = append(out, "no entities declared: add them with --queue, --topic or --hub")
	}
	return out
}

func sortedSet[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
