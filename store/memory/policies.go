package memory

import (
	"context"
	"fmt"

	"github.com/agenttrust/agenttrust/store"
)

// Policy implements store.Policies.
func (s *Store) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	const op = "policy"
	if err := s.ready(ctx, op); err != nil {
		return store.PolicyDoc{}, err
	}
	raw, err := s.db.Txn(false).First(tablePolicies, indexID, tenant)
	if err != nil {
		return store.PolicyDoc{}, internal(op, err)
	}
	if raw == nil {
		return store.PolicyDoc{}, fmt.Errorf("agenttrust/store/memory: %s of tenant %q: %w", op, tenant, store.ErrNotFound)
	}
	return clonePolicy(*raw.(*store.PolicyDoc)), nil
}

// PutPolicy implements store.Policies. doc.Version is ignored. A
// replacement is a store.ChangePolicy for watchers.
func (s *Store) PutPolicy(ctx context.Context, doc store.PolicyDoc, expectVersion int64) (store.PolicyDoc, error) {
	const op = "put policy"
	if err := s.ready(ctx, op); err != nil {
		return store.PolicyDoc{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tablePolicies, indexID, doc.Tenant)
	if err != nil {
		return store.PolicyDoc{}, internal(op, err)
	}
	var version int64
	if raw != nil {
		version = raw.(*store.PolicyDoc).Version
	}
	if version != expectVersion {
		return store.PolicyDoc{}, fmt.Errorf("agenttrust/store/memory: %s of tenant %q: stored version is %d, not %d: %w",
			op, doc.Tenant, version, expectVersion, store.ErrConflict)
	}
	doc = clonePolicy(doc)
	doc.Version = expectVersion + 1
	row := clonePolicy(doc)
	if err := txn.Insert(tablePolicies, &row); err != nil {
		return store.PolicyDoc{}, internal(op, err)
	}
	txn.Commit()
	s.publish(store.Change{Kind: store.ChangePolicy, Tenant: doc.Tenant})
	return doc, nil
}
