package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackCredentialAsActor: a credential given where an actor's name
// goes outside Check (the agent of a new key, the approver who decides
// an approval) was taken as that name. The audit record of the action
// redacts it (an attribute, agent_id or approver), but the key or the
// approval stored it verbatim, and every listing of keys (GET /v1/keys)
// or approvals (GET /v1/approvals, which the agent that asked reads)
// returned it; a key made so even carried it as its agent into every
// check. Such a name must be refused, as Check refuses it, and be kept
// nowhere.
func TestAttackCredentialAsActor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, paymentsPolicy)
	leaked, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, leaked)
	if err != nil {
		t.Fatal(err)
	}
	pending := func(t *testing.T) string {
		t.Helper()
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Attributes: map[string]any{"amount": 100}})
		if err != nil || d.ApprovalID == "" {
			t.Fatalf("no approval opened: %+v %v", d, err)
		}
		return d.ApprovalID
	}
	for cname, cred := range map[string]string{"key": leaked, "token": tok} {
		secret := cred[len(cred)-12:]
		holds := func(v any) bool { return strings.Contains(fmt.Sprintf("%+v", v), secret) }
		t.Run(cname+" as a key's agent", func(t *testing.T) {
			_, k, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: cred})
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || holds(err) {
				t.Errorf("CreateKey = %v; want an error matching ErrInvalidRequest quoting no credential", err)
			}
			if holds(k) {
				t.Errorf("the key returned holds the credential: %+v", k)
			}
			keys, err := f.c.ListKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if holds(keys) {
				t.Errorf("a stored key holds the credential: %+v", keys)
			}
		})
		for dname, decide := range map[string]func(ctx context.Context, id, approver, note string) error{
			"approver": f.c.Approve,
			"refuser":  f.c.DenyApproval,
		} {
			t.Run(cname+" as the "+dname, func(t *testing.T) {
				id := pending(t)
				err := decide(ctx, id, cred, "")
				if !errors.Is(err, agenttrust.ErrInvalidRequest) || holds(err) {
					t.Errorf("%s = %v; want an error matching ErrInvalidRequest quoting no credential", dname, err)
				}
				a, err := f.c.Approval(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if holds(a) {
					t.Errorf("the stored approval holds the credential: %+v", a)
				}
			})
		}
	}
}
