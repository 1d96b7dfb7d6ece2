package table

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/azbind/azbind/connection"
	"github.com/azbind/azbind/extension"
	"github.com/azbind/azbind/extension/driver"
	"github.com/azbind/azbind/internal/testhost"
)

// C36 + §4: an expression written outside quotes in a filter ("Qty gt {min}") is a number or
// boolean literal; trigger data must not be able to add operators there — in particular not
// close the parenthesis around the filter and escape the partitionKey restriction.
func TestFilterUnquotedExpressionCannotInject(t *testing.T) {
	e := newEnv(t)
	tbl := e.newTable("unquoted")
	e.seed(t, tbl,
		`{"PartitionKey":"mine","RowKey":"1","Qty":5}`,
		`{"PartitionKey":"mine","RowKey":"2","Qty":50}`,
		`{"PartitionKey":"other","RowKey":"3","Qty":500}`)
	in := e.input(t, driver.Props{"tableName": tbl, "partitionKey": "mine", "filter": "Qty gt {min}"}, reflect.TypeFor[[]map[string]any]())
	ctx := context.Background()

	for _, good := range []struct {
		v    any
		want int
	}{{"10", 1}, {int64(1), 2}, {"-3", 2}, {"4.5", 2}} {
		v, err := in.Bind(ctx, md("min", good.v))
		if err != nil {
			t.Fatalf("min=%v: %v", good.v, err)
		}
		if n := len(v.([]map[string]any)); n != good.want {
			t.Errorf("min=%v: %d entities, want %d", good.v, n, good.want)
		}
	}
	for _, bad := range []string{"0) or (true", "0 or true", "0 or PartitionKey ne 'mine'", ""} {
		v, err := in.Bind(ctx, md("min", bad))
		if err == nil {
			t.Errorf("min=%q was substituted as OData syntax; the query returned %v", bad, v)
			continue
		}
		if !errors.Is(err, ErrFilterValue) {
			t.Errorf("min=%q: error does not wrap ErrFilterValue: %v", bad, err)
		}
	}
	// Inside quotes anything goes (escaped), including in typed literals such as datetime'…'.
	in = e.input(t, driver.Props{"tableName": tbl, "filter": "RowKey eq '{rk}' or Qty eq {q}"}, reflect.TypeFor[[]map[string]any]())
	v, err := in.Bind(ctx, md("rk", "1' or 'a' eq 'a", "q", "500"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.([]map[string]any); len(got) != 1 || got[0]["RowKey"] != "3" {
		t.Errorf("quoted value changed the filter: %v", got)
	}
}

// failCreate makes the create-table request fail as a broken connection does: net/http's
// *url.Error quotes the full request URL, SAS signature included.
type failCreate struct{}

func (failCreate) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Tables") {
		return nil, &url.Error{Op: "Post", URL: r.URL.String(), Err: errors.New("connection reset by peer")}
	}
	return req.Next()
}

// Secrets never leak: the error of creating a missing table (C37 auto-create) must not carry
// the SAS signature of a SAS connection.
func TestCreateTableErrorHasNoSASSignature(t *testing.T) {
	sas := accountSAS(t)
	sig := url.Values{}
	if q, err := url.ParseQuery(sas.Encode()); err == nil {
		sig = q
	}
	conn := connection.Connection{
		Kind:             connection.KindConnectionString,
		ConnectionString: "AccountName=" + azurite.AccountName + ";TableEndpoint=" + azurite.TableEndpoint + ";SharedAccessSignature=" + sas.Encode(),
		ClientOptions:    azcore.ClientOptions{PerCallPolicies: []policy.Policy{failCreate{}}, Retry: policy.RetryOptions{MaxRetries: -1}},
	}
	host := testhost.Services(t, extension.HostOptions{Connections: resolver{conn}})
	spec := driver.Binding(BindingType, "out", driver.DirOut, driver.Props{"tableName": fmt.Sprintf("nosig%d", tableSeq.Add(1))})
	spec.Where = "test"
	out, err := newOutput(context.Background(), &driver.BindContext{Spec: spec, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	err = write(t, out, md(), map[string]any{"PartitionKey": "p", "RowKey": "r"})
	if err == nil {
		t.Fatal("write succeeded although the table could not be created")
	}
	if s := sig.Get("sig"); s == "" || strings.Contains(err.Error(), s) || strings.Contains(err.Error(), url.QueryEscape(s)) {
		t.Errorf("create-table error leaks the SAS signature (or the test has none): %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("error does not wrap the transport error: %v", err)
	}
}
