package audit

import (
	"context"
	"errors"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// The bounds of one append to the store, as the client's own batches.
const (
	maxStoreBatchRecords = 512
	maxStoreBatchBytes   = 1 << 20
)

// StoreSink persists records through a store's Audit role, so they can be
// queried later and the chain continues across restarts. Safe for
// concurrent use if the store is. Make one with NewStoreSink; the zero
// StoreSink is not usable.
type StoreSink struct {
	st store.Audit
}

// NewStoreSink returns a sink writing to st.
func NewStoreSink(st store.Audit) *StoreSink { return &StoreSink{st: st} }

// Write implements agenttrust.AuditSink. It appends the batch in parts of at most
// maxStoreBatchRecords records and about maxStoreBatchBytes bytes, so that each
// statement stays small and a large batch makes progress part by part. A
// part the store already holds (a retry after a Write whose reply was
// lost) is recognised and not stored twice.
func (s *StoreSink) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	for len(recs) > 0 {
		n := storeBatchLen(recs)
		if err := s.append(ctx, recs[:n]); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// storeBatchLen returns how many of recs make one bounded append.
func storeBatchLen(recs []agenttrust.AuditRecord) int {
	size := 0
	for i := range recs {
		if i == maxStoreBatchRecords || (i > 0 && size >= maxStoreBatchBytes) {
			return i
		}
		r := &recs[i]
		size += len(r.Attributes) + len(r.Reason) + len(r.Resource) + 256
	}
	return len(recs)
}

func (s *StoreSink) append(ctx context.Context, recs []agenttrust.AuditRecord) error {
	err := s.st.AppendAudit(ctx, recs)
	if !errors.Is(err, store.ErrConflict) {
		return err
	}
	first, last := &recs[0], &recs[len(recs)-1]
	head, herr := s.st.AuditHead(ctx, first.Chain)
	switch {
	case herr != nil || head.Seq < first.Seq:
		return err
	case head.Seq < last.Seq:
		if head.Hash != recs[head.Seq-first.Seq].Hash {
			return err
		}
		// Part of the batch is stored; append the rest.
		return s.st.AppendAudit(ctx, recs[head.Seq-first.Seq+1:])
	case head.Seq == last.Seq:
		if head.Hash == last.Hash {
			return nil // already stored
		}
		return err
	}
	// Stored, and more after it (an earlier try of a longer batch got
	// further): compare the stored copy of the last record.
	got, qerr := s.st.QueryAudit(ctx, store.AuditQuery{Chain: first.Chain, AfterSeq: last.Seq - 1, Limit: 1})
	if qerr == nil && len(got) == 1 && got[0].Seq == last.Seq && got[0].Hash == last.Hash {
		return nil
	}
	return err
}

// AuditHead returns the newest record of chain in the store, so a new
// client continues the chain (see agenttrust.AuditSink).
func (s *StoreSink) AuditHead(ctx context.Context, chain string) (agenttrust.AuditRecord, error) {
	return s.st.AuditHead(ctx, chain)
}

var _ agenttrust.AuditSink = (*StoreSink)(nil)
