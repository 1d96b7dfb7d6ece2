package servicebus_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/servicebus"
)

func verify(t *testing.T, settings map[string]string, hostJSON map[string]any, bindings ...*driver.BindingSpec) error {
	t.Helper()
	ext := map[string]map[string]any{}
	if hostJSON != nil {
		ext["serviceBus"] = hostJSON
	}
	h, err := extension.NewHost(extension.HostOptions{
		Settings:   connection.NewSettings(connection.FromMap("test", settings)),
		Logger:     slog.New(slog.DiscardHandler),
		HostConfig: &extension.HostConfig{Version: "2.0", Extensions: ext},
	})
	if err != nil {
		t.Fatal(err)
	}
	handler := extension.Action(func(ctx context.Context, s string) error { return nil })
	for _, b := range bindings {
		if b.Name == "$return" {
			handler = extension.Func(func(ctx context.Context, s string) (string, error) { return s, nil })
		}
	}
	if err := h.Func("F", handler, bindings...); err != nil {
		return err
	}
	return h.Verify(context.Background())
}

// Declaration mistakes are typed configuration errors naming the field; %setting% works in the
// entity names; the connection defaults to AzureWebJobsServiceBus.
func TestConfigErrors(t *testing.T) {
	ok := map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString, "QueueSetting": "orders"}
	for _, c := range []struct {
		name  string
		b     *driver.BindingSpec
		field string
	}{
		{"no entity", driver.Binding("serviceBusTrigger", "s", driver.DirIn, nil), "queueName"},
		{"queue and topic", servicebus.Trigger("s", "q", driver.Props{"topicName": "t"}), "queueName"},
		{"topic without subscription", driver.Binding("serviceBusTrigger", "s", driver.DirIn, driver.Props{"topicName": "t"}), "subscriptionName"},
		{"expression in trigger", servicebus.Trigger("s", "q-{x}"), "queueName"},
		{"autoComplete not bool", servicebus.Trigger("s", "q", driver.Props{"autoCompleteMessages": "no"}), "autoCompleteMessages"},
	} {
		err := verify(t, ok, nil, c.b)
		var ce *driver.ConfigError
		if !errors.Is(err, driver.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := verify(t, ok, nil, servicebus.Trigger("s", "%QueueSetting%"), servicebus.Output("$return", "out-{MessageId}")); err != nil {
		t.Errorf("valid declaration: %v", err)
	}
	if err := verify(t, ok, map[string]any{"maxConcurrentCalls": 0}, servicebus.Trigger("s", "q")); !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "maxConcurrentCalls") {
		t.Errorf("host.json error: %v", err)
	}
	// A bad trigger setting does not fail an output (it reads only clientRetryOptions).
	if err := verify(t, ok, map[string]any{"maxConcurrentCalls": 0}, extension.Binding("memTrigger", "s", extension.DirIn, extension.Props{"queue": "x"}), servicebus.Output("$return", "out")); err != nil {
		t.Errorf("output failed on a trigger setting: %v", err)
	}
	err := verify(t, map[string]string{}, nil, servicebus.Trigger("s", "q"))
	if err == nil || !strings.Contains(err.Error(), "AzureWebJobsServiceBus") {
		t.Errorf("missing connection: %v", err)
	}
	if err := verify(t, map[string]string{"MySB": peer.ConnectionString}, nil, servicebus.Trigger("s", "q", driver.Props{"connection": "MySB"})); err != nil {
		t.Errorf("named connection: %v", err)
	}
}

