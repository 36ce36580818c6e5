package main

import (
	"strings"
	"testing"
)

// TestAttackCheckEmptyCredential: a gateway that checks what an agent
// presented runs "check --credential "$TOKEN" --agent "$AGENT" ..." with
// an admin key. When the agent presented nothing, $TOKEN is empty, and
// an empty --credential was taken as none at all: the admin key
// vouched for the claimed agent, no credential was checked, and the
// action was allowed (exit 0). An empty credential given must be a usage
// error, as an empty one on stdin ("--credential -") is.
func TestAttackCheckEmptyCredential(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot", "--json")
	secret := strings.TrimSpace(strings.SplitN(strings.SplitN(res.stdout, `"secret": "`, 2)[1], `"`, 2)[0])
	res = runCLI(t, map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": secret}, "", "token", "exchange")
	token := strings.TrimSpace(res.stdout)
	if res.code != 0 || token == "" {
		t.Fatalf("token exchange: exit %d: %s", res.code, res.stderr)
	}
	action := []string{"--agent", "billing-bot", "--tool", "payments.charge", "--attr", "amount=40"}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"empty argument", []string{"--credential", ""}},
		{"empty with =", []string{"--credential="}},
		{"empty, --json", []string{"--credential", "", "--json"}},
		{"blank", []string{"--credential", "  "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, vars, "", append(append([]string{"check"}, tc.args...), action...)...)
			if res.code != exitUsage || !strings.Contains(res.stderr, "--credential is empty") {
				t.Errorf("exit %d, want a usage error (%d) saying --credential is empty\nstdout: %s\nstderr: %s", res.code, exitUsage, res.stdout, res.stderr)
			}
			if strings.Contains(res.stdout, "allow") {
				t.Errorf("the action is allowed: %s", res.stdout)
			}
		})
	}
	// The agent's own token still decides.
	if res := runCLI(t, vars, "", append([]string{"check", "--credential", token}, action...)...); res.code != exitOK {
		t.Errorf("check with the agent's token: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
}
