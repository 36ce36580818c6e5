package memory

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agenttrust/agenttrust/store"
)

// errNoKey is returned by KeyByHash for an unknown hash. It is made once,
// so that a miss allocates nothing either; it carries no detail of the
// hash.
var errNoKey = fmt.Errorf("agenttrust/store/memory: key by hash: %w", store.ErrNotFound)

// CreateKey implements store.Keys. Key ids are unique across tenants, as
// hashes are; an empty id or a zero hash is refused with
// store.ErrInvalid. The key is published to KeyByHash before CreateKey
// returns.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	const op = "create key"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	switch {
	case k.ID == "":
		return invalid(op, k.Tenant, "empty id")
	case k.Hash == [32]byte{}:
		return invalid(op, k.Tenant, fmt.Sprintf("key %q has a zero hash", k.ID))
	}
	row := cloneKey(k)

	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableKeys, indexID, k.ID)
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: id exists: %w", op, k.ID, k.Tenant, store.ErrConflict)
	}
	raw, err = txn.First(tableKeys, indexHash, k.Hash)
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: hash exists: %w", op, k.ID, k.Tenant, store.ErrConflict)
	}
	if err := txn.Insert(tableKeys, row); err != nil {
		return internal(op, err)
	}
	txn.Commit()

	shard := &s.keys[row.Hash[0]]
	var m keyShard
	if old := shard.Load(); old != nil {
		m = maps.Clone(*old)
	} else {
		m = keyShard{}
	}
	m[row.Hash] = row
	shard.Store(&m)
	return nil
}

// KeyByHash implements store.Keys. It reads an immutable snapshot through
// one atomic load and does one map lookup, without a lock. A miss
// allocates nothing, nor does a hit on a key without roles, prefixes or
// caveats; a hit on one with them allocates once, for the copies of its
// slices.
func (s *Store) KeyByHash(ctx context.Context, hash [32]byte) (k store.Key, err error) {
	if err := s.ready(ctx, "key by hash"); err != nil {
		return store.Key{}, err
	}
	if m := s.keys[hash[0]].Load(); m != nil {
		if row, ok := (*m)[hash]; ok {
			k = *row
			unshareKey(&k)
			return k, nil
		}
	}
	if hash == ([32]byte{}) {
		return store.Key{}, fmt.Errorf("agenttrust/store/memory: key by hash: zero hash: %w", store.ErrInvalid)
	}
	return store.Key{}, errNoKey
}

// Key implements store.Keys.
func (s *Store) Key(ctx context.Context, tenant, id string) (store.Key, error) {
	const op = "key"
	if err := s.ready(ctx, op); err != nil {
		return store.Key{}, err
	}
	if id == "" {
		return store.Key{}, invalid(op, tenant, "empty id")
	}
	raw, err := s.db.Txn(false).First(tableKeys, indexTenant, tenant, id)
	if err != nil {
		return store.Key{}, internal(op, err)
	}
	if raw == nil {
		return store.Key{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	return copyKey(raw.(*store.Key)), nil
}

// Keys implements store.Keys. The empty tenant lists the keys of the
// empty tenant, not of every tenant.
func (s *Store) Keys(ctx context.Context, tenant string) ([]store.Key, error) {
	const op = "keys"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.db.Txn(false).Get(tableKeys, indexTenantPrefix, tenant)
	if err != nil {
		return nil, internal(op, err)
	}
	var rows []*store.Key
	for raw := it.Next(); raw != nil; raw = it.Next() {
		rows = append(rows, raw.(*store.Key))
	}
	slices.SortFunc(rows, func(a, b *store.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	out := make([]store.Key, len(rows))
	for i, k := range rows {
		out[i] = copyKey(k)
	}
	return out, nil
}

// cloneKey returns a copy of k to store, sharing nothing with the caller.
func cloneKey(k store.Key) *store.Key {
	k.Roles = slices.Clip(slices.Clone(k.Roles))
	k.AllowedIPs = slices.Clip(slices.Clone(k.AllowedIPs))
	k.Caveats = slices.Clip(slices.Clone(k.Caveats))
	return &k
}
