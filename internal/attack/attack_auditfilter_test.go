package attack

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackAuditFilterHiding: a database writer rewrites how a record is
// stored, not what it holds: an effect of 257 reads back as 1 (allow),
// a text column stored as a BLOB (SQLite compares a BLOB unequal to any
// text) reads back as the same string. The record decodes as it was
// hashed, so the chain verifies, yet a query filtering on that column
// (the agent's trail, its allows, a time window, a decision id) no
// longer returns it. An investigator would read an incomplete trail that
// verification calls intact. Verification must report such a record.
func TestAttackAuditFilterHiding(t *testing.T) {
	allow := store.Allow
	type tc struct {
		name   string
		sql    string // SET clause applied to record 1 (an allow of docs.read by bot)
		filter store.AuditQuery
	}
	cases := map[string][]tc{
		"sqlite": {
			{"effect 257 reads as allow", "effect = effect + 256", store.AuditQuery{Effect: &allow}},
			{"effect -255 reads as allow", "effect = effect - 256", store.AuditQuery{Effect: &allow}},
			{"agent id stored as a blob", "agent_id = CAST(agent_id AS BLOB)", store.AuditQuery{AgentID: "bot"}},
			{"tool stored as a blob", "tool = CAST(tool AS BLOB)", store.AuditQuery{Tool: "docs.read"}},
			{"time stored as a blob", "time = CAST(time AS BLOB)", store.AuditQuery{}},  // until an hour from now, below
			{"decision id stored as text", "id = CAST(id AS TEXT)", store.AuditQuery{}}, // filtered by the record's id below
			{"effect stored as a blob", "effect = CAST(effect AS BLOB)", store.AuditQuery{Effect: &allow}},
		},
		"postgres": {
			{"effect 257 reads as allow", "effect = effect + 256", store.AuditQuery{Effect: &allow}},
			{"effect -255 reads as allow", "effect = effect - 256", store.AuditQuery{Effect: &allow}},
		},
	}
	for _, be := range auditBackends() {
		for _, c := range cases[be.name] {
			t.Run(be.name+"/"+c.name, func(t *testing.T) {
				h := newAuditHarness(t, be)
				raw := h.raw.(*sqlRaw)
				ctx := context.Background()
				target := h.records(t, tamperChain)[0]
				if target.Effect != store.Allow || target.AgentID != "bot" || target.Tool != "docs.read" {
					t.Fatalf("record 1 is %+v, want an allow of docs.read by bot", target)
				}
				if err := raw.exec("UPDATE "+raw.table+" SET "+c.sql+" WHERE chain = "+raw.ph(1)+" AND seq = 1", tamperChain); err != nil {
					t.Fatal(err)
				}
				q := c.filter
				q.Tenant = "acme"
				switch c.name {
				case "decision id stored as text":
					q.DecisionID = target.ID
				case "time stored as a blob":
					q.Until = h.clock.Now().Add(time.Hour)
				}
				got, qerr := h.st.QueryAudit(ctx, q)
				hidden := qerr == nil && !slices.ContainsFunc(got, func(r store.AuditRecord) bool {
					return r.Chain == target.Chain && r.Seq == target.Seq
				})
				if !hidden {
					return // the filter still finds the record, or the query fails: nothing hidden
				}
				var ce *agenttrust.ChainError
				if err := audit.VerifyStoredChain(ctx, h.st, tamperChain, testAuditKey, h.cps); !errors.As(err, &ce) || !errors.Is(err, agenttrust.ErrChainBroken) {
					t.Errorf("record hidden from the query %+v, yet the library's verification says %v, want a *ChainError", q, err)
				}
				if r := h.do(t, "GET", "/v1/audit/verify", h.admin, ""); (r.status != 200 || r.object(t)["ok"] != false) && r.code() != "audit_chain_broken" {
					t.Errorf("record hidden from the query %+v, yet /v1/audit/verify says %d %s, want the chain broken", q, r.status, r.body)
				}
			})
		}
	}
}
