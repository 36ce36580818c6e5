// Package storetest is the conformance suite for store.Store: every backend
// (memory, SQLite, PostgreSQL, a remote store) runs the same cases, so that
// agenttrust behaves the same whichever one holds its state.
//
// # Usage
//
// A backend's test calls Run with a function that opens a fresh, empty
// store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// A durable backend also passes WithReopen, so that the cases checking that
// data, the audit chains included, survives a close and an open run too.
// Without it they are skipped. A backend that cannot run, such as a database
// that is not reachable, skips its test before calling Run: Run fails when
// it ran no case. The Watch cases run when the store also implements
// store.Watcher, and are skipped when it does not.
//
// # What is checked
//
// The cases check the semantics of the contract in package store, not only
// that values round-trip: the sentinel errors (through errors.Is), ErrInvalid
// for empty ids, that a revocation is visible as soon as Revoke returns, that
// revocations win over suspensions and a repeated revocation keeps its first
// Reason and CreatedAt and the later ExpiresAt, the approval lifecycle and
// its races (exactly one of many concurrent deciders or consumers wins, the
// oldest candidate is taken), compare-and-set of policies, API keys (unique
// ids and hashes, KeyByHash across tenants), delegation hops and their
// filters, the audit chains (each chain's sequence from 1, batches of one
// chain, (Chain, Seq) order and paging, each chain's head), that values
// passed in and returned are copies, that every method fails with
// store.ErrClosed after Close and with context.Canceled on a cancelled
// context and then changes nothing, that concurrent writers lose nothing,
// and, for a store.Watcher, that changes and markers arrive in commit order
// at every watcher. The cases are safe to run with the race detector.
//
// # Time and data
//
// Cases never read the clock for data: every time is fixed and passed in, in
// whole seconds, so a backend storing microseconds loses nothing. Times are
// compared as instants (location and monotonic reading may change), and a
// nil slice equals an empty one. Byte fields (Attributes, Body) must come
// back byte for byte: audit hashes cover them. Chain names are lowercase
// letters, so that any collation orders them as Go's strings.Compare does.
// The Watch cases wait for deliveries with generous timeouts that only turn
// a hang into a failure; no case sleeps to pass.
//
// # Choices left to the backend
//
// Where the contract leaves a choice open, the cases accept any answer:
// whether key and hop ids are unique per tenant or across tenants (tenants
// never see each other's either way), whether a lookup of an empty id
// (Resume, Approval, DecideApproval, Key, AuditHead) fails with ErrInvalid
// or ErrNotFound, whether Hops with an empty HopFilter.Tenant fails with
// ErrInvalid or lists the empty tenant's hops, which of several approvals
// created at the same instant is the oldest, and whether a Watch ended by
// Close fails with ErrClosed or ErrUnavailable. Two choices the contract
// implies are tested: an audit batch of the empty chain is refused with
// ErrInvalid (AuditQuery could not select that chain apart from every
// chain), and an approval, key or hop is found only in its own tenant.
package storetest
