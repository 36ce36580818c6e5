package attack

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackAuditPoisonJSONB: the stored form of every poisonous
// attribute is one PostgreSQL's jsonb takes, so a deployment may cast
// the audit's attributes to jsonb, while the exact form, which keeps
// \u0000, is not. The form does not depend on the store: the records
// are made on the memory store and cast on PostgreSQL.
func TestAttackAuditPoisonJSONB(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	jsonb := func(b []byte) error {
		var out string
		return conn.QueryRow(ctx, "SELECT $1::text::jsonb::text", string(b)).Scan(&out)
	}
	if err := jsonb([]byte(`{"a":"\u0000"}`)); err == nil {
		t.Fatal(`control: PostgreSQL's jsonb took \u0000`)
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
	}{
		{"nul", map[string]any{"n\x00": "v\x00"}},
		{"invalid_utf8", map[string]any{"n\xff": "v\xff"}},
		{"nested", map[string]any{"nested": map[string]any{"k\x00": []string{"v\x00", "\xfe"}}}},
		{"raw_nul", map[string]any{"raw": json.RawMessage(`{"k\u0000":"\u0000"}`)}},
		{"raw_surrogates", map[string]any{"raw": json.RawMessage(`["\ud800","\udc00x","\ud800\u0041"]`)}},
		{"raw_invalid", map[string]any{"raw": json.RawMessage("[\"\xff\"]")}},
		{"number_nan", map[string]any{"n": json.Number("NaN")}},
		{"number_hex", map[string]any{"n": json.Number("0x1p3")}},
		{"float_inf", map[string]any{"f": math.Inf(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			t.Cleanup(func() { st.Close() })
			c := newClient(t, st, newClock(), "acme", agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
			d, _ := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: tc.attrs})
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := c.SyncAudit(sctx); err != nil {
				t.Fatalf("audit not written: %v", err)
			}
			recs, err := st.QueryAudit(ctx, store.AuditQuery{DecisionID: d.ID})
			if err != nil || len(recs) != 1 {
				t.Fatalf("read back: %d records, %v", len(recs), err)
			}
			enc := recs[0].Attributes
			if len(enc) == 0 {
				t.Fatal("the record holds no attributes")
			}
			if err := jsonb(enc); err != nil {
				t.Errorf("jsonb refuses the stored form %s: %v", enc, err)
			}
		})
	}
}
