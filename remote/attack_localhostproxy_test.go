package remote_test

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/remote"
)

// proxyChildEnv marks the process TestAttackLocalhostCaseThroughProxy
// runs its clients in: net/http reads the proxy variables once per
// process.
const proxyChildEnv = "AGENTTRUST_TEST_REMOTE_PROXY_CHILD"

// TestAttackLocalhostCaseThroughProxy: net/http sends a request to
// "localhost" straight to this machine, but one to "LOCALHOST" or
// "Localhost" to the HTTP_PROXY of the environment (its bypass compares
// the name as written): over plain http, to another host. New took every
// spelling for loopback, so with a proxy configured (as on most corporate
// networks and CI runners) AGENTTRUST_SERVER=http://LOCALHOST:8480 sent
// the client's API key, an admin's for the CLI, in clear text across the
// network to the proxy. Only the spelling net/http keeps local is
// loopback; any other needs https or WithInsecureHTTP.
func TestAttackLocalhostCaseThroughProxy(t *testing.T) {
	if os.Getenv(proxyChildEnv) != "" {
		remoteProxyChild(t)
		return
	}
	seen, err := testkit.ChildBehindProxy(t, "TestAttackLocalhostCaseThroughProxy", proxyChildEnv, http.StatusBadGateway)
	for _, s := range seen {
		if strings.Contains(s, "Bearer atk_") {
			t.Errorf("the proxy received the API key over plain http: %s", s)
		}
	}
	if err != nil {
		t.Error(err)
	}
}

// remoteProxyChild makes a client of each spelling of localhost and, if
// one is made, checks through the default transport, which honours
// HTTP_PROXY.
func remoteProxyChild(t *testing.T) {
	for _, host := range []string{"LOCALHOST", "Localhost", "localHost"} {
		t.Run(host, func(t *testing.T) {
			c, err := remote.New("http://"+host+":9", agentKey, remote.WithRetries(0))
			if err == nil {
				defer c.Close()
				d, cerr := c.Check(t.Context(), agenttrust.Request{Tool: "docs.read"})
				t.Errorf("New accepted plain http to %s; its Check sent the key (%v, %v)", host, d.Effect, cerr)
				return
			}
			if !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Errorf("error %v, want ErrInvalidConfig", err)
			}
		})
	}
}
