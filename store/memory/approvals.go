package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/agenttrust/agenttrust/store"
)

// CreateApproval implements store.Approvals. Ids are unique per tenant. The
// approval is stored with Status ApprovalPending whatever a.Status says.
func (s *Store) CreateApproval(ctx context.Context, a store.Approval) error {
	const op = "create approval"
	if err := s.ready(ctx, op); err != nil {
		return err
	}
	if a.ID == "" {
		return invalid(op, a.Tenant, "empty id")
	}
	row := cloneApproval(a)
	row.Status = store.ApprovalPending

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableApprovals, indexID, a.Tenant, a.ID)
	if err != nil {
		return internal(op, err)
	}
	if raw != nil {
		return fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: id exists: %w", op, a.ID, a.Tenant, store.ErrConflict)
	}
	if err := txn.Insert(tableApprovals, &row); err != nil {
		return internal(op, err)
	}
	txn.Commit()
	return nil
}

// Approval implements store.Approvals.
func (s *Store) Approval(ctx context.Context, tenant, id string) (store.Approval, error) {
	const op = "approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, tenant, "empty id")
	}
	raw, err := s.db.Txn(false).First(tableApprovals, indexID, tenant, id)
	if err != nil {
		return store.Approval{}, internal(op, err)
	}
	if raw == nil {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	return cloneApproval(*raw.(*store.Approval)), nil
}

// Approvals implements store.Approvals. Approvals created at the same time
// are ordered by ID, then tenant. A pending approval whose ExpiresAt has
// passed is still listed as pending: the store reads no clock.
func (s *Store) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	const op = "approvals"
	if err := s.ready(ctx, op); err != nil {
		return nil, err
	}
	it, err := s.scanTenant(s.db.Txn(false), tableApprovals, f.Tenant)
	if err != nil {
		return nil, internal(op, err)
	}
	var rows []*store.Approval
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*store.Approval)
		if (f.AgentID == "" || a.AgentID == f.AgentID) && (f.Status == "" || a.Status == f.Status) &&
			(f.PendingAt.IsZero() || a.Status == store.ApprovalPending && a.ExpiresAt.After(f.PendingAt)) {
			rows = append(rows, a)
		}
	}
	slices.SortFunc(rows, oldestFirst)
	if f.Limit > 0 && len(rows) > f.Limit {
		rows = rows[:f.Limit]
	}
	out := make([]store.Approval, len(rows))
	for i, a := range rows {
		out[i] = cloneApproval(*a)
	}
	return out, nil
}

// DecideApproval implements store.Approvals. d.Status must be
// ApprovalApproved or ApprovalDenied, or the call fails with
// store.ErrInvalid; GrantExpiresAt is recorded only for an approval. An
// approval with a zero ExpiresAt has lapsed.
func (s *Store) DecideApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	const op = "decide approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, tenant, "empty id")
	}
	if d.Status != store.ApprovalApproved && d.Status != store.ApprovalDenied {
		return store.Approval{}, invalid(op, tenant, fmt.Sprintf("decision status %q of %q is neither %q nor %q",
			d.Status, id, store.ApprovalApproved, store.ApprovalDenied))
	}

	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableApprovals, indexID, tenant, id)
	if err != nil {
		return store.Approval{}, internal(op, err)
	}
	if raw == nil {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	a := cloneApproval(*raw.(*store.Approval))
	switch {
	case a.Status != store.ApprovalPending:
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: already %s: %w", op, id, tenant, a.Status, store.ErrConflict)
	case !a.ExpiresAt.After(d.At):
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: lapsed at %s: %w",
			op, id, tenant, a.ExpiresAt.Format(time.RFC3339Nano), store.ErrConflict)
	}
	a.Status = d.Status
	a.DecidedAt = d.At
	a.DecidedBy = d.By
	a.DecidedByKey = d.ByKey
	a.DecidedByCredentials = slices.Clone(d.ByCredentials)
	a.Note = d.Note
	if d.Status == store.ApprovalApproved {
		a.GrantExpiresAt = d.GrantExpiresAt
	}
	row := cloneApproval(a)
	if err := txn.Insert(tableApprovals, &row); err != nil {
		return store.Approval{}, internal(op, err)
	}
	txn.Commit()
	return a, nil
}

var _ store.Withdrawer = (*Store)(nil)

// WithdrawApproval implements store.Withdrawer. Withdrawals and
// consumers race on memdb's single writer lock, so one of them wins.
func (s *Store) WithdrawApproval(ctx context.Context, tenant, id string, d store.ApprovalDecision) (store.Approval, error) {
	const op = "withdraw approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	switch {
	case id == "":
		return store.Approval{}, invalid(op, tenant, "empty id")
	case d.Status != store.ApprovalDenied:
		return store.Approval{}, invalid(op, tenant, fmt.Sprintf("withdrawal status %q of %q is not %q", d.Status, id, store.ApprovalDenied))
	}
	return s.moveApproval(op, tenant, id, store.ApprovalApproved, func(a *store.Approval) {
		a.Status, a.DecidedAt, a.DecidedBy, a.DecidedByKey, a.Note = store.ApprovalDenied, d.At, d.By, d.ByKey, d.Note
		a.DecidedByCredentials = slices.Clone(d.ByCredentials)
	})
}

