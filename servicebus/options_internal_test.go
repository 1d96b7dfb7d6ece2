package servicebus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
)

// The zero value is the Functions default (reference §3.5).
func TestOptionsDefaults(t *testing.T) {
	o, err := hostJSONOptions(nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	o = o.withDefaults()
	if !*o.AutoCompleteMessages || o.MaxAutoLockRenewalDuration != 5*time.Minute || o.MaxConcurrentCalls != 32 ||
		o.MaxConcurrentSessions != 8 || o.MaxConcurrentCallsPerSession != 1 || o.MaxMessageBatchSize != 1000 ||
		o.MinMessageBatchSize != 1 || o.MaxBatchWaitTime != 30*time.Second || o.PrefetchCount != 0 ||
		o.SessionIdleTimeout != time.Minute || o.ClientRetryOptions.TryTimeout != time.Minute {
		t.Errorf("defaults %+v", o)
	}
	r := o.ClientRetryOptions.SDK()
	if r.MaxRetries != 3 || r.RetryDelay != 800*time.Millisecond || r.MaxRetryDelay != time.Minute {
		t.Errorf("SDK retry options %+v", r)
	}
}

func TestOptionsFromHostJSON(t *testing.T) {
	o, err := hostJSONOptions(map[string]any{
		"prefetchCount": 10.0, "autoCompleteMessages": false, "maxAutoLockRenewalDuration": "-00:00:00.0010000",
		"maxConcurrentCalls": 4.0, "maxConcurrentSessions": 2.0, "maxConcurrentCallsPerSession": 3.0,
		"maxMessageBatchSize": 50.0, "minMessageBatchSize": 10.0, "maxBatchWaitTime": "00:00:05",
		"clientRetryOptions": map[string]any{"mode": "fixed", "tryTimeout": "00:00:10", "delay": "00:00:02", "maxRetries": 0.0},
	}, 2)
	if err != nil {
		t.Fatal(err)
	}
	o = o.withDefaults()
	if *o.AutoCompleteMessages || o.MaxAutoLockRenewalDuration >= 0 || o.PrefetchCount != 10 || o.MaxConcurrentCalls != 4 ||
		o.MaxConcurrentSessions != 2 || o.MaxConcurrentCallsPerSession != 3 || o.MaxMessageBatchSize != 50 ||
		o.MinMessageBatchSize != 10 || o.MaxBatchWaitTime != 5*time.Second || o.SessionIdleTimeout != 10*time.Second {
		t.Errorf("options %+v", o)
	}
	r := o.ClientRetryOptions.SDK()
	if r.MaxRetries != -1 || r.RetryDelay != 2*time.Second || r.MaxRetryDelay != 2*time.Second {
		t.Errorf("fixed, no retries: SDK options %+v", r)
	}
	o, _ = hostJSONOptions(map[string]any{"maxAutoLockRenewalDuration": "00:00:00"}, 2)
	if o.withDefaults().MaxAutoLockRenewalDuration != 0 {
		t.Error("an explicit 00:00:00 must turn renewal off")
	}
}

// Each out-of-range key is a *driver.ConfigError naming host.json and the field.
func TestOptionsValidation(t *testing.T) {
	for key, v := range map[string]any{
		"maxConcurrentCalls": 0.0, "prefetchCount": -1.0, "maxConcurrentSessions": -2.0, "maxMessageBatchSize": 0.0,
		"maxBatchWaitTime": "00:05:00", "transportType": "amqpWebSockets", "enableCrossEntityTransactions": true,
		"clientRetryOptions": map[string]any{"mode": "linear"}, "autoCompleteMessages": "yes",
	} {
		_, err := hostJSONOptions(map[string]any{key: v}, 2)
		var ce *driver.ConfigError
		if !errors.Is(err, driver.ErrInvalidConfig) || !errors.As(err, &ce) || !strings.Contains(ce.Field, "extensions.serviceBus."+key) {
			t.Errorf("%s=%v: error %v (field %q)", key, v, err, fieldOf(ce))
		}
	}
	_, err := hostJSONOptions(map[string]any{"minMessageBatchSize": 10.0, "maxMessageBatchSize": 5.0}, 2)
	if !errors.Is(err, driver.ErrInvalidConfig) {
		t.Errorf("min > max: %v", err)
	}
}

func fieldOf(ce *driver.ConfigError) string {
	if ce == nil {
		return ""
	}
	return ce.Field
}

// Target executions per instance as Functions: maxConcurrentCalls, maxConcurrentSessions with
// sessions, maxMessageBatchSize for batches; the backlog is the active message count.
func TestScaleTarget(t *testing.T) {
	o := Options{Concurrency: 2}.withDefaults()
	for _, c := range []struct {
		sessions, batch bool
		want            int64
	}{{false, false, 32}, {true, false, 8}, {false, true, 1000}, {true, true, 1000}} {
		tr := &trigger{opts: o, sessions: c.sessions, batch: c.batch, count: func(context.Context) (int64, error) { return 100, nil }}
		m, err := tr.Scale(context.Background())
		if err != nil || m.Backlog != 100 || m.TargetPerInstance != c.want {
			t.Errorf("sessions=%v batch=%v: %+v %v, want target %d", c.sessions, c.batch, m, err, c.want)
		}
	}
}

// Ported from azure-sdk-for-net ServiceBusTriggerStrategyTests (Microsoft.Azure.WebJobs.Extensions.
// ServiceBus v5), GetBindingContract_SingleDispatch / _MultipleDispatch: 27 names, the message
// fields (with "Array" in a batch) and MessageReceiver, MessageSession, MessageActions,
// SessionActions, ReceiveActions and Client as they are.
func TestBindingContractNames(t *testing.T) {
	fields := []string{"DeliveryCount", "DeadLetterSource", "LockToken", "ExpiresAtUtc", "ExpiresAt", "EnqueuedTimeUtc",
		"EnqueuedTime", "MessageId", "ContentType", "ReplyTo", "SequenceNumber", "To", "Label", "Subject", "CorrelationId",
		"ApplicationProperties", "UserProperties", "SessionId", "ReplyToSessionId", "PartitionKey", "TransactionPartitionKey"}
	objects := []string{"MessageReceiver", "MessageSession", "MessageActions", "SessionActions", "ReceiveActions", "Client"}
	for _, batch := range []bool{false, true} {
		names := (&trigger{batch: batch}).BindingData()
		want := slices.Clone(objects)
		for _, f := range fields {
			if batch {
				f += "Array"
			}
			want = append(want, f)
		}
		for _, n := range want {
			if !slices.Contains(names, n) {
				t.Errorf("batch %v: contract %v lacks %s", batch, names, n)
			}
		}
		if len(names) != 27+1 { // + "*" (the members of a JSON body)
			t.Errorf("batch %v: contract has %d names, want 27 and \"*\": %v", batch, len(names), names)
		}
	}
}

// host.json extensions.serviceBus is decoded once per host (driver.Section): the trigger and the
// output of every function get the same decoded section, and the output's view has only the
// client options (a bad trigger setting does not fail it).
func TestSectionDecodedOncePerHost(t *testing.T) {
	svc := testhost.Services(t, extension.HostOptions{})
	cfg := map[string]any{"maxConcurrentCalls": 0.0, "clientRetryOptions": map[string]any{"maxRetries": 5.0}}
	bc := func(typ string) *driver.BindContext {
		return &driver.BindContext{Spec: &driver.BindingSpec{Type: typ}, Host: svc, Config: cfg, Extension: "serviceBus"}
	}
	a, err := hostSection(context.Background(), bc("serviceBusTrigger"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hostSection(context.Background(), bc("serviceBus"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("two bindings of one host decoded the section twice")
	}
	if a.err == nil || !strings.Contains(a.err.Error(), "maxConcurrentCalls") {
		t.Errorf("trigger view: %v", a.err)
	}
	if a.clientErr != nil || a.client.ClientRetryOptions.MaxRetries != 5 {
		t.Errorf("output view: %v %+v", a.clientErr, a.client.ClientRetryOptions)
	}
	other, err := hostSection(context.Background(), &driver.BindContext{Spec: &driver.BindingSpec{Type: "serviceBus"},
		Host: testhost.Services(t, extension.HostOptions{}), Config: cfg, Extension: "serviceBus"})
	if err != nil {
		t.Fatal(err)
	}
	if other == a {
		t.Error("two hosts share one decoded section")
	}
}
