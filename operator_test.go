package agenttrust_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/actor"
)

// operatorRecords returns the records of operator actions (Tool
// "agenttrust.*") among recs.
func operatorRecords(recs []agenttrust.AuditRecord) []agenttrust.AuditRecord {
	var out []agenttrust.AuditRecord
	for _, r := range recs {
		if strings.HasPrefix(r.Tool, "agenttrust.") {
			out = append(out, r)
		}
	}
	return out
}

// Every operator action lands in the audit chain, beside the decisions,
// naming the actor the context carries (the server's principal), its
// target and its note.
func TestOperatorActionsAreAudited(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := actor.With(context.Background(), actor.Actor{AgentID: "alice", KeyID: "key_alice"})
	d, err := f.c.Check(ctx, charge(100))
	if err != nil || d.Effect != agenttrust.NeedsApproval {
		t.Fatalf("check: %v %v", d.Effect, err)
	}
	d2, err := f.c.Check(ctx, charge(200))
	if err != nil || d2.Effect != agenttrust.NeedsApproval {
		t.Fatalf("check: %v %v", d2.Effect, err)
	}
	_, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "ci", Roles: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		do       func() error
		tool     string
		resource string
		reason   string
	}{
		{"approve", func() error { return f.c.Approve(ctx, d.ApprovalID, "alice", "looks fine") }, "agenttrust.approve", d.ApprovalID, "looks fine"},
		{"deny", func() error { return f.c.DenyApproval(ctx, d2.ApprovalID, "alice", "too much") }, "agenttrust.deny_approval", d2.ApprovalID, "too much"},
		{"suspend", func() error { return f.c.Suspend(ctx, "billing-bot", "drill") }, "agenttrust.suspend", "billing-bot", "drill"},
		{"resume", func() error { return f.c.Resume(ctx, "billing-bot") }, "agenttrust.resume", "billing-bot", "resumed"},
		{"revoke", func() error { return f.c.Revoke(ctx, key.ID) }, "agenttrust.revoke", key.ID, "revoked"},
		{"save policy", func() error { _, err := f.c.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0); return err }, "agenttrust.save_policy", "policy", "policy saved"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	recs := f.records(t)
	if err := f.c.VerifyChain(recs); err != nil {
		t.Fatal(err)
	}
	ops := operatorRecords(recs)
	if len(recs)-len(ops) != 2 {
		t.Errorf("%d decision records, want 2", len(recs)-len(ops))
	}
	type opWant struct{ tool, resource, reason string }
	want := []opWant{{"agenttrust.create_key", key.ID, "ci"}}
	for _, s := range steps {
		want = append(want, opWant{s.tool, s.resource, s.reason})
	}
	if len(ops) != len(want) {
		t.Fatalf("%d operator records, want %d: %+v", len(ops), len(want), ops)
	}
	for i, w := range want {
		r := ops[i]
		if r.Tool != w.tool || r.Resource != w.resource || r.Reason != w.reason || r.Effect != agenttrust.Allow ||
			r.AgentID != "alice" || r.CredentialID != "key_alice" {
			t.Errorf("record %d: %s %s %q %v by %s/%s, want %s %s %q allow by alice/key_alice",
				i, r.Tool, r.Resource, r.Reason, r.Effect, r.AgentID, r.CredentialID, w.tool, w.resource, w.reason)
		}
	}
	if ops[1].ApprovalID != d.ApprovalID || ops[2].ApprovalID != d2.ApprovalID {
		t.Errorf("approval records name approvals %q %q", ops[1].ApprovalID, ops[2].ApprovalID)
	}
	var attrs map[string]any
	if err := json.Unmarshal(ops[0].Attributes, &attrs); err != nil || attrs["agent_id"] != "billing-bot" || attrs["roles"] != "agent" {
		t.Errorf("create_key attributes %s (%v)", ops[0].Attributes, err)
	}
	if strings.Contains(string(ops[0].Attributes), "atk_") {
		t.Error("the key's secret is in its record")
	}
}

// A library caller, with no actor in its context, is recorded as nobody;
// an action that fails after its record is followed by a deny record
// naming it, and returns its error.
func TestOperatorActionFailureIsNoted(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	if err := f.c.Resume(ctx, "nobody-suspended"); !errors.Is(err, agenttrust.ErrNotFound) {
		t.Fatalf("resume: %v, want ErrNotFound", err)
	}
	ops := operatorRecords(f.records(t))
	if len(ops) != 2 {
		t.Fatalf("%d operator records, want the action and its failure: %+v", len(ops), ops)
	}
	if ops[0].Effect != agenttrust.Allow || ops[0].AgentID != "" || ops[0].CredentialID != "" {
		t.Errorf("first record: %v by %q/%q, want allow by nobody", ops[0].Effect, ops[0].AgentID, ops[0].CredentialID)
	}
	if ops[1].Effect != agenttrust.Deny || ops[1].Tool != "agenttrust.resume" || ops[1].Resource != "nobody-suspended" ||
		!strings.Contains(ops[1].Reason, ops[0].ID.String()) {
		t.Errorf("failure note: %v %s %s %q", ops[1].Effect, ops[1].Tool, ops[1].Resource, ops[1].Reason)
	}
}

// When the audit is down, an operator action is refused as a check is:
// it fails with ErrAuditUnavailable and changes nothing.
func TestOperatorActionRefusedWhileAuditStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newBlockingSink()
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Second}))
		ctx := context.Background()
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("healthy: %v %v", d.Effect, err)
		}
		<-sink.entered
		time.Sleep(2 * time.Second)
		if err := f.c.Suspend(ctx, "billing-bot", "drill"); !errors.Is(err, agenttrust.ErrAuditUnavailable) {
			t.Fatalf("suspend while the audit is stuck: %v, want ErrAuditUnavailable", err)
		}
		close(sink.release)
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("the refused suspension took effect: %v %v", d.Effect, err)
		}
	})
}

// In durable mode an action runs only once its record is written: a sink
// that fails keeps the action from taking effect.
func TestOperatorActionDurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newBlockingSink()
		f := newFixture(t, paymentsPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Durable: true, StuckAfter: time.Second}))
		ctx := context.Background()
		err := f.c.Revoke(ctx, "billing-bot")
		if !errors.Is(err, agenttrust.ErrAuditUnavailable) {
			t.Fatalf("revoke with its record not durable: %v, want ErrAuditUnavailable", err)
		}
		close(sink.release)
		if err := f.c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("the refused revocation took effect: %v %v", d.Effect, err)
		}
		if err := f.c.Revoke(ctx, "billing-bot"); err != nil {
			t.Fatalf("revoke once the sink writes: %v", err)
		}
		if d, _ := f.c.Check(ctx, charge(1)); d.Allowed() {
			t.Fatal("revocation did not take effect")
		}
	})
}

// No check can leave a record that passes for an operator action.
func TestOperatorToolsReserved(t *testing.T) {
	f := newFixture(t, `
rules:
  - id: all
    effect: allow
    agents: ["*"]
    tools: ["*"]
`)
	d, err := f.c.Check(context.Background(), agenttrust.Request{AgentID: "billing-bot", Tool: "agenttrust.approve", Resource: "apr_x"})
	if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Fatalf("check of a reserved tool: %v %v, want a deny with ErrInvalidRequest", d.Effect, err)
	}
	recs := f.records(t)
	if ops := operatorRecords(recs); len(ops) != 0 {
		t.Fatalf("a check left an operator record: %+v", ops)
	}
	if len(recs) != 1 || recs[0].Tool != "refused:agenttrust.approve" {
		t.Fatalf("records %+v", recs)
	}
}