// ConsumeApproval implements store.Approvals. When several approvals
// match, the oldest is consumed. Callers race on memdb's single writer
// lock, so each approval is consumed once.
func (s *Store) ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "consume approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if fingerprint == "" {
		return store.Approval{}, invalid(op, tenant, "empty fingerprint")
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	found, err := oldestByFingerprint(txn, tenant, fingerprint, func(a *store.Approval) bool {
		return a.Status == store.ApprovalApproved && a.GrantExpiresAt.After(now)
	})
	if err != nil {
		return store.Approval{}, internal(op, err)
	}
	if found == nil {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s in tenant %q: no live approved approval for the fingerprint: %w",
			op, tenant, store.ErrNotFound)
	}
	a := cloneApproval(*found)
	a.Status = store.ApprovalConsumed
	a.ConsumedAt = now
	row := cloneApproval(a)
	if err := txn.Insert(tableApprovals, &row); err != nil {
		return store.Approval{}, internal(op, err)
	}
	txn.Commit()
	return a, nil
}

// PendingApproval implements store.Approvals. When several approvals
// match, the oldest is returned.
func (s *Store) PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (store.Approval, error) {
	const op = "pending approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if fingerprint == "" {
		return store.Approval{}, invalid(op, tenant, "empty fingerprint")
	}
	found, err := oldestByFingerprint(s.db.Txn(false), tenant, fingerprint, func(a *store.Approval) bool {
		return a.Status == store.ApprovalPending && a.ExpiresAt.After(now)
	})
	if err != nil {
		return store.Approval{}, internal(op, err)
	}
	if found == nil {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s in tenant %q: no live pending approval for the fingerprint: %w",
			op, tenant, store.ErrNotFound)
	}
	return cloneApproval(*found), nil
}

// oldestByFingerprint returns the oldest approval of tenant with the
// fingerprint for which match is true, or nil.
func oldestByFingerprint(txn *memdb.Txn, tenant, fingerprint string, match func(*store.Approval) bool) (*store.Approval, error) {
	it, err := txn.Get(tableApprovals, indexFingerprint, tenant, fingerprint)
	if err != nil {
		return nil, err
	}
	var found *store.Approval
	for raw := it.Next(); raw != nil; raw = it.Next() {
		a := raw.(*store.Approval)
		if match(a) && (found == nil || oldestFirst(a, found) < 0) {
			found = a
		}
	}
	return found, nil
}

func oldestFirst(a, b *store.Approval) int {
	return cmp.Or(
		a.CreatedAt.Compare(b.CreatedAt),
		strings.Compare(a.ID, b.ID),
		strings.Compare(a.Tenant, b.Tenant),
	)
}

var _ store.Voider = (*Store)(nil)

// VoidApproval implements store.Voider.
func (s *Store) VoidApproval(ctx context.Context, tenant, id, note string) (store.Approval, error) {
	const op = "void approval"
	if err := s.ready(ctx, op); err != nil {
		return store.Approval{}, err
	}
	if id == "" {
		return store.Approval{}, invalid(op, tenant, "empty id")
	}
	return s.moveApproval(op, tenant, id, store.ApprovalConsumed, func(a *store.Approval) {
		a.Status, a.Note = store.ApprovalDenied, note
	})
}

// moveApproval applies change to approval id while its status is from,
// in one transaction, and returns it changed: one in another status is
// ErrConflict, none ErrNotFound. Withdrawing and voiding are both such a
// move.
func (s *Store) moveApproval(op, tenant, id string, from store.ApprovalStatus, change func(*store.Approval)) (store.Approval, error) {
	txn := s.db.Txn(true)
	defer txn.Abort()
	raw, err := txn.First(tableApprovals, indexID, tenant, id)
	if err != nil {
		return store.Approval{}, internal(op, err)
	}
	if raw == nil {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %w", op, id, tenant, store.ErrNotFound)
	}
	a := cloneApproval(*raw.(*store.Approval))
	if a.Status != from {
		return store.Approval{}, fmt.Errorf("agenttrust/store/memory: %s %q in tenant %q: %s, not %s: %w", op, id, tenant, a.Status, from, store.ErrConflict)
	}
	change(&a)
	row := cloneApproval(a)
	if err := txn.Insert(tableApprovals, &row); err != nil {
		return store.Approval{}, internal(op, err)
	}
	txn.Commit()
	return a, nil
}
