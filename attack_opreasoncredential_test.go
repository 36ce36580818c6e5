package agenttrust_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackOperatorReasonCredential: an operator record keeps the free
// text its action was given as its Reason (a suspension's reason, an
// approval's or a refusal's note, a key's name) as it was typed: an
// operator who pasted the leaked key they were suspending an agent for,
// or an approver who wrote a credential into the note, put it in the
// audit trail, which every admin of the tenant reads and exports, though
// a credential in a check's attributes is redacted there. The record
// must keep the text with the credential redacted.
func TestAttackOperatorReasonCredential(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "rules:\n  - {id: ask, effect: needs_approval}\n")
	leaked, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	approval := func() string {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "payments.charge", Resource: fmt.Sprint(len(f.audit.Records()))})
		if err != nil || d.ApprovalID == "" {
			t.Fatalf("%+v, %v; want a pending approval", d, err)
		}
		return d.ApprovalID
	}
	for name, act := range map[string]func() error{
		"suspend": func() error { return f.c.Suspend(ctx, "bot", "its key "+leaked+" leaked") },
		"approve": func() error { return f.c.Approve(ctx, approval(), "alice", "ok, use "+leaked) },
		"deny":    func() error { return f.c.DenyApproval(ctx, approval(), "alice", "no: "+leaked+" is not yours") },
		"create key": func() error {
			_, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot2", Name: "replaces " + leaked})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(f.records(t))
			if err := act(); err != nil {
				t.Fatal(err)
			}
			recs := f.records(t)[before:]
			found := false
			for _, r := range recs {
				if strings.HasPrefix(r.Tool, "agenttrust.") {
					found = true
				}
				if strings.Contains(fmt.Sprintf("%+v %s", r, r.Attributes), leaked[4:]) {
					t.Errorf("the record holds the credential: %s %q %s", r.Tool, r.Reason, r.Attributes)
				}
			}
			if !found {
				t.Fatalf("no operator record: %+v", recs)
			}
			// The next case's check needs the agent live; when nothing
			// is suspended Resume fails, which is fine.
			_ = f.c.Resume(ctx, "bot")
		})
	}
}