// Check (azbind connection resolve --check) accepts the peer's key and refuses a wrong one,
// without the key in the error.
func TestCheck(t *testing.T) {
	t.Parallel()
	resolve := func(cs string) *connection.Connection {
		r := connection.NewResolver(connection.NewSettings(connection.FromMap("t", map[string]string{"AzureWebJobsServiceBus": cs})), nil)
		c, err := r.Resolve(context.Background(), "", connection.ServiceBus)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := servicebus.Check(testCtx(t), resolve(peer.ConnectionString)); err != nil {
		t.Errorf("Check with the right key: %v", err)
	}
	check, ok := driver.CheckFor(connection.ServiceBus)
	if !ok {
		t.Fatal("no Check registered for Service Bus")
	}
	err := check(testCtx(t), resolve(peer.WrongKeyConnectionString()))
	if err == nil {
		t.Fatal("Check with a wrong key succeeded")
	}
	if strings.Contains(err.Error(), peer.Key) || strings.Contains(err.Error(), "d3Jvbmcta2V5") {
		t.Errorf("the error shows the key: %v", err)
	}
}

// Out-of-range host.json numbers are refused at load with one line naming the field, the allowed
// range and the fix (issue 25: maxConcurrentCalls 1e12 used to pass, then log "maxMessages cannot
// exceed 5000" for ever).
func TestOutOfRangeCountsRefusedAtLoad(t *testing.T) {
	ok := map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString}
	for _, c := range []struct {
		key string
		v   any
	}{
		{"maxConcurrentCalls", 1e12}, {"maxConcurrentCalls", 5001}, {"maxConcurrentCalls", -1},
		{"prefetchCount", 1e9}, {"maxMessageBatchSize", 100000}, {"maxConcurrentCallsPerSession", 1e12},
		{"maxConcurrentSessions", 1e12}, {"minMessageBatchSize", 1e7},
	} {
		err := verify(t, ok, map[string]any{c.key: c.v}, servicebus.Trigger("s", "q"))
		var ce *driver.ConfigError
		if !errors.As(err, &ce) || ce.Field != "extensions.serviceBus."+c.key {
			t.Errorf("%s = %v: %v", c.key, c.v, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "5000") || strings.Contains(msg, "\n") {
			t.Errorf("%s = %v: want one line with the allowed range, got %q", c.key, c.v, msg)
		}
	}
	err := verify(t, ok, map[string]any{"maxConcurrentCalls": 4000, "prefetchCount": 2000}, servicebus.Trigger("s", "q"))
	if !errors.Is(err, driver.ErrInvalidConfig) || !strings.Contains(err.Error(), "prefetchCount") {
		t.Errorf("maxConcurrentCalls 4000 + prefetchCount 2000: %v", err)
	}
	if err := verify(t, ok, map[string]any{"maxConcurrentCalls": 5000}, servicebus.Trigger("s", "q")); err != nil {
		t.Errorf("maxConcurrentCalls 5000: %v", err)
	}
}

// An EntityPath in the connection string that disagrees with queueName/topicName is refused at
// load, with the .NET client's message (Azure.Messaging.ServiceBus
// Resources.OnlyOneEntityNameMayBeSpecified); one that agrees (ignoring case, or naming a
// subscription's topic) is accepted (issue 25).
func TestEntityPathMustAgree(t *testing.T) {
	with := func(path string) map[string]string {
		return map[string]string{"AzureWebJobsServiceBus": peer.ConnectionString + ";EntityPath=" + path}
	}
	const dotnet = "The path to an Service Bus entity may be specified as part of the connection string or as a separate value, but not both"
	for _, c := range []struct {
		name string
		path string
		b    *driver.BindingSpec
		bad  string // the field refused, "" = accepted
	}{
		{"trigger queue differs", "other", servicebus.Trigger("s", "orders"), "queueName"},
		{"trigger queue same", "ORDERS", servicebus.Trigger("s", "orders"), ""},
		{"subscription of the topic", "t", servicebus.SubscriptionTrigger("s", "t", "sub"), ""},
		{"subscription of another topic", "u", servicebus.SubscriptionTrigger("s", "t", "sub"), "topicName"},
		{"output differs", "other", servicebus.Output("$return", "orders"), "queueName"},
		{"output topic differs", "other", servicebus.TopicOutput("$return", "t"), "topicName"},
	} {
		bindings := []*driver.BindingSpec{c.b}
		if c.b.Name == "$return" {
			bindings = append(bindings, extension.Binding("memTrigger", "s", extension.DirIn, extension.Props{"queue": "x"}))
		}
		err := verify(t, with(c.path), nil, bindings...)
		if c.bad == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var ce *driver.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.bad || !strings.Contains(err.Error(), dotnet) || strings.Contains(err.Error(), peer.Key) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
