package webhook_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/webhook"
)

// TestAttackWebhookTenantFloodDropsOthers: agenttrust serve gives one
// Notifier to every tenant's Client, so its queue is shared. A tenant's
// agents opening approvals faster than the receiver takes them (each
// agent may hold 100; an admin makes as many agents as it likes) filled
// the queue, and every other tenant's new approvals were dropped: their
// approvers never heard of them, and they lapsed, denying those
// tenants' agents. One tenant may hold at most half the queue, so the
// others' notifications are still queued and delivered.
func TestAttackWebhookTenantFloodDropsOthers(t *testing.T) {
	for _, tc := range []struct {
		queue, flood, victims int
	}{
		{8, 50, 1},
		{8, 50, 3},
		{webhook.DefaultQueue, 1000, 1},
		{webhook.DefaultQueue, 1000, 20},
	} {
		t.Run(fmt.Sprintf("queue %d, flood %d, %d victims", tc.queue, tc.flood, tc.victims), func(t *testing.T) {
			rc := &receiver{hold: make(chan struct{})}
			ts := httptest.NewServer(rc)
			defer ts.Close()
			n, err := webhook.New(webhook.Config{URL: ts.URL, Secret: secret, Queue: tc.queue})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range tc.flood {
				n.Notify(ctx, agenttrust.Approval{Tenant: "acme", ID: fmt.Sprintf("apr_flood%d", i), AgentID: "bot", Tool: "payments.charge"})
			}
			refused := 0
			for i := range tc.victims {
				a := agenttrust.Approval{Tenant: "globex", ID: fmt.Sprintf("apr_victim%d", i), AgentID: "gbot", Tool: "payments.charge"}
				if err := n.Notify(ctx, a); err != nil {
					refused++
				}
			}
			close(rc.hold)
			if err := n.Close(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ := rc.payloads()
			delivered := 0
			for _, p := range got {
				if p.Approval.Tenant == "globex" {
					delivered++
				}
			}
			if refused > 0 || delivered != tc.victims {
				t.Fatalf("another tenant's approvals: %d of %d refused, %d delivered, after one tenant's flood of %d (stats %+v)",
					refused, tc.victims, delivered, tc.flood, n.Stats())
			}
		})
	}
}
