package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"

	"github.com/agenttrust/agenttrust/store"
)

// Store keeps everything in process memory. Create one with New.
//
// A Store is safe for concurrent use by multiple goroutines. The zero Store
// is closed: every method returns an error wrapping store.ErrClosed.
type Store struct {
	open atomic.Bool
	db   *memdb.MemDB // authoritative tables; set once by New

	// blockMu serialises block writes, so that the hot snapshot is replaced
	// in the order the block table changes.
	blockMu sync.Mutex
	// blocks is the hot read view of the block table, consulted by Blocked
	// without a lock. Neither the map it points to nor the tenant maps in
	// it are ever modified: a write copies the outer map and the one tenant
	// map it changes, and publishes the copy.
	blocks atomic.Pointer[blockMap]
}

var _ store.Store = (*Store)(nil)

// blockMap holds, for each tenant with blocks, the blocked ids of that
// tenant. Two levels rather than one map keyed by (tenant, id): a lookup
// hashes the tenant once per call and then only ids, and a write copies
// one tenant's ids rather than every tenant's.
type blockMap = map[string]tenantBlocks

// tenantBlocks maps an id to its blocks; it is never empty.
type tenantBlocks = map[string]blockEntry

// blockEntry is the hot view of one id: its revocation and its suspension,
// each nil when absent, not both. The Blocks they point to are never
// modified.
type blockEntry struct{ revoked, suspended *store.Block }

// New returns an empty, open Store.
func New() *Store {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package, checked by its tests;
		// no input of the caller can reach this.
		panic("agenttrust/store/memory: invalid schema: " + err.Error())
	}
	s := &Store{db: db}
	s.blocks.Store(&blockMap{})
	s.open.Store(true)
	return s
}

// Close marks the store closed; every later call, Close included, returns
// an error wrapping store.ErrClosed. The data is dropped with the Store.
func (s *Store) Close() error {
	if !s.open.CompareAndSwap(true, false) {
		return fmt.Errorf("agenttrust/store/memory: close: %w", store.ErrClosed)
	}
	return nil
}

// ready reports whether op may run: the store is open and ctx is live.
// It allocates nothing on success, for Blocked.
func (s *Store) ready(ctx context.Context, op string) error {
	if !s.open.Load() {
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, err)
	}
	return nil
}

// internal wraps an error memdb reported. With a fixed schema and
// well-typed rows none is expected; they do not wrap a store sentinel.
func internal(op string, err error) error {
	return fmt.Errorf("agenttrust/store/memory: %s: %w", op, err)
}

func cloneApproval(a store.Approval) store.Approval {
	a.Attributes = bytes.Clone(a.Attributes)
	a.Approvers = slices.Clone(a.Approvers)
	return a
}

func clonePolicy(d store.PolicyDoc) store.PolicyDoc {
	d.Body = bytes.Clone(d.Body)
	return d
}

func cloneAudit(r store.AuditRecord) store.AuditRecord {
	r.Attributes = bytes.Clone(r.Attributes)
	r.HopIDs = slices.Clone(r.HopIDs)
	return r
}
