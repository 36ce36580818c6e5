package attack

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/mac"
	"github.com/agenttrust/agenttrust/store"
)

// tenantAppend attenuates a token at the macaroon level with a caveat
// Attenuate refuses to add.
func tenantAppend(t *testing.T, tok, caveat string) string {
	t.Helper()
	out, err := mac.Attenuate(nil, splitToken(t, tok).encode(), nil, []byte(caveat))
	if err != nil {
		t.Fatal(err)
	}
	return agenttrust.TokenPrefix + b64(out)
}

// tenantSwapped replaces a token's tenant caveat, keeping its signature.
func tenantSwapped(t *testing.T, tok, tenant string) string {
	t.Helper()
	m := splitToken(t, tok)
	m.cavs[m.caveatIndex(t, "tenant =")] = []byte("tenant = " + tenant)
	return m.token()
}

// Two tenants on one store, sharing the master and signing keys as the
// nodes of one deployment do: nothing of one tenant is accepted, found,
// decided or changed through the other.
func TestAttackTenantLibrary(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		st := b.open(t)
		clk := newClock()
		acme := newClient(t, st, clk, "acme")
		globex := newClient(t, st, clk, "globex")
		ctx := context.Background()
		key, rec := createKey(t, acme, agenttrust.KeySpec{AgentID: "bot"})
		tok := exchange(t, acme, key)
		jwtA, err := acme.ExchangeJWT(ctx, key, "agenttrust")
		if err != nil {
			t.Fatal(err)
		}
		d, err := acme.Check(ctx, agenttrust.Request{Tool: "payments.refund", Credential: key})
		if err != nil || d.Effect != agenttrust.NeedsApproval {
			t.Fatalf("refund: %v %v", d.Effect, err)
		}
		apr := d.ApprovalID
		if err := acme.Suspend(ctx, "sus", "test"); err != nil {
			t.Fatal(err)
		}
		_, gkey := createKey(t, globex, agenttrust.KeySpec{AgentID: "gbot"})
		_ = gkey

		checks := []struct {
			name string
			cred string
			want error
		}{
			{"key_checked_in_other_tenant", key, errs.UnknownKey},
			{"token_checked_in_other_tenant", tok, errs.BadSignature},
			{"jwt_checked_in_other_tenant", jwtA, errs.BadSignature},
			{"token_with_victim_tenant_caveat_appended", tenantAppend(t, tok, "tenant = globex"), errs.BadSignature},
			{"token_tenant_caveat_swapped_to_victim", tenantSwapped(t, tok, "globex"), errs.BadSignature},
		}
		for _, tc := range checks {
			t.Run(tc.name, func(t *testing.T) {
				d, err := globex.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tc.cred})
				denied(t, d, err, tc.want)
				if _, err := globex.Authenticate(ctx, tc.cred, netip.Addr{}); !errors.Is(err, tc.want) {
					t.Errorf("Authenticate: %v, want %v", err, tc.want)
				}
			})
		}
		t.Run("token_with_other_tenant_caveat_in_own_tenant", func(t *testing.T) {
			d, err := acme.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: tenantAppend(t, tok, "tenant = globex")})
			denied(t, d, err, agenttrust.ErrCaveat)
		})

		ops := []struct {
			name string
			run  func() error
			want error
		}{
			{"exchange_key_of_other_tenant", func() error { _, err := globex.Exchange(ctx, key); return err }, errs.UnknownKey},
			{"exchange_jwt_key_of_other_tenant", func() error { _, err := globex.ExchangeJWT(ctx, key, "agenttrust"); return err }, errs.UnknownKey},
			{"delegate_token_of_other_tenant", func() error { _, _, err := globex.Delegate(ctx, tok, 0); return err }, errs.BadSignature},
			{"read_approval_of_other_tenant", func() error { _, err := globex.Approval(ctx, apr); return err }, errs.ApprovalNotFound},
			{"approve_approval_of_other_tenant", func() error { return globex.Approve(ctx, apr, "gadmin", "") }, errs.ApprovalNotFound},
			{"deny_approval_of_other_tenant", func() error { return globex.DenyApproval(ctx, apr, "gadmin", "") }, errs.ApprovalNotFound},
			{"resume_agent_of_other_tenant", func() error { return globex.Resume(ctx, "sus") }, agenttrust.ErrNotFound},
		}
		for _, tc := range ops {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.run(); !errors.Is(err, tc.want) {
					t.Errorf("error %v, want %v", err, tc.want)
				}
			})
		}
		t.Run("victim_state_unchanged", func(t *testing.T) {
			a, err := acme.Approval(ctx, apr)
			if err != nil || a.Status != agenttrust.ApprovalPending {
				t.Errorf("acme's approval after globex's attempts: %v %v", a.Status, err)
			}
			d, err := acme.Check(ctx, agenttrust.Request{AgentID: "sus", Tool: "docs.read"})
			if d.Allowed() || d.Reason != "agent suspended" {
				t.Errorf("acme's suspended agent after globex's resume: %v %q %v", d.Effect, d.Reason, err)
			}
		})

		// Listings of one tenant hold nothing of another.
		t.Run("list_approvals_of_other_tenant", func(t *testing.T) {
			as, err := globex.Approvals(ctx, agenttrust.ApprovalFilter{AgentID: "bot"})
			if err != nil || len(as) != 0 {
				t.Errorf("globex lists %d approvals (%v)", len(as), err)
			}
		})
		t.Run("list_keys_of_other_tenant", func(t *testing.T) {
			ks, err := globex.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range ks {
				if k.Tenant != "globex" || k.ID == rec.ID {
					t.Errorf("globex lists key %s of %s", k.ID, k.Tenant)
				}
			}
		})
		t.Run("list_delegations_of_other_tenant", func(t *testing.T) {
			if _, _, err := acme.Delegate(ctx, tok, 0); err != nil {
				t.Fatal(err)
			}
			hs, err := st.Hops(ctx, store.HopFilter{Tenant: "globex", KeyID: rec.ID})
			if err != nil || len(hs) != 0 {
				t.Errorf("globex lists %d of acme's hops (%v)", len(hs), err)
			}
		})

		// Blocks written in one tenant block nothing in another, even
		// for an id of the other tenant.
		t.Run("revoke_and_suspend_do_not_cross", func(t *testing.T) {
			for _, id := range []string{rec.ID, "bot", strings.Split(string(splitToken(t, tok).id), "|")[1]} {
				if err := globex.Revoke(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if err := globex.Suspend(ctx, "bot", "cross-tenant attempt"); err != nil {
				t.Fatal(err)
			}
			for _, cred := range []string{key, tok, jwtA} {
				d, err := acme.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: cred})
				allowed(t, d, err)
			}
		})
	})
}

