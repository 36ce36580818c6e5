package a2a_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// childEnv marks the process TestAttackA2ALocalhostCaseThroughProxy runs
// its requests in: net/http reads the proxy variables once per process.
const childEnv = "AGENTTRUST_TEST_A2A_PROXY_CHILD"

// TestAttackA2ALocalhostCaseThroughProxy: net/http sends a request to
// "localhost" straight to this machine, but one to "LOCALHOST" or
// "Localhost" to the HTTP_PROXY of the environment (its bypass compares
// the name as written): over plain http, to another host. The Transport
// took every spelling for this machine, so with a proxy configured (as
// on most corporate networks and CI runners) a callee URL such as
// http://LOCALHOST:8080 sent the caller's token in clear text across the
// network to the proxy. Only the spelling net/http keeps local is.
func TestAttackA2ALocalhostCaseThroughProxy(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		proxyChild(t)
		return
	}
	seen, err := testkit.ChildBehindProxy(t, "TestAttackA2ALocalhostCaseThroughProxy", childEnv, http.StatusOK)
	for _, s := range seen {
		if strings.Contains(s, "Bearer att_") {
			t.Errorf("the proxy received a token over plain http: %s", s)
		}
	}
	if err != nil {
		t.Error(err)
	}
}

// proxyChild sends a token to each spelling of localhost through the
// default transport, which honours HTTP_PROXY.
func proxyChild(t *testing.T) {
	_, _, tok := newClient(t)
	for _, host := range []string{"LOCALHOST", "Localhost", "localHost"} {
		t.Run(host, func(t *testing.T) {
			tr := &a2a.Transport{} // http.DefaultTransport: the proxy of the environment
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(context.Background(), tok), "POST", "http://"+host+":9/tasks/1", http.NoBody)
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, a2a.ErrInsecureTransport) {
				t.Errorf("error %v, want ErrInsecureTransport", err)
			}
		})
	}
}
