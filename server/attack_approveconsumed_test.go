package server

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// consumedOnDecide is a store in which the request an approval was for
// consumes it right after it is approved: a guarded call waiting on the
// approval (a long poll wakes at the decision) checks again at once, and
// may do so before the approve route reads the approval back.
type consumedOnDecide struct{ *memory.Store }

func (s consumedOnDecide) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	a, err := s.Store.DecideApproval(ctx, tenant, id, d)
	if err == nil && d.Status == store.ApprovalApproved {
		_, _ = s.Store.ConsumeApproval(ctx, tenant, a.Fingerprint, d.At)
	}
	return a, err
}

// TestAttackApproveAnsweredConsumed: the approve route answered with the
// approval as read back after the decision, "consumed" when its request
// came first. The Python and TypeScript clients, and remote, refuse an
// approve answered with any status but "approved" as malformed, so the
// approver was told the approval failed while the request it allowed
// had gone ahead. The route answers with the decision it made.
func TestAttackApproveAnsweredConsumed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		consumed   bool // the request consumes the approval between decision and answer
		remember   bool
		wantStatus string
	}{
		{name: "approve, its request first", consumed: true, wantStatus: "approved"},
		{name: "approve and remember, its request first", consumed: true, remember: true, wantStatus: "approved"},
		{name: "control: approve", wantStatus: "approved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.New()
			var st store.Store = mem
			if tc.consumed {
				st = consumedOnDecide{mem}
			}
			e := &env{t: t, st: mem, clock: newTestClock(), keys: map[string]string{}, ids: map[string]string{}, rand: testkit.NewRandom()}
			srv, err := New(st, WithNodeName("n1"), WithSystemTenant("ops"), WithClock(e.clock.Now), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
			if err != nil {
				t.Fatalf("%v", err)
			}
			e.srv, e.ts = srv, httptest.NewServer(srv)
			t.Cleanup(func() { e.ts.Close(); _ = srv.Close() })
			ctx := context.Background()
			e.seedKey(ctx, "acme", "bot", []string{"agent"})
			e.seedKey(ctx, "acme", "carol", []string{"approver"})
			policy := `{"rules":[{"id":"pay","effect":"needs_approval","tools":["payments.charge"],"reason":"payments need a human","remember_uses":5,"remember_for":"1h"}]}`
			_, err = mem.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "json", Body: []byte(policy), UpdatedAt: e.clock.Now()}, 0)
			if err != nil {
				t.Fatalf("%v", err)
			}

			d := e.check(e.keys["acme/bot"], map[string]any{"tool_name": "payments.charge", "resource": "acct/1"})
			if d["effect"] != "needs_approval" {
				t.Fatalf("got %v, want %v", d["effect"], "needs_approval")
			}
			id := d["approval_id"].(string)
			var body any
			if tc.remember {
				body = map[string]any{"remember": map[string]any{"uses": 2, "valid_for": "30m"}}
			}
			a := e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.keys["acme/carol"], body).json(t)
			if a["id"] != id {
				t.Errorf("got %v, want %v", a["id"], id)
			}
			if a["status"] != tc.wantStatus {
				t.Errorf("got %v, want %v; the approve route's answer: %v", a["status"], tc.wantStatus, a)
			}
		})
	}
}
