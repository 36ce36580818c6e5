package agenttrust_test

import (
	"context"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackApprovalSize: the attributes an approval stores, lists and
// shows to approvers are bounded. A request's attributes are bounded in
// number, not in size, and an approval keeps them whole (it binds them),
// so an agent could store a row of any size per approval (a megabyte
// each through the server's body limit), and every list of approvals
// carried them all. A request that would open an approval with more than
// MaxApprovalAttrBytesForTest of attributes is denied instead.
func TestAttackApprovalSize(t *testing.T) {
	max := agenttrust.MaxApprovalAttrBytesForTest
	big := strings.Repeat("x", 2*max)
	many := make([]any, 0, max/8)
	for range cap(many) {
		many = append(many, "xxxxxxxx")
	}
	wide := map[string]any{}
	for i := range 64 {
		wide[string(rune('a'+i%26))+strings.Repeat("k", i/26+1)] = strings.Repeat("y", max/32)
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		open  bool // an approval opens
	}{
		{"one long string", map[string]any{"body": big}, false},
		{"a long list", map[string]any{"rows": many}, false},
		{"many attributes together", wide, false},
		{"just under the bound", map[string]any{"body": strings.Repeat("x", max-32)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, bindingPolicy)
			d, _ := f.c.Check(context.Background(), agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Attributes: tc.attrs})
			as, err := f.st.Approvals(context.Background(), store.ApprovalFilter{Tenant: agenttrust.DefaultTenant})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if len(a.Attributes) > max {
					t.Errorf("an approval stores %d bytes of attributes, bound %d", len(a.Attributes), max)
				}
			}
			if got := d.Effect == agenttrust.NeedsApproval && d.ApprovalID != ""; got != tc.open {
				t.Errorf("check: %s %q, want an approval opened: %v", d.Effect, d.ApprovalID, tc.open)
			}
			if !tc.open && d.Effect != agenttrust.Deny {
				t.Errorf("check: %s, want deny", d.Effect)
			}
		})
	}
	t.Run("an allowed request is unaffected", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		d, err := f.c.Check(context.Background(), agenttrust.Request{AgentID: "billing-bot", Tool: "docs.read", Attributes: map[string]any{"body": big}})
		if err != nil || d.Effect != agenttrust.Allow {
			t.Fatalf("allowed request with large attributes: %s %v", d.Effect, err)
		}
	})
}
