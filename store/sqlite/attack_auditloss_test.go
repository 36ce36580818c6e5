package sqlite_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store"
)

// withTrigger opens a Store and adds a trigger to its file through a
// connection of its own, as another program could.
func withTrigger(t *testing.T, trigger string) store.Store {
	t.Helper()
	s, path := open(t)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), trigger); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAttackAuditLoss: a batch larger than one INSERT carries is stored
// whole, or not at all when a late statement fails. SQLite refuses no
// value of its own, so a trigger refuses one Reason.
func TestAttackAuditLoss(t *testing.T) {
	storefaults.AuditLoss(t, func(t *testing.T) store.Store {
		return withTrigger(t, `CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.reason = 'refused'
			BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	}, "refused")
}

// TestAttackAuditSeqTakenMidBatch: a seq taken while a batch goes in (here
// by a trigger, after the head was read) fails the batch with a conflict,
// stores none of it, and leaves the Store able to append.
func TestAttackAuditSeqTakenMidBatch(t *testing.T) {
	// The columns of the first schema: later ones have defaults.
	const cols = `chain, seq, id, time, tenant, agent_id, on_behalf_of, session_id, tool, resource, attributes,
		credential_id, hop_ids, effect, rule, reason, approval_id, latency, prev_hash, hash`
	s := withTrigger(t, `CREATE TRIGGER steal AFTER INSERT ON audit WHEN NEW.reason = 'steal'
		BEGIN INSERT INTO audit (`+cols+`) SELECT `+strings.Replace(cols, "seq", "seq + 1", 1)+`
			FROM audit WHERE chain = NEW.chain AND seq = NEW.seq; END`)
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(first uint64, n int) []store.AuditRecord {
		recs := make([]store.AuditRecord, n)
		for i := range recs {
			recs[i] = store.AuditRecord{Chain: "c", Seq: first + uint64(i), Time: at, Tenant: "acme", Reason: "ok"}
		}
		return recs
	}
	if err := s.AppendAudit(ctx, batch(1, 1)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 50, 64, 100, 300} { // within one statement, at its end, across several
		recs := batch(2, n)
		recs[n-2].Reason = "steal" // takes the seq of the last record
		err := s.AppendAudit(ctx, recs)
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("batch of %d with a seq taken: %v, want an error wrapping %v", n, err, store.ErrConflict)
		}
		head, err := s.AuditHead(ctx, "c")
		if err != nil || head.Seq != 1 {
			t.Fatalf("batch of %d: head %d, %v; want 1 (nothing stored)", n, head.Seq, err)
		}
	}
	if err := s.AppendAudit(ctx, batch(2, 70)); err != nil {
		t.Fatalf("append after the refused batches: %v", err)
	}
	if got, err := s.QueryAudit(ctx, store.AuditQuery{Chain: "c"}); err != nil || len(got) != 71 {
		t.Fatalf("stored %d records, %v; want 71", len(got), err)
	}
}
