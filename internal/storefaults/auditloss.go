package storefaults

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// chained returns n records of chain "c" from seq first, each with about
// 1.5 KB of attributes. (The stores do not check hashes.)
func chained(n int, first uint64) []store.AuditRecord {
	recs := make([]store.AuditRecord, n)
	attrs := []byte(`{"memo":"` + strings.Repeat("m", 1500) + `"}`)
	for i := range recs {
		r := &recs[i]
		r.Chain, r.Seq, r.Tenant, r.AgentID, r.Tool = "c", first+uint64(i), "t", "bot", "payments.charge"
		r.ID[0], r.ID[1], r.ID[15] = byte(r.Seq>>8), byte(r.Seq), 1
		r.Time = time.Date(2026, 12, 6, 0, 0, 0, int(r.Seq)*1000, time.UTC)
		r.Attributes = attrs
		r.Hash[0], r.Hash[1] = byte(r.Seq>>8), byte(r.Seq)
	}
	return recs
}

// AuditLoss checks that a batch far larger than one statement should
// carry is stored whole, in statements of bounded size, or not at all.
// open returns a fresh store; refused is a Reason the database itself
// refuses, so that a late statement of the batch fails.
func AuditLoss(t *testing.T, open func(t *testing.T) store.Store, refused string) {
	ctx := context.Background()
	t.Run("oversized batch stored whole", func(t *testing.T) {
		st := open(t)
		recs := chained(3000, 1)
		if err := st.AppendAudit(ctx, recs); err != nil {
			t.Fatalf("append 3000 records of 1.5 KB: %v", err)
		}
		got, err := st.QueryAudit(ctx, store.AuditQuery{Chain: "c"})
		if err != nil || len(got) != 3000 {
			t.Fatalf("stored %d records, %v", len(got), err)
		}
		for i, r := range got {
			if r.Seq != uint64(i+1) || r.Hash != recs[i].Hash {
				t.Fatalf("record %d: seq %d, hash %v", i, r.Seq, r.Hash)
			}
		}
	})
	t.Run("oversized batch refused late stores nothing", func(t *testing.T) {
		st := open(t)
		if err := st.AppendAudit(ctx, chained(1, 1)); err != nil {
			t.Fatal(err)
		}
		recs := chained(2000, 2)
		recs[1500].Reason = refused
		err := st.AppendAudit(ctx, recs)
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Fatalf("append refused in a late statement: %v", err)
		}
		head, err := st.AuditHead(ctx, "c")
		if err != nil || head.Seq != 1 {
			t.Fatalf("head after a refused batch: %d, %v; want 1 (nothing stored)", head.Seq, err)
		}
	})
}
