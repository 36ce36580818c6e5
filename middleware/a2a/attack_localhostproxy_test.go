package a2a_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
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
	var mu sync.Mutex
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer proxy.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackA2ALocalhostCaseThroughProxy$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "Bearer att_") {
			t.Errorf("the proxy received a token over plain http: %s", s)
		}
	}
	if err != nil {
		t.Errorf("child: %v\n%s", err, out)
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
