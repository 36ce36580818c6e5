// Package memory implements store.Store in process memory. It is the store
// of tests and examples, and of a single process that can afford to lose
// its state on restart.
//
// # Usage
//
//	s := memory.New()
//	defer s.Close()
//
// New returns an open, empty Store. The zero Store is closed: every method
// returns an error wrapping store.ErrClosed, which a check turns into a
// deny. A Store is safe for concurrent use by multiple goroutines.
//
// # Storage
//
// Approvals, policies, the audit trail and the authoritative block table
// live in a github.com/hashicorp/go-memdb database: readers work on
// immutable snapshots and never wait for writers, and each write is one
// transaction, so a batch of audit records is stored whole or not at all
// and of racing deciders or consumers of an approval exactly one wins.
// Values are copied in and out; nothing a caller holds aliases the store.
//
// # Blocked
//
// Blocked is on the path of every authorization check. It does not touch
// go-memdb: it reads an immutable map of the blocked ids of each tenant
// through one atomic pointer load, then does one lookup for the tenant and
// one per id, without a lock and without allocating (about 40ns for four
// ids among 10,000 blocks). Writes to the block table (Revoke, Suspend,
// Resume, PruneRevocations) copy the changed tenant's ids, change the copy
// and publish it before they return, so a revocation is visible to the
// next check. A write thus costs time proportional to the tenant's blocks;
// blocks change rarely, and PruneRevocations keeps them few.
//
// # Durability
//
// None: the data lives as long as the Store value. Close marks the Store
// closed; the data is freed with it.
package memory
