package audit_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
)

// TestMemorySink: the ring keeps the newest records, oldest first, and
// keeps its own copies: a writer reusing its buffers after Write, or a
// reader changing what Records returned, changes nothing held.
func TestMemorySink(t *testing.T) {
	m := audit.NewMemorySink(3)
	attrs := json.RawMessage(`{"n":1}`)
	hops := []string{"hop_a"}
	for seq := uint64(1); seq <= 5; seq++ {
		rec := agenttrust.AuditRecord{Chain: "c", Seq: seq, Attributes: attrs, HopIDs: hops}
		if err := m.Write(context.Background(), []agenttrust.AuditRecord{rec}); err != nil {
			t.Fatal(err)
		}
		attrs[5]++ // the writer reuses its buffers
		hops[0] += "x"
	}
	got := m.Records()
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("records %+v, want seq 3..5", got)
	}
	if string(got[0].Attributes) != `{"n":3}` || got[0].HopIDs[0] != "hop_axx" {
		t.Errorf("record 3 holds %s %v, want what was written", got[0].Attributes, got[0].HopIDs)
	}
	got[1].Attributes[5] = 'X'
	got[1].HopIDs[0] = "changed"
	if again := m.Records(); string(again[1].Attributes) != `{"n":4}` || again[1].HopIDs[0] != "hop_axxx" {
		t.Errorf("a reader changed the ring: %s %v", again[1].Attributes, again[1].HopIDs)
	}
	if empty := audit.NewMemorySink(2).Records(); len(empty) != 0 {
		t.Errorf("new ring holds %d records", len(empty))
	}
}
