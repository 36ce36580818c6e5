// Package memory implements store.Store, store.Watcher and
// store.ClusterLimiter in process memory. It is the store of tests and examples, and of a single process
// that can afford to lose its state on restart.
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
// Approvals, policies, the audit chains, API keys, delegation hops and the
// authoritative block table live in a github.com/hashicorp/go-memdb
// database: readers work on immutable snapshots and never wait for
// writers, and each write is one transaction, so a batch of audit records
// is stored whole or not at all and of racing deciders or consumers of an
// approval exactly one wins. Values are copied in and out; nothing a
// caller holds aliases the store.
//
// Where the contract leaves a choice, this store takes the strict one:
// key and hop ids are unique across tenants, like key hashes, and every
// empty id, fingerprint, audit chain or Mark token, and a zero key hash,
// is refused with store.ErrInvalid. Audit chains are ordered bytewise, as
// by strings.Compare.
//
// # Blocked and KeyByHash
//
// Blocked is on the path of every authorization check. It does not touch
// go-memdb: it finds the tenant's blocked ids through one atomic pointer
// load of an immutable map, then looks up each id in a sync.Map, without a
// lock and without allocating (about 60ns for four ids among 10,000
// blocks; a tenant with no blocks costs no lookup). Writes to the block
// table (Revoke, Suspend, Resume, PruneRevocations) replace the entry of
// the one id they change before they return, so a revocation is visible
// to the next check; a write costs the same whatever the number of blocks
// already held (about 20µs, most of it go-memdb's).
//
// KeyByHash, on the path of every check made with an API key, works the
// same way on an immutable map from hash to key, split in 256 shards by
// the hash's first byte so that CreateKey copies one shard, not every key.
// A lookup is one atomic load and one map access, a few tens of ns. A miss
// allocates nothing, nor does a hit on a key without roles, prefixes or
// caveats; any other hit allocates once, for the copies of the key's
// slices that the contract requires.
//
// # Watch
//
// The Store is a store.Watcher in process. Block and policy writes and
// Mark are serialised on one mutex, under which each commits, publishes
// its hot snapshot and queues its store.Change to every Watch, so changes
// arrive in commit order and a marker after every change committed before
// Mark returned. Writers never wait for a watcher: each Watch has a queue
// of 1024 changes, and a Watch that falls that far behind is dropped and
// returns an error wrapping store.ErrUnavailable, telling its caller to
// reread the state it keeps and watch again.
//
// # Cluster limits
//
// The rows of store.Budgeter are a map under a mutex of their own: a
// spend plans on copies and writes back before the mutex is released,
// all or nothing.
//
// The rate state of store.ClusterLimiter is a map under a mutex of its
// own: a take costs about 0.4µs. Clients sharing one Store value share
// its limits.
//
// # Durability
//
// None: the data lives as long as the Store value. Close marks the Store
// closed and ends every Watch; the data is freed with it.
package memory
