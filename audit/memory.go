package audit

import (
	"context"
	"slices"
	"sync"

	"github.com/agenttrust/agenttrust"
)

// MemorySink keeps the most recent records in a ring of fixed size, for
// tests, examples and a process's own recent history. Older records are
// overwritten once the ring is full: pair it with a durable sink when the
// whole trail matters. Each slot's buffers are reused, so writing
// allocates little once the ring is warm. Safe for concurrent use. Make
// one with NewMemorySink; the zero MemorySink is not usable.
type MemorySink struct {
	mu    sync.Mutex
	slots []agenttrust.AuditRecord
	next  int
	full  bool
}

// NewMemorySink returns a ring holding up to size records (size >= 1).
func NewMemorySink(size int) *MemorySink {
	return &MemorySink{slots: make([]agenttrust.AuditRecord, max(size, 1))}
}

// Write implements agenttrust.AuditSink. It copies what it keeps of
// each record, as the contract of AuditSink asks.
func (m *MemorySink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range recs {
		sl := &m.slots[m.next]
		attrs, hops := sl.Attributes[:0], sl.HopIDs[:0]
		*sl = recs[i]
		sl.Attributes = append(attrs, recs[i].Attributes...)
		sl.HopIDs = append(hops, recs[i].HopIDs...)
		if m.next++; m.next == len(m.slots) {
			m.next, m.full = 0, true
		}
	}
	return nil
}

// Records returns a copy of the records held, oldest first.
func (m *MemorySink) Records() []agenttrust.AuditRecord {
	m.mu.Lock()
	defer m.mu.Unlock()
	var held []agenttrust.AuditRecord
	if m.full {
		held = append(held, m.slots[m.next:]...)
	}
	held = append(held, m.slots[:m.next]...)
	out := make([]agenttrust.AuditRecord, len(held))
	for i, r := range held {
		r.Attributes, r.HopIDs = nil, nil
		if a := held[i].Attributes; len(a) > 0 {
			r.Attributes = slices.Clone(a)
		}
		if h := held[i].HopIDs; len(h) > 0 {
			r.HopIDs = slices.Clone(h)
		}
		out[i] = r
	}
	return out
}

var _ agenttrust.AuditSink = (*MemorySink)(nil)
