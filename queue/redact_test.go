package queue

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/sas"

	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/queue/queuetest"
)

// Errors of clients built from a SAS connection string never carry the signature or the key —
// neither a service error (Azurite's 404) nor a transport error quoting the request URL (a closed
// port) — in err.Error() or in the listener's logs. Redaction happens once, in the transport
// connection.SDKOptions installs; no call site redacts.
func TestSASErrorsAreScrubbed(t *testing.T) {
	cred, err := azqueue.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.AccountPermissions{Read: true, Process: true, List: true}
	types := sas.AccountResourceTypes{Service: true, Container: true, Object: true}
	qp, err := sas.AccountSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   perms.String(),
		ResourceTypes: types.String(),
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	sig := qp.Signature()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/" + azurite.AccountName
	ln.Close()
	secrets := []string{sig, url.QueryEscape(sig), azurite.AccountKey}
	leaks := func(s string) bool {
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct{ name, endpoint string }{{"service error", azurite.QueueEndpoint}, {"transport error", closed}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &connection.Connection{Name: "Sas", Key: "Sas", Kind: connection.KindConnectionString,
				ConnectionString: "QueueEndpoint=" + tc.endpoint + ";SharedAccessSignature=" + qp.Encode()}
			c.ClientOptions.Retry.MaxRetries = -1
			svc, err := NewServiceClient(c)
			if err != nil {
				t.Fatal(err)
			}
			q := svc.NewQueueClient(env.QueueName(t))
			_, err = q.GetProperties(context.Background(), nil)
			if err == nil {
				t.Fatal("GetProperties of a missing queue succeeded")
			}
			if leaks(err.Error()) {
				t.Fatalf("the error carries a secret: %v", err)
			}
			if tc.name == "transport error" && !strings.Contains(err.Error(), "sig=***") {
				t.Fatalf("the transport error does not show the scrubbed URL: %v", err)
			}
			// The listener logs what it cannot receive.
			logger, logs := newLogger()
			l := NewListener(q, nil, ListenerOptions{MaxPollingInterval: 100 * time.Millisecond, Logger: logger}, func(context.Context, *Message) driver.Result {
				return driver.Result{Status: driver.Succeeded}
			})
			stop := runBG(t, l.Run)
			queuetest.WaitFor(t, waitLong, "a receive error", func() bool { return l.Stats().ReceiveErrors >= 2 })
			stop()
			if leaks(logs.String()) {
				t.Fatalf("the logs carry a secret:\n%s", logs.String())
			}
		})
	}
}
