package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttackVerifyChainNotFound: "audit verify --chain C" for a chain of
// which the server has no record (a typo, another node's chain whose
// records were all deleted, another tenant's) verified nothing, yet
// printed "audit trail OK" (with --json "ok": true) and exited 0, so a
// runbook or CI job gating on it passed. It must fail, as for a broken
// chain.
func TestAttackVerifyChainNotFound(t *testing.T) {
	server, admin := startServe(t)
	vars := map[string]string{"AGENTTRUST_SERVER": server, "AGENTTRUST_KEY": admin}
	if res := runCLI(t, vars, "", "key", "create", "--agent", "billing-bot"); res.code != 0 {
		t.Fatalf("key create: exit %d: %s", res.code, res.stderr)
	}
	for _, tc := range []struct {
		name  string
		chain string
		json  bool
		ok    bool
	}{
		{"typo", "n1/sytsem", false, false},
		{"typo json", "n1/sytsem", true, false},
		{"other node", "n2/system", false, false},
		{"other node json", "n2/system", true, false},
		{"existing chain", "n1/system", false, true},
		{"existing chain json", "n1/system", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"audit", "verify", "--chain", tc.chain}
			if tc.json {
				args = append(args, "--json")
			}
			res := runCLI(t, vars, "", args...)
			want := exitOK
			if !tc.ok {
				want = exitFailure
			}
			if res.code != want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, want, res.stdout, res.stderr)
			}
			if tc.json {
				var v struct {
					OK     bool `json:"ok"`
					Chains []struct {
						Chain string `json:"chain"`
						OK    bool   `json:"ok"`
					} `json:"chains"`
				}
				if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
					t.Fatalf("--json: %v: %s", err, res.stdout)
				}
				if v.OK != tc.ok || len(v.Chains) != 1 || v.Chains[0].Chain != tc.chain || v.Chains[0].OK != tc.ok {
					t.Errorf("--json says %+v, want chain %s ok %v", v, tc.chain, tc.ok)
				}
				return
			}
			if said := strings.Contains(res.stdout, "audit trail OK"); said != tc.ok {
				t.Errorf("\"audit trail OK\" printed: %v, want %v\n%s", said, tc.ok, res.stdout)
			}
			if !tc.ok && !strings.Contains(res.stdout, "no records") {
				t.Errorf("the table does not say the chain has no records:\n%s", res.stdout)
			}
		})
	}
}
