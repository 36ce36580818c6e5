package server

import "testing"

// TestAttackVerifyNamedChainUnchecked: GET /v1/audit/verify?chain=C for a
// chain of which the tenant has no record (every record deleted by a
// database writer on a node that holds no checkpoint of it, a typo,
// another tenant's chain) read nothing, yet answered {"ok":true,
// "chains":[]}: a monitor or runbook asking about one chain was told it
// is intact. Nothing verified must not read as verified. The answer is
// the same whether the chain exists in another tenant or nowhere, so it
// tells a tenant nothing about others.
func TestAttackVerifyNamedChainUnchecked(t *testing.T) {
	e := newEnv(t)
	e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read"})
	e.check(e.key("globex/gbot"), map[string]any{"tool_name": "docs.read"})
	e.sync()
	alice := e.key("acme/alice")
	for _, tc := range []struct {
		name, chain string
		ok          bool
	}{
		{"another node's chain, all records gone", "n2/acme", false},
		{"a typo", "n1/acmee", false},
		{"another tenant's chain", "n1/globex", false},
		{"the tenant's own chain", "n1/acme", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := e.must(200, "GET", "/v1/audit/verify?chain="+tc.chain, alice, nil).json(t)
			chains, _ := v["chains"].([]any)
			if v["ok"] != tc.ok || len(chains) != 1 {
				t.Fatalf("verify %s: %v, want ok %v and one chain reported", tc.chain, v, tc.ok)
			}
			c := chains[0].(map[string]any)
			if c["chain"] != tc.chain || c["ok"] != tc.ok || (c["problem"] == nil) == !tc.ok {
				t.Errorf("chain report %v, want chain %s ok %v", c, tc.chain, tc.ok)
			}
		})
	}
}
