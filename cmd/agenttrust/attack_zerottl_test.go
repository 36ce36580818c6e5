package main

import (
	"strings"
	"testing"
)

// TestAttackDelegateZeroTTL: "token delegate --ttl "$TTL" TOKEN" asks
// for a token living at most $TTL. A $TTL of 0 (a computed lifetime
// that ran out, "0s") was read as no --ttl, and the new token kept its
// parent's whole life: the narrowest request gave the widest token.
// --ttl given must be positive, and nothing is minted otherwise.
func TestAttackDelegateZeroTTL(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot", "--json")
	secret := strings.TrimSpace(strings.SplitN(strings.SplitN(res.stdout, `"secret": "`, 2)[1], `"`, 2)[0])
	res = runCLI(t, map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": secret}, "", "token", "exchange")
	token := strings.TrimSpace(res.stdout)
	if res.code != 0 || token == "" {
		t.Fatalf("token exchange: exit %d: %s", res.code, res.stderr)
	}
	for _, ttl := range []string{"0", "0s", "0h0m"} {
		t.Run(ttl, func(t *testing.T) {
			res := runCLI(t, vars, "", "token", "delegate", "--ttl", ttl, token)
			if res.code != exitUsage || !strings.Contains(res.stderr, "--ttl must be positive") {
				t.Errorf("exit %d, want a usage error (%d) saying --ttl must be positive\nstdout: %s\nstderr: %s", res.code, exitUsage, res.stdout, res.stderr)
			}
			if strings.Contains(res.stdout, "att_") {
				t.Errorf("a token was minted: %s", res.stdout)
			}
		})
	}
	if res := runCLI(t, vars, "", "token", "delegate", "--ttl", "1m", token); res.code != 0 {
		t.Errorf("--ttl 1m: exit %d: %s", res.code, res.stderr)
	}
}
