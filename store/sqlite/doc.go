// Package sqlite implements store.Store in one SQLite file, with the pure
// Go driver modernc.org/sqlite: no cgo, no server. It is the embedded
// default of the agenttrust server, for a single node or a few processes on
// one machine; several nodes on a network share store/postgres instead.
//
// # Usage
//
//	s, err := sqlite.Open(ctx, "/var/lib/agenttrust/agenttrust.db")
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//
// Open creates the file, with mode 0600, when it does not exist, and
// migrates its schema. A Store is safe for concurrent use by multiple
// goroutines; the zero Store is closed.
//
// # Schema and migrations
//
// The schema is a series of SQL files embedded in the package
// (migrations/0001_init.sql, ...). Open applies those the database lacks in
// one transaction and records each in the schema_migrations table, so a
// failed upgrade changes nothing. A database migrated by a newer release is
// refused with ErrNewerSchema rather than read with the wrong schema.
//
// # Concurrency and durability
//
// The database runs in WAL mode: readers, a pool of read-only connections,
// never block the writer or each other, and see every write committed
// before their statement began. All writes of a Store go through one
// connection, so writers of one process queue in Go rather than contend
// for SQLite's lock; write transactions begin IMMEDIATE and wait up to the
// busy timeout (WithBusyTimeout) for a writer in another process, so
// concurrent writers do not fail with "database is locked". Every value
// reaches SQLite as a bound parameter.
//
// Commits use synchronous=FULL: a commit that returned survives a power
// loss. WithUnsafeNormalSync makes writes about five times cheaper at the
// price that a power loss or an operating system crash can roll back the
// last commits.
//
// # Data
//
// Times are stored as integer nanoseconds since the Unix epoch, so they
// come back exactly (audit hashes cover them), in UTC; the zero time is
// stored as the smallest integer and sorts first, as in Go. A non-zero time
// before 1678 or after 2262 cannot be stored and is refused with
// store.ErrInvalid. Hashes and decision ids are BLOBs, attribute and
// policy bytes are kept byte for byte, and lists of strings are JSON
// arrays.
//
// # Performance
//
// Blocked, asked on every check in strict mode, is one query over the
// primary key of the blocks table, one probe per id, revocations first;
// KeyByHash is one probe of a unique index. Both are prepared at Open.
// AppendAudit checks a batch and stores it in one transaction with one
// prepared insert per record; QueryAudit runs on the indexes (chain, seq),
// (tenant, time), agent, tool and decision id. On a 2-vCPU machine, where
// the driver itself reads a row by primary key in about 4µs and inserts a
// row of a plain table, 100 a transaction, in about 3µs (BenchmarkBaseline),
// a Blocked of four ids among 10,000 blocks costs about 11µs (14µs when
// one is blocked), a KeyByHash about 8µs, and AppendAudit about 16µs a
// record in batches of 100, against 95µs for a batch of one: the five
// indexes of the audit table account for half of it. Batch audit writes.
//
// # Cluster limits
//
// Store implements store.Budgeter in the budgets table: a spend is one
// IMMEDIATE transaction on the write connection, which holds the file's
// write lock while it reads, plans and writes the chain's rows, so it is
// all or nothing across processes sharing the file. It commits as every
// write does (synchronous FULL unless WithUnsafeNormalSync).
//
// Store implements store.ClusterLimiter in the rates table: a take is one
// INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING on the write
// connection, so processes sharing the file share the limits. It commits
// with synchronous=NORMAL, set for its own commit and restored after: a
// take survives a crash of the process but not a power loss, and does
// not sync the log, which took 4.7 ms a take on a loaded disk under FULL
// and takes 0.1 ms without (BenchmarkTakeRate, 2 vCPU at load ~15; 46µs
// for a refused take). Every other write keeps the store's mode.
//
// # Change notification
//
// Store does not implement store.Watcher: SQLite cannot tell one process
// that another changed the file. Nodes sharing one SQLite file must check
// revocations in strict mode, which reads them from the store on every
// check, not in notify mode.
//
// # Exclusive use
//
// A Store opened WithExclusive is the file's only user, which a lock
// file (the database path with "-lock" appended, locked by every Open)
// enforces: another Store's Open, in any process, fails with ErrInUse
// while it is open, and it cannot open while another is. Being the only
// writer, it keeps revocations and suspensions in memory and answers
// Blocked, asked on every strict check, without a query
// (BenchmarkBlocked: about 0.2µs and no allocation, against 11-30µs),
// still strict: each write updates the view, in commit order, before it
// returns. agenttrust serve opens its SQLite file so.
package sqlite
