// Package store defines the storage contract of agenttrust: small role
// interfaces composed into Store, and the data model they persist.
//
// The data model (Effect, DecisionID, Block, Approval, AuditRecord) lives here
// rather than in the root package so that backends can persist it without
// importing the root; the root package re-exports the names users need.
//
// # Contract
//
// Every method takes a context first; a context already cancelled yields an
// error wrapping context.Canceled and changes nothing. Backends
// return errors wrapping ErrNotFound, ErrConflict, ErrClosed (after Close)
// and ErrUnavailable (the backend cannot be reached or timed out), so callers
// test with errors.Is. Values passed in and returned are copies: mutating a
// returned value never changes the store. A write is visible to every reader
// of the same store as soon as the method returns. Times are never read from
// a clock inside a store; callers pass them, so tests control time.
// Tenants are always explicit; an empty tenant is a tenant like any other,
// except in Blocks and ApprovalFilter where it means "every tenant".
// Invalid arguments (an empty id) yield ErrInvalid. Close is idempotent in
// effect: a second Close returns an error wrapping ErrClosed.
//
// Beyond Store, a backend may implement Watcher (a change feed, for nodes
// that keep revocations in memory), ClusterLimiter (rate limits shared
// by every node of the store) and Budgeter (hierarchical budgets spent
// all or nothing along a delegation chain); callers find them by type
// assertion.
//
// Package storetest holds the conformance suite that every backend runs.
package store

import (
	"context"
	"time"
)

// Agents is the kill switch: suspending an agent or session blocks it on
// the next check, until it is resumed.
type Agents interface {
	// Suspend blocks b.ID in b.Tenant; b.Kind is set to Suspended.
	// Suspending an already suspended id updates its reason.
	Suspend(ctx context.Context, b Block) error
	// Resume lifts a suspension. It returns ErrNotFound when the id is not
	// suspended. A revocation of the same id stays in force.
	Resume(ctx context.Context, tenant, id string) error
}

// Revocations holds permanent blocks and answers the per-check question
// "is any of these ids blocked?".
type Revocations interface {
	// Revoke blocks b.ID in b.Tenant for good; b.Kind is set to Revoked.
	// Revoking an already revoked id is not an error; the later of the two
	// ExpiresAt values is kept (a zero ExpiresAt, never, wins) along with
	// the first Reason and CreatedAt.
	Revoke(ctx context.Context, b Block) error
	// Blocked reports the first block, revocations before suspensions, on
	// any of ids in tenant. It is on the path of every check: backends keep
	// it to one lookup per id or one round trip in all.
	Blocked(ctx context.Context, tenant string, ids []string) (Block, bool, error)
	// Blocks lists the blocks of a tenant, or of every tenant when tenant is
	// empty, ordered by CreatedAt then ID.
	Blocks(ctx context.Context, tenant string) ([]Block, error)
	// PruneRevocations removes revocations whose non-zero ExpiresAt is at or
	// before now and reports how many it removed. Suspensions and
	// revocations without expiry are kept.
	PruneRevocations(ctx context.Context, now time.Time) (int, error)
}

// Approvals holds requests waiting for, or carrying, a human decision.
type Approvals interface {
	// CreateApproval stores a new pending approval; ErrConflict if the id
	// exists in the tenant.
	CreateApproval(ctx context.Context, a Approval) error
	// Approval returns one approval by id, or ErrNotFound.
	Approval(ctx context.Context, tenant, id string) (Approval, error)
	// Approvals lists approvals matching f, oldest first. An empty
	// f.Tenant matches every tenant (for operators); lapsed pending
	// approvals are still listed as pending.
	Approvals(ctx context.Context, f ApprovalFilter) ([]Approval, error)
	// DecideApproval moves a pending approval whose ExpiresAt is after d.At
	// to d.Status. It returns ErrNotFound for an unknown id and ErrConflict
	// when the approval is not pending or has lapsed; of two concurrent
	// deciders exactly one succeeds.
	DecideApproval(ctx context.Context, tenant, id string, d ApprovalDecision) (Approval, error)
	// ConsumeApproval finds an approved approval with the fingerprint whose
	// GrantExpiresAt is after now, marks it consumed at now and returns it.
	// Each approval is consumed at most once, however many callers race;
	// the others get ErrNotFound. Of several candidates the oldest is used.
	ConsumeApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (Approval, error)
	// PendingApproval returns the oldest pending approval with the
	// fingerprint whose ExpiresAt is after now, or ErrNotFound.
	PendingApproval(ctx context.Context, tenant, fingerprint string, now time.Time) (Approval, error)
}

// Withdrawer takes back approvals granted but not yet used. It is
// optional: on a store without it an approved approval cannot be
// withdrawn, and stays usable until consumed or its GrantExpiresAt.
type Withdrawer interface {
	// WithdrawApproval moves an approved approval that has not been
	// consumed to denied, with d's By, Note and At as its decision
	// (d.Status must be ApprovalDenied; ErrInvalid otherwise), whether or
	// not its GrantExpiresAt has passed. It returns ErrNotFound for an
	// unknown id and ErrConflict when the approval is not approved
	// (pending, denied or consumed). Of a withdrawal and a
	// ConsumeApproval racing for one approval exactly one succeeds.
	WithdrawApproval(ctx context.Context, tenant, id string, d ApprovalDecision) (Approval, error)
}

