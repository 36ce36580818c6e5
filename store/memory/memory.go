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

	// mu serialises the writes a watcher sees (block and policy writes)
	// with Mark, Watch's registration and Close: each such write commits,
	// publishes its hot snapshot and queues its Change to every watcher
	// before it releases mu, so the feed follows commit order and a marker
	// follows every change committed before Mark. mu guards watchers.
	mu       sync.Mutex
	watchers map[*watcher]struct{}
	done     chan struct{} // closed by Close, ending every Watch

	// blocks is the hot read view of the block table, consulted by Blocked
	// without a lock and changed under mu. The map it points to is never
	// modified: a tenant's first block copies it and publishes the copy.
	// Each tenant's ids change in place, one id at a time (see
	// tenantBlocks).
	blocks atomic.Pointer[blockMap]

	// keyMu serialises key writes, so that the hash snapshot is replaced
	// in the order the key table changes.
	keyMu sync.Mutex
	// keys is the hot read view of the key table by hash, consulted by
	// KeyByHash without a lock: shard i holds the keys whose hash begins
	// with byte i. A shard map is never modified; a write copies the one
	// shard it changes and publishes the copy, so a write costs about
	// 1/256 of the keys rather than all of them.
	keys [256]atomic.Pointer[keyShard]

	rates   rates   // store.ClusterLimiter
	budgets budgets // store.Budgeter
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// blockMap holds, for each tenant that has had blocks, the blocked ids of
// that tenant. Two levels rather than one map keyed by (tenant, id): a
// lookup hashes the tenant once per call and then only ids. A tenant
// stays once added, its ids empty when it has no blocks left.
type blockMap = map[string]*tenantBlocks

// tenantBlocks maps each blocked id of a tenant to its *blockEntry, in a
// sync.Map: reads take no lock and allocate nothing, and a write changes
// one id in time that does not grow with the tenant's blocks (an
// immutable map copied on every write made loading n revocations cost
// n squared). Entries are never modified, only replaced. n counts the ids
// held, so that a tenant without blocks costs a check no lookup.
type tenantBlocks struct {
	n   atomic.Int64
	ids sync.Map
}

// blockEntry is the hot view of one id: its revocation and its suspension,
// each nil when absent, not both. The Blocks they point to are never
// modified.
type blockEntry struct{ revoked, suspended *store.Block }

// keyShard maps the hashes of one shard to their keys, which are never
// modified.
type keyShard = map[[32]byte]*store.Key

// New returns an empty, open Store.
func New() *Store {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package, checked by its tests;
		// no input of the caller can reach this.
		panic("agenttrust/store/memory: invalid schema: " + err.Error())
	}
	s := &Store{
		db:       db,
		watchers: map[*watcher]struct{}{},
		done:     make(chan struct{}),
	}
	s.blocks.Store(&blockMap{})
	s.open.Store(true)
	return s
}

// Close marks the store closed and ends every Watch; every later call,
// Close included, returns an error wrapping store.ErrClosed. The data is
// dropped with the Store.
func (s *Store) Close() error {
	if !s.open.CompareAndSwap(true, false) {
		return fmt.Errorf("agenttrust/store/memory: close: %w", store.ErrClosed)
	}
	s.mu.Lock()
	close(s.done)
	clear(s.watchers)
	s.mu.Unlock()
	return nil
}

// ready reports whether op may run: the store is open and ctx is live.
// It allocates nothing on success, for Blocked and KeyByHash.
func (s *Store) ready(ctx context.Context, op string) error {
	if !s.open.Load() {
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("agenttrust/store/memory: %s: %w", op, err)
	}
	return nil
}

// invalid reports an argument that breaks the contract.
func invalid(op, tenant, what string) error {
	return fmt.Errorf("agenttrust/store/memory: %s in tenant %q: %s: %w", op, tenant, what, store.ErrInvalid)
}

// internal wraps an error memdb reported. With a fixed schema and
// well-typed rows none is expected; they do not wrap a store sentinel.
func internal(op string, err error) error {
	return fmt.Errorf("agenttrust/store/memory: %s: %w", op, err)
}

func cloneApproval(a store.Approval) store.Approval {
	a.Attributes = bytes.Clone(a.Attributes)
	a.Approvers = slices.Clone(a.Approvers)
	a.DecidedByCredentials = slices.Clone(a.DecidedByCredentials)
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

func cloneHop(h store.Hop) store.Hop {
	h.Caveats = slices.Clone(h.Caveats)
	return h
}

// copyKey returns a copy of *k whose slices share nothing with k's.
func copyKey(k *store.Key) store.Key {
	out := *k
	unshareKey(&out)
	return out
}

// unshareKey replaces k's slices by copies, made in one allocation, or
// none when k has no roles, prefixes or caveats. Empty slices are left as
// they are: with no capacity, an append to one cannot reach the store.
func unshareKey(k *store.Key) {
	n := len(k.Roles) + len(k.AllowedIPs) + len(k.Caveats)
	if n == 0 {
		return
	}
	buf := make([]string, n)
	k.Roles, buf = carve(buf, k.Roles)
	k.AllowedIPs, buf = carve(buf, k.AllowedIPs)
	k.Caveats, _ = carve(buf, k.Caveats)
}

// carve copies src to the front of buf and returns the copy, with its
// capacity clipped so that appending to it cannot overwrite the rest, and
// the rest of buf.
func carve(buf, src []string) (dst, rest []string) {
	if len(src) == 0 {
		return src[:0:0], buf
	}
	n := copy(buf, src)
	return buf[:n:n], buf[n:]
}
