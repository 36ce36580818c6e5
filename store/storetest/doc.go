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
// data, the audit chain included, survives a close and an open run too.
// Without it they are skipped. A backend that cannot run, such as a database
// that is not reachable, skips its test before calling Run: Run fails when
// it ran no case.
//
// # What is checked
//
// The cases check the semantics of the contract in package store, not only
// that values round-trip: the sentinel errors (through errors.Is), that a
// revocation is visible as soon as Revoke returns, that revocations win over
// suspensions, the approval lifecycle and its races (exactly one of many
// concurrent deciders or consumers wins), compare-and-set of policies, the
// audit sequence and its filters, that values passed in and returned are
// copies, that every method fails with store.ErrClosed after Close and with
// context.Canceled on a cancelled context, and that concurrent writers lose
// nothing. The cases are safe to run with the race detector.
//
// # Time and data
//
// Cases never read the clock: every time is fixed and passed in, in whole
// seconds, so a backend storing microseconds loses nothing. Times are
// compared as instants (location and monotonic reading may change), and a
// nil slice equals an empty one. Byte fields (Attributes, Body) must come
// back byte for byte: audit hashes cover them.
//
// Where the contract leaves a choice open, the cases accept any answer:
// which of several matching approvals ConsumeApproval takes, what a repeated
// revocation keeps besides the later ExpiresAt, and which error refuses an
// invalid argument. Two choices the contract implies are tested: the first
// audit record of an empty trail has Seq 1 (AfterSeq 0 must match it), and
// an approval is found only in its own tenant.
package storetest
