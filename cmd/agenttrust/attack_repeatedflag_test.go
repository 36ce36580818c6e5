package main

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestAttackRepeatedFlagReplaces: a flag that takes one value, given
// twice, silently kept the last one. A wrapper or runbook that pins a
// narrow value ("--ttl 5m", "--expires 1h", "--server https://prod") and
// passes further arguments on is widened by a second occurrence: a token
// living a day, a key living a month, the credential sent to another
// server; "audit verify --chain A --chain B" verified only B and
// exited 0. Each must be a usage error, with nothing asked of a server.
func TestAttackRepeatedFlagReplaces(t *testing.T) {
	server, admin := startServe(t)
	var asked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			asked.Add(1)
		}
		http.Error(w, `{"error":{"code":"unauthorized","message":"no"}}`, http.StatusUnauthorized)
	}))
	t.Cleanup(other.Close)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot", "--json")
	secret := strings.TrimSpace(strings.SplitN(strings.SplitN(res.stdout, `"secret": "`, 2)[1], `"`, 2)[0])
	res = runCLI(t, map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": secret}, "", "token", "exchange")
	token := strings.TrimSpace(res.stdout)
	if res.code != 0 || token == "" {
		t.Fatalf("token exchange: exit %d: %s", res.code, res.stderr)
	}

	for _, tc := range []struct {
		name string
		flag string
		args []string
	}{
		{"token delegate --ttl", "ttl", []string{"token", "delegate", "--ttl", "5m", token, "--ttl", "24h"}},
		{"key create --expires", "expires", []string{"key", "create", "--agent", "billing-bot", "--expires", "1h", "--expires", "720h"}},
		{"audit verify --chain", "chain", []string{"audit", "verify", "--chain", "n1/other", "--chain", "n1/system"}},
		{"whoami --server", "server", []string{"whoami", "--server", server, "--server", other.URL}},
		{"--server before the command", "server", []string{"--server", server, "whoami", "--server", other.URL}},
		{"--insecure-http twice", "insecure-http", []string{"whoami", "--insecure-http=false", "--insecure-http"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked.Store(0)
			res := runCLI(t, vars, "", tc.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, "--"+tc.flag+" given twice") {
				t.Errorf("exit %d, want a usage error (%d) naming --%s given twice\nstdout: %s\nstderr: %s", res.code, exitUsage, tc.flag, res.stdout, res.stderr)
			}
			if n := asked.Load(); n > 0 {
				t.Errorf("the credential was sent to the server of the second --server (%d requests)", n)
			}
		})
	}
	// Repeatable flags still add.
	res = runCLI(t, vars, "", "key", "create", "--agent", "billing-bot", "--allow-ip", "127.0.0.1", "--allow-ip", "::1", "--caveat", "tool in payments.*", "--caveat", "attr.amount <= 50")
	if res.code != 0 {
		t.Errorf("repeated --allow-ip and --caveat: exit %d: %s", res.code, res.stderr)
	}
	var proxies prefixList
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Var(&proxies, "trusted-proxy", "")
	restore, _ := oneValueFlags(fs)
	err := fs.Parse([]string{"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.168.0.1"})
	restore()
	if err != nil || len(proxies) != 2 {
		t.Errorf("repeated --trusted-proxy: %v, %v", proxies, err)
	}
}
