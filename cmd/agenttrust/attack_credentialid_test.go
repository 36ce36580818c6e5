package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestAttackCLICredentialAsID: an operator who pastes a credential (an
// API key's secret, a token) where a command wants its id is refused
// before anything is asked of the server: the credential is printed
// nowhere (revoke's "matches nothing known" warning quoted it, and
// --dry-run said it "would revoke" it and exited 0) and put in no
// request's URL, where a proxy's access log keeps it (revoke looked it
// up as an agent in GET /v1/audit?agent_id=...; suspend, resume, key
// revoke, budget and approvals put it in the path).
func TestAttackCLICredentialAsID(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	var created struct {
		Secret string `json:"secret"`
	}
	res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot", "--json")
	if res.code != 0 || json.Unmarshal([]byte(res.stdout), &created) != nil || created.Secret == "" {
		t.Fatalf("key create: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": created.Secret}, "", "token", "exchange")
	token := strings.TrimSpace(res.stdout)
	if res.code != 0 || !strings.HasPrefix(token, "att_") {
		t.Fatalf("token exchange: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}

	// Every request goes through a proxy that keeps the URLs, as a
	// reverse proxy's access log does.
	target, _ := url.Parse(server)
	var mu sync.Mutex
	var urls []string
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		urls = append(urls, r.URL.String())
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	vars = map[string]string{"AGENTTRUST_SERVER": proxy.URL, "AGENTTRUST_KEY": admin}

	for _, cred := range []struct{ name, s string }{{"key", created.Secret}, {"token", token}} {
		for _, args := range [][]string{
			{"revoke", cred.s},
			{"revoke", "--dry-run", cred.s},
			{"revoke", "--json", cred.s},
			{"agent", "suspend", cred.s},
			{"agent", "resume", cred.s},
			{"key", "revoke", cred.s},
			{"budget", cred.s},
			{"approvals", "approve", cred.s},
			{"approvals", "deny", cred.s},
		} {
			name := cred.name + "/" + strings.Join(args[:len(args)-1], "_")
			t.Run(name, func(t *testing.T) {
				mu.Lock()
				urls = nil
				mu.Unlock()
				res := runCLI(t, vars, "", args...)
				if res.code != exitUsage || !strings.Contains(res.stderr, "holds a credential") {
					t.Errorf("exit %d, want %d refusing the credential as an id; stderr: %s", res.code, exitUsage, res.stderr)
				}
				if strings.Contains(res.stdout+res.stderr, cred.s) {
					t.Errorf("the credential is printed:\nstdout: %s\nstderr: %s", res.stdout, res.stderr)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, u := range urls {
					if strings.Contains(u, cred.s) {
						t.Errorf("the credential is in a request's URL: %s", u)
					}
				}
			})
		}
	}
}