// The same over the HTTP API: a tenant's admin reaches nothing of
// another tenant by any route.
func TestAttackTenantServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := newNode(t, b.open(t))
		bot, alice, gadmin, gbot := n.key("acme/bot"), n.key("acme/alice"), n.key("globex/gadmin"), n.key("globex/gbot")
		apr := n.pending(bot)
		tok := n.exchange(bot)
		jwtA := n.exchangeJWT(bot)
		n.must(204, "POST", "/v1/agents/bot2/suspend", alice, nil)
		acmeKey := n.ids["acme/bot"]

		for _, tc := range []struct {
			name, method, path, cred string
			body                     any
			status                   int
			code                     string
		}{
			{"get_approval", "GET", "/v1/approvals/" + apr, gadmin, nil, 404, "not_found"},
			{"wait_on_approval", "GET", "/v1/approvals/" + apr + "?wait=1s", gadmin, nil, 404, "not_found"},
			{"approve_approval", "POST", "/v1/approvals/" + apr + "/approve", gadmin, nil, 404, "not_found"},
			{"deny_approval", "POST", "/v1/approvals/" + apr + "/deny", gadmin, nil, 404, "not_found"},
			{"revoke_key", "POST", "/v1/keys/" + acmeKey + "/revoke", gadmin, nil, 404, "not_found"},
			{"resume_agent", "POST", "/v1/agents/bot2/resume", gadmin, nil, 404, "not_found"},
			{"delegate_token", "POST", "/v1/tokens/delegate", gadmin, map[string]any{"token": tok}, 404, "not_found"},
			{"inspect_token", "POST", "/v1/tokens/inspect", gadmin, map[string]any{"token": tok}, 404, "not_found"},
			{"bearer_token_with_victim_tenant_appended", "GET", "/v1/whoami", tenantAppend(t, tok, "tenant = globex"), nil, 401, "caveat"},
			{"bearer_token_tenant_swapped", "GET", "/v1/whoami", tenantSwapped(t, tok, "globex"), nil, 401, "bad_signature"},
			{"bearer_token_of_unknown_tenant", "GET", "/v1/whoami", tenantSwapped(t, tok, "nosuch"), nil, 401, "bad_signature"},
			{"tenant_admin_key_for_other_tenant", "POST", "/v1/tenants/globex/keys", alice, map[string]any{"agent_id": "mallory"}, 403, "forbidden"},
			{"tenant_admin_key_for_own_tenant", "POST", "/v1/tenants/acme/keys", alice, map[string]any{"agent_id": "mallory"}, 403, "forbidden"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, n.do(tc.method, tc.path, tc.cred, tc.body), tc.status, tc.code)
			})
		}
		for _, tc := range []struct {
			name, bearer, cred, code string
		}{
			{"check_key_of_other_tenant", gadmin, bot, "unknown_key"},
			{"check_token_of_other_tenant", gadmin, tok, "bad_signature"},
			{"check_jwt_of_other_tenant", gadmin, jwtA, "bad_signature"},
			{"agent_checks_with_key_of_other_tenant", gbot, bot, "unknown_key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantDeny(t, n.do("POST", "/v1/actions/check", tc.bearer, map[string]any{"tool_name": "docs.read", "credential": tc.cred}), tc.code)
			})
		}

		// Listings hold nothing of the other tenant.
		n.client("acme").SyncAudit(context.Background())
		for _, tc := range []struct{ name, path, field string }{
			{"list_approvals", "/v1/approvals", "approvals"},
			{"list_approvals_by_agent", "/v1/approvals?agent_id=bot", "approvals"},
			{"list_keys", "/v1/keys", "keys"},
			{"list_revocations", "/v1/revocations", "blocks"},
			{"query_audit", "/v1/audit", "records"},
			{"query_audit_other_chain", "/v1/audit?chain=n1/acme", "records"},
			{"query_audit_by_agent", "/v1/audit?agent_id=bot", "records"},
			{"verify_other_chain", "/v1/audit/verify?chain=n1/acme", "chains"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := n.must(200, "GET", tc.path, gadmin, nil)
				items, _ := r.object(t)[tc.field].([]any)
				for _, it := range items {
					m, _ := it.(map[string]any)
					if tn, ok := m["tenant"]; (ok && tn != "globex") || strings.Contains(string(r.body), acmeKey) || strings.Contains(string(r.body), apr) {
						t.Errorf("GET %s as globex returns %v", tc.path, it)
					}
				}
				// acme's chain is to globex one it has no record of:
				// reported as verifying nothing, as a chain that does not
				// exist is.
				if tc.field == "chains" && (len(items) != 1 || items[0].(map[string]any)["records"] != float64(0) || items[0].(map[string]any)["ok"] != false) {
					t.Errorf("globex verifies acme's chain: %s", r.body)
				}
			})
		}
		t.Run("blocks_do_not_cross", func(t *testing.T) {
			n.must(204, "POST", "/v1/revocations", gadmin, map[string]any{"id": acmeKey})
			n.must(204, "POST", "/v1/agents/bot/suspend", gadmin, nil)
			d := n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"}).object(t)
			if d["effect"] != "allow" {
				t.Errorf("acme's bot after globex's blocks: %v", d)
			}
			if r := n.must(200, "GET", "/v1/approvals/"+apr, alice, nil).object(t); r["status"] != "pending" {
				t.Errorf("acme's approval: %v", r)
			}
		})
	})
}
