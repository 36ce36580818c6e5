package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// auditByResource returns the records of tenant acme whose resource is
// marker, read as acme's admin after the audit is written.
func (e *env) auditByResource(marker string) []map[string]any {
	e.t.Helper()
	e.sync()
	var out []map[string]any
	for _, r := range e.must(200, "GET", "/v1/audit?limit=1000", e.key("acme/alice"), nil).json(e.t)["records"].([]any) {
		if m := r.(map[string]any); m["resource"] == marker {
			out = append(out, m)
		}
	}
	return out
}

// TestAttackBlockedCallerRecorded: a suspended or revoked credential's
// own check attempt is refused (401) and recorded as a deny; a bearer
// that does not verify is refused and writes nothing.
func TestAttackBlockedCallerRecorded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.key("acme/alice")
	// One agent per case, so a block of one leaves the others alone.
	agent := func(name string) (key, keyID, tok string) {
		key = e.createKey(ctx, "acme", name, agenttrust.KeySpec{AgentID: name})
		return key, e.ids["acme/"+name], e.exchange(key)
	}
	tokenID := func(tok string) string {
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	tampered := func(tok string) string {
		b := []byte(tok)
		i := len(b) - 5
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}

	for _, tc := range []struct {
		name       string
		setup      func() (cred, credID string) // blocks what it must
		code       string
		wantReason string // "" : nothing may be recorded
	}{
		{"suspended agent's key", func() (string, string) {
			k, id, _ := agent("s1")
			e.must(204, "POST", "/v1/agents/s1/suspend", alice, nil)
			return k, id
		}, "suspended", "agent suspended"},
		{"suspended agent's token", func() (string, string) {
			_, _, tok := agent("s2")
			e.must(204, "POST", "/v1/agents/s2/suspend", alice, nil)
			return tok, tokenID(tok)
		}, "suspended", "agent suspended"},
		{"revoked agent", func() (string, string) {
			k, id, _ := agent("s3")
			e.must(204, "POST", "/v1/revocations", alice, map[string]any{"id": "s3"})
			return k, id
		}, "revoked", "agent revoked"},
		{"revoked key", func() (string, string) {
			k, id, _ := agent("s4")
			e.must(204, "POST", "/v1/keys/"+id+"/revoke", alice, nil)
			return k, id
		}, "revoked", "credential revoked"},
		{"token of a revoked key", func() (string, string) {
			_, id, tok := agent("s5")
			e.must(204, "POST", "/v1/keys/"+id+"/revoke", alice, nil)
			return tok, tokenID(tok)
		}, "revoked", "credential revoked"},
		{"revoked token", func() (string, string) {
			_, _, tok := agent("s6")
			e.must(204, "POST", "/v1/revocations", alice, map[string]any{"id": tokenID(tok)})
			return tok, tokenID(tok)
		}, "revoked", "credential revoked"},
		{"revoked hop", func() (string, string) {
			_, _, tok := agent("s7")
			d := e.must(201, "POST", "/v1/tokens/delegate", tok, map[string]any{}).json(t)
			hop := d["hop"].(map[string]any)["id"].(string)
			e.must(204, "POST", "/v1/revocations", alice, map[string]any{"id": hop})
			child := d["token"].(string)
			return child, tokenID(child)
		}, "revoked", "credential revoked"},
		{"stranger: garbage", func() (string, string) { return "att_garbage", "" }, "malformed_credential", ""},
		{"stranger: tampered token", func() (string, string) {
			_, _, tok := agent("s8")
			return tampered(tok), ""
		}, "bad_signature", ""},
		{"stranger: unknown key", func() (string, string) {
			k, _, _ := agent("s9")
			return k[:len(k)-7] + strings.Repeat("0", 7), ""
		}, "", ""},
		{"stranger: tampered token of a suspended agent", func() (string, string) {
			_, _, tok := agent("s10")
			e.must(204, "POST", "/v1/agents/s10/suspend", alice, nil)
			return tampered(tok), ""
		}, "bad_signature", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred, credID := tc.setup()
			marker := "attempt-" + strings.ReplaceAll(tc.name, " ", "-")
			r := e.do("POST", "/v1/actions/check", cred, map[string]any{"tool_name": "docs.read", "resource": marker})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", r.status, r.body)
			}
			if tc.code != "" {
				if got := r.code(t); got != tc.code {
					t.Fatalf("code %q, want %q", got, tc.code)
				}
			}
			recs := e.auditByResource(marker)
			if tc.wantReason == "" {
				if len(recs) != 0 {
					t.Fatalf("an unverified bearer wrote to the audit: %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d records of the attempt, want 1", len(recs))
			}
			rec := recs[0]
			if rec["effect"] != "deny" || rec["reason"] != tc.wantReason || rec["credential_id"] != credID || rec["tool"] != "docs.read" {
				t.Fatalf("record %v, want a deny %q by %s", rec, tc.wantReason, credID)
			}
		})
	}
	t.Run("blocked bearer on another route leaves no check record", func(t *testing.T) {
		k, _, _ := agent("s11")
		e.must(204, "POST", "/v1/agents/s11/suspend", alice, nil)
		e.sync()
		// The one record of s11 so far: the mint of its token.
		before := e.must(200, "GET", "/v1/audit?agent_id=s11", alice, nil).json(t)["records"].([]any)
		if r := e.do("POST", "/v1/tokens", k, map[string]any{}); r.status != http.StatusUnauthorized {
			t.Fatalf("status %d", r.status)
		}
		e.sync()
		recs := e.must(200, "GET", "/v1/audit?agent_id=s11", alice, nil).json(t)["records"].([]any)
		if len(recs) != len(before) {
			t.Fatalf("records: %v", recs[len(before):])
		}
	})
}

// TestAttackApprovalBindingHTTP: an approval granted for a request on
// behalf of alice is not consumed by the same request on behalf of
// mallory.
func TestAttackApprovalBindingHTTP(t *testing.T) {
	e := newEnv(t)
	bot, carol := e.key("acme/bot"), e.key("acme/carol")
	req := func(obo string) map[string]any {
		return map[string]any{"tool_name": "payments.charge", "resource": "cust-1", "on_behalf_of": obo, "attributes": map[string]any{"amount": 70}}
	}
	d := e.check(bot, req("alice"))
	if d["effect"] != "needs_approval" {
		t.Fatalf("check: %v", d)
	}
	apr := d["approval_id"].(string)
	e.must(200, "POST", "/v1/approvals/"+apr+"/approve", carol, nil)
	for _, obo := range []string{"mallory", ""} {
		t.Run("on_behalf_of "+obo, func(t *testing.T) {
			d := e.check(bot, req(obo))
			if d["allowed"] != false || d["effect"] != "needs_approval" || d["approval_id"] == apr {
				t.Fatalf("another principal's request used the approval: %v", d)
			}
		})
	}
	t.Run("control on_behalf_of alice", func(t *testing.T) {
		d := e.check(bot, req("alice"))
		if d["allowed"] != true || d["approval_id"] != apr {
			t.Fatalf("the approved request: %v", d)
		}
	})
}
