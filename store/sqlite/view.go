package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/agenttrust/agenttrust/store"
)

// The block view: with WithExclusive, no other process can open the file
// (see lockFile), so every change to the blocks table is made by this
// Store. It then keeps the whole table in memory and answers Blocked from
// there, without a query. The view is exact, not a cache:
//
//   - It is loaded at Open, after the lock is taken and before the Store
//     is returned, so nothing can change the table between the load and
//     the first Blocked.
//   - Every write of the table (putBlock, Resume, PruneRevocations) holds
//     blockMu from before its transaction begins until the view holds
//     what the transaction committed, read back inside that transaction:
//     changes reach the view in commit order, and the write returns only
//     after they have. A Blocked that starts after Revoke returned sees
//     the revocation.
//   - A write whose outcome is uncertain (an error at any point) drops
//     the view for good: Blocked then reads the table, as without
//     WithExclusive. It never answers from a view that may lack a commit.

// blockKey is an id in a tenant.
type blockKey struct{ tenant, id string }

// blockPair holds an id's revocation and suspension, either nil.
type blockPair struct{ rev, sus *store.Block }

// blockView is the in-memory blocks table.
type blockView struct {
	mu sync.RWMutex
	m  map[blockKey]blockPair
}

// loadView reads the whole blocks table into a new view.
func loadView(ctx context.Context, db *sql.DB) (*blockView, error) {
	rows, err := db.QueryContext(ctx, `SELECT tenant, id, kind, reason, created_at, expires_at FROM blocks`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := &blockView{m: map[blockKey]blockPair{}}
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, err
		}
		v.setLocked(b)
	}
	return v, rows.Err()
}

func scanBlock(sc interface{ Scan(...any) error }) (store.Block, error) {
	var b store.Block
	var kind, created, expires int64
	if err := sc.Scan(&b.Tenant, &b.ID, &kind, &b.Reason, &created, &expires); err != nil {
		return store.Block{}, err
	}
	b.Kind, b.CreatedAt, b.ExpiresAt = store.BlockKind(kind), decTime(created), decTime(expires)
	if b.Kind != store.Revoked && b.Kind != store.Suspended {
		return store.Block{}, fmt.Errorf("block %q in tenant %q: unknown kind %d", b.ID, b.Tenant, kind)
	}
	return b, nil
}

// setLocked records b; v.mu is held for writing, or v is not shared yet.
func (v *blockView) setLocked(b store.Block) {
	k := blockKey{b.Tenant, b.ID}
	p := v.m[k]
	if b.Kind == store.Revoked {
		p.rev = &b
	} else {
		p.sus = &b
	}
	v.m[k] = p
}

// replace sets the blocks of (tenant, id) to bs, as read back from the
// table: a kind missing from bs is not blocked.
func (v *blockView) replace(tenant, id string, bs []store.Block) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := blockKey{tenant, id}
	delete(v.m, k)
	for _, b := range bs {
		v.setLocked(b)
	}
}

// dropRevocations removes the revocations of keys.
func (v *blockView) dropRevocations(keys []blockKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, k := range keys {
		p, ok := v.m[k]
		if !ok {
			continue
		}
		p.rev = nil
		if p.sus == nil {
			delete(v.m, k)
		} else {
			v.m[k] = p
		}
	}
}

// blocked answers store.Revocations.Blocked: the first revocation in the
// order of ids, else the first suspension.
func (v *blockView) blocked(tenant string, ids []string) (store.Block, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var sus *store.Block
	for _, id := range ids {
		p, ok := v.m[blockKey{tenant, id}]
		if !ok {
			continue
		}
		if p.rev != nil {
			return *p.rev, true
		}
		if sus == nil {
			sus = p.sus
		}
	}
	if sus != nil {
		return *sus, true
	}
	return store.Block{}, false
}

// viewState is the Store's view, nil without WithExclusive or once
// dropped, and the lock that orders the writes of the blocks table.
type viewState struct {
	blockMu sync.Mutex
	view    atomic.Pointer[blockView]
}

// readBlocks reads the blocks of (tenant, id), inside a write's
// transaction or on the write connection.
func readBlocks(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, tenant, id string) ([]store.Block, error) {
	rows, err := q.QueryContext(ctx, `SELECT tenant, id, kind, reason, created_at, expires_at FROM blocks WHERE tenant = ? AND id = ?`, tenant, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Block
	for rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
