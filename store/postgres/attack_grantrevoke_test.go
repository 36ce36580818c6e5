package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// cutAfterRevoke is a store whose link is cut as soon as a revocation
// of a grant is written: the write that follows finds it cut.
type cutAfterRevoke struct {
	*postgres.Store
	p *faultproxy.Proxy
}

func (s cutAfterRevoke) Revoke(ctx context.Context, b store.Block) error {
	err := s.Store.Revoke(ctx, b)
	if err == nil && strings.HasPrefix(b.ID, "grt_") {
		s.p.Cut()
	}
	return err
}

const grantPolicy = `
rules:
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    remember_uses: 5
    remember_for: 1h
`

func grantPay(resource string) agenttrust.Request {
	return agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Resource: resource, OnBehalfOf: "alice",
		Attributes: map[string]any{"amount": 60}}
}

// TestAttackGrantRevokeCutMidway: an operator on node A revokes a
// remembered approval (a grant) while A's link to the database is cut
// between Revoke's two writes. Revoke fails, but the store already lists
// the grant as revoked; the grant must not go on allowing on node B, in
// strict or in notify mode: a revocation outlives what it covers.
func TestAttackGrantRevokeCutMidway(t *testing.T) {
	for _, notify := range []bool{false, true} {
		name := "strict"
		if notify {
			name = "notify"
		}
		t.Run(name, func(t *testing.T) {
			raw := testURL(t)
			schema := freshSchema(t, raw)
			pURL, proxy := proxyURL(t, raw)
			t.Cleanup(proxy.Restore)
			p, err := agenttrust.ParsePolicy([]byte(grantPolicy), "yaml")
			if err != nil {
				t.Fatal(err)
			}
			client := func(st store.Store, chain string, opts ...agenttrust.Option) *agenttrust.Client {
				base := []agenttrust.Option{agenttrust.WithPolicy(p), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: chain, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}})}
				c, err := agenttrust.New(st, append(base, opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c
			}
			var bOpts []agenttrust.Option
			if notify {
				bOpts = append(bOpts, agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second}))
			}
			a := client(cutAfterRevoke{Store: open(t, pURL, schema, postgres.WithQueryTimeout(time.Second)), p: proxy}, "node-a")
			sb := open(t, raw, schema)
			b := client(sb, "node-b", bOpts...)
			ctx := context.Background()

			d, err := b.Check(ctx, grantPay("cust-1"))
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("first charge: %v %v", d.Effect, err)
			}
			g, err := a.ApproveAndRemember(ctx, d.ApprovalID, "carol", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := b.Check(ctx, grantPay("cust-2")); err != nil || !d.Allowed() || d.ApprovalID != g.ID {
				t.Fatalf("the grant does not work before Revoke: %v %v %v", d.Effect, d.ApprovalID, err)
			}

			rerr := a.Revoke(ctx, g.ID)
			proxy.Restore()
			t.Logf("Revoke on the cut link: %v", rerr)

			// Whatever Revoke answered, once the store lists the grant
			// as revoked, node B must not use it.
			bs, err := sb.Blocks(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, r := range bs {
				listed = listed || r.ID == g.ID
			}
			if !listed {
				t.Fatalf("the revocation did not reach the store (%v)", rerr)
			}
			if d, err := b.Check(ctx, grantPay("cust-3")); d.Allowed() {
				t.Fatalf("node B allows by grant %s, which the store lists as revoked (Revoke answered %v): %v %v %v",
					g.ID, rerr, d.Effect, d.ApprovalID, err)
			}
		})
	}
}