// Voider records that an approval was used up allowing nothing. It is
// optional: on a store without it such an approval reads consumed.
type Voider interface {
	// VoidApproval moves a consumed approval to denied, with note as its
	// Note, and keeps the rest (who decided, with which key and
	// credentials, when, when it was consumed): the check that consumed
	// it found its approver stopped, and allowed nothing. It returns
	// ErrNotFound for an unknown id and ErrConflict when the approval is
	// not consumed.
	VoidApproval(ctx context.Context, tenant, id, note string) (Approval, error)
}

// Policies holds one versioned policy document per tenant.
type Policies interface {
	// Policy returns the current document of tenant, or ErrNotFound.
	Policy(ctx context.Context, tenant string) (PolicyDoc, error)
	// PutPolicy replaces the document when the stored version equals
	// expectVersion (0: no document yet) and returns it with Version set to
	// expectVersion+1; otherwise it returns ErrConflict and changes nothing.
	PutPolicy(ctx context.Context, doc PolicyDoc, expectVersion int64) (PolicyDoc, error)
}

// Audit persists the audit trail: one hash chain per writer, named by
// AuditRecord.Chain.
type Audit interface {
	// AppendAudit stores records in order. A batch holds one chain's
	// records, whose Seq values continue that chain's stored sequence
	// without gaps, starting at 1: otherwise it is refused with ErrConflict
	// and nothing of the batch is stored. An empty chain name is
	// ErrInvalid.
	AppendAudit(ctx context.Context, recs []AuditRecord) error
	// AuditHead returns the record of chain with the highest Seq, so a new
	// writer can continue the chain; ErrNotFound when it is empty.
	AuditHead(ctx context.Context, chain string) (AuditRecord, error)
	// QueryAudit returns the records matching q ordered by (Chain, Seq),
	// chain names compared bytewise. Paging by AfterSeq needs Chain or
	// AfterChain: ("", n) comes before every record.
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}

// Keys holds API keys (hashes only).
type Keys interface {
	// CreateKey stores k; ErrConflict if its id or hash exists in any
	// tenant.
	CreateKey(ctx context.Context, k Key) error
	// KeyByHash finds a key in any tenant by the SHA-256 of its secret, or
	// ErrNotFound. It is on the path of checks made with an API key.
	KeyByHash(ctx context.Context, hash [32]byte) (Key, error)
	// Key returns one key of tenant by id, or ErrNotFound.
	Key(ctx context.Context, tenant, id string) (Key, error)
	// Keys lists a tenant's keys ordered by CreatedAt then ID.
	Keys(ctx context.Context, tenant string) ([]Key, error)
}

// Hops records server-side delegation so the tree can be listed.
type Hops interface {
	// CreateHop stores h; ErrConflict if its id exists in any tenant.
	CreateHop(ctx context.Context, h Hop) error
	// Hops lists hops matching f ordered by CreatedAt then ID.
	Hops(ctx context.Context, f HopFilter) ([]Hop, error)
}

// Store is everything agenttrust keeps. Implementations are safe for
// concurrent use. After Close every method returns an error wrapping
// ErrClosed.
type Store interface {
	Agents
	Revocations
	Approvals
	Policies
	Audit
	Keys
	Hops
	Close() error
}

// ChangeKind says what a Change is about.
type ChangeKind uint8

// Kinds of change a Watcher delivers.
const (
	// ChangeBlock: a block (revocation or suspension) of ID in Tenant was
	// added or lifted.
	ChangeBlock ChangeKind = iota + 1
	// ChangePolicy: Tenant's policy document was replaced.
	ChangePolicy
	// ChangeMark: the marker sent by Mark with token ID came through the
	// feed, so every change committed before Mark returned has been
	// delivered.
	ChangeMark
)

// Change is one notification from a Watcher.
type Change struct {
	Kind   ChangeKind
	Tenant string
	ID     string
}

// Watcher is implemented by stores that push changes to every node sharing
// them (PostgreSQL LISTEN/NOTIFY; MySQL through a change log each node
// polls; the memory store in process). Nodes that
// keep revocations in memory use it to stay current, and Mark to prove how
// current they are.
type Watcher interface {
	// Watch calls fn, from one goroutine, for each change committed by any
	// writer after Watch began listening, in commit order, until ctx ends
	// or the feed breaks; once ctx has ended it calls fn no more, even for
	// changes it has already read. It returns ctx's error, or one wrapping
	// ErrUnavailable (or ErrClosed when the store closes); changes during a
	// gap are not replayed, so a caller that watches again must reread the
	// state it keeps. PruneRevocations and Resume notify like any write.
	Watch(ctx context.Context, fn func(Change)) error
	// Mark sends a marker with the token through the feed; every Watch
	// then delivers Change{Kind: ChangeMark, ID: token} after all changes
	// committed before Mark returned.
	Mark(ctx context.Context, token string) error
}
