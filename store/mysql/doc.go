// Package mysql is the MySQL and MariaDB backend of agenttrust: a
// store.Store for the state that several nodes share, and a store.Watcher
// that feeds revocations, suspensions and policy changes to every node
// through a change log it polls. It supports MySQL 8.0 and later and
// MariaDB 10.11 and later, and is tested on MariaDB.
//
// # Usage
//
//	s, err := mysql.Open(ctx, "agenttrust:secret@tcp(db:3306)/agenttrust",
//		mysql.WithQueryTimeout(time.Second))
//	if err != nil {
//		return err
//	}
//	defer s.Close()
//
// The DSN is that of github.com/go-sql-driver/mysql and must name a
// database, which must exist; the store's tables are created in it, their
// names starting with a prefix (WithTablePrefix, default "agenttrust_"),
// so the database may be shared. The store needs a user that may create
// and alter those tables (for its migrations) and read and write them;
// parseTime and multiStatements are not needed, and each connection's
// sql_mode is set to STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION whatever the
// DSN or the server says, so that a value too long for its column is
// refused (store.ErrInvalid), never cut short. TLS and the other driver
// settings come from the DSN.
//
// Open creates the tables if they are missing and brings them up to date:
// the migrations are embedded in the binary, versioned in a
// schema_migrations table, and applied under a named lock (GET_LOCK), so
// nodes may start together. MySQL commits each DDL statement as it runs;
// every statement of a migration is idempotent, so a migration cut short
// is completed by the next Open. Open refuses servers older than MySQL 8.0
// or MariaDB 10.6, past their vendors' support.
//
// # Failures
//
// Every call runs under the query timeout (WithQueryTimeout), waiting for
// a connection included, and so does every read and write on a
// connection, the handshake included (the DSN's timeout, readTimeout and
// writeTimeout can only shorten it), so that no connection hangs on a
// stalled link. WithMaxConns bounds the calls holding a connection; a
// call waits for one of them within its timeout. A timeout, a
// refused or dropped connection, a server that is shutting down,
// read-only (a replica, or a primary during a failover) or out of
// connections yields an error wrapping store.ErrUnavailable, which
// agenttrust treats as a deny.
//
// The store heals by itself: connections found dead are dropped and new
// ones made, a connection whose server turned read-only is dropped on its
// first refused write (the driver's rejectReadOnly, so a failover is
// followed), and connections are renewed every 3 minutes, before proxies
// drop them as idle. A call that could not get a connection is tried
// again within the timeout, a write included, since nothing was sent; a
// read that failed because its connection broke is tried once more; a
// statement or transaction the server rolled back as a deadlock victim is
// tried up to 4 times. As with any network store, a write that failed
// with ErrUnavailable may still have been applied.
//
// # Consistency
//
// Each method is one statement, or one short transaction. Every statement
// whose text is fixed is prepared once per connection and kept, so that
// it costs one round trip:
//
//   - Blocked is one query for all ids, on the primary key: one round
//     trip, however many ids (up to 64; more are sent as a one-off
//     statement).
//   - KeyByHash is one lookup on a unique index.
//   - DecideApproval is one UPDATE ... WHERE status = 'pending' (then a
//     read of the row it decided), and ConsumeApproval locks the oldest
//     candidate with FOR UPDATE and consumes it, so each approval is
//     decided and consumed exactly once; concurrent consumers of one
//     fingerprint wait for each other, and each takes the oldest
//     candidate left.
//   - AppendAudit checks that the record before the batch is stored and
//     inserts the batch; the (chain, seq) primary key refuses a repeat,
//     so a chain never has a gap or a fork. A batch larger than one
//     statement should carry goes in several, in one transaction.
//   - PutPolicy is a compare-and-set on the version column.
//   - Each block or policy write appends to the change log in its own
//     transaction (see Watch): a revocation is five round trips (begin,
//     write, bump the counter, log, commit).
//
// The server's default isolation level (REPEATABLE READ) is kept: every
// decision that needs the latest committed row takes a row lock.
//
// Times are stored as BIGINT Unix nanoseconds (NULL for the zero time), so
// they round-trip exactly: the audit hash covers Time.UnixNano. Stored
// times must therefore lie between 1677 and 2262; others are refused with
// store.ErrInvalid. Every string is stored in a binary column (VARBINARY
// or BLOB), byte for byte whatever the connection's character set, and
// compared and ordered bytewise. Tenants and most ids are limited to 255
// bytes (a block's id to 512), the sizes of their indexed columns; longer
// ones are refused with store.ErrInvalid.
//
// # Cluster limits
//
// Store implements store.Budgeter in the budgets table: a spend is one
// InnoDB transaction that locks the chain's rows with one SELECT ... FOR
// UPDATE, in primary key order (one order for every spend); a locking
// read sees the latest committed row whatever the isolation level. A duplicate key or a
// deadlock (gap locks on rows not there yet) runs it again.
//
// Store implements store.ClusterLimiter in the rates table, so every node
// on the tables shares the limits. A take is one statement, INSERT ... ON
// DUPLICATE KEY UPDATE tat = IF(allowed, new TAT, tat): MySQL has no
// RETURNING, and the affected-row count tells the outcome (1 inserted or
// 2 changed when the take passes, 0 when it is refused; the store counts
// changed rows whatever the DSN's clientFoundRows says). InnoDB locks the
// row and the update reads its latest committed version, so concurrent
// takes of every node are serialised on it. PruneRates is one DELETE on
// the tenant's range of the primary key. Tenant, limit and key are each
// up to 1024 bytes (store.MaxRateKey), which makes the primary key 3072
// bytes, InnoDB's limit with its default 16 KiB pages: the migration
// fails on a server with smaller pages.
//
// A take commits durably, like every write of the store: MySQL and
// MariaDB cannot relax the log flush for one transaction
// (innodb_flush_log_at_trx_commit is global), and a take the server
// acknowledged is not forgotten by its crash. It costs a round trip and
// the server's log flush: 0.63 ms a take that passes, 0.09 ms one that is
// refused (it writes nothing), against 0.055 ms for a bare round trip, on
// MariaDB 10.11 on a loaded 2-vCPU machine (BenchmarkTakeRate,
// BenchmarkRoundTrip); concurrent takes share flushes (group commit),
// 0.34 ms a take from two goroutines on keys of their own.
//
// # Watch
//
// MySQL has no LISTEN/NOTIFY. Every block or policy write bumps a counter
// row and appends a row numbered by it to the change log, in the write's
// transaction: the counter's row lock is held until commit, so sequence
// order is commit order. Watch polls the log past the last change it
// delivered, every poll interval (WithPollInterval, default 50ms): one
// indexed read, which returns nothing when nothing changed. A change is
// therefore delivered within about the poll interval, in commit order,
// to every Watch of every Store on the same tables (measured here: a
// suspension on one node denied on another in notify mode after 44ms at
// the median, 64ms at p99). A failed poll ends
// Watch with store.ErrUnavailable, within the poll interval plus the query
// timeout of the fault. The log keeps the last 100,000 changes; a Watch
// that fell further behind fails with store.ErrUnavailable, so its caller
// rereads the state.
//
// Mark writes nothing: it reads the counter and hands the token to every
// Watch of its own Store, which delivers it after the changes up to that
// count and wakes at once to read them. Marks are thus local to a Store —
// which is how agenttrust's notify mode uses them, each node proving its
// own view fresh — and cost one primary-key read. In notify mode
// (agenttrust.WithNotify) a node therefore costs the database one read per
// poll interval for the feed and one per PollInterval of the client for
// its markers, whatever the rate of checks.
//
// # Tests
//
// The tests need a database: they read a DSN from the environment
// variable AGENTTRUST_TEST_MYSQL, such as root@tcp(127.0.0.1:3306)/test,
// and skip when it is unset. The user must be allowed to create
// databases: each test creates its own, named agenttrust_test_ and a
// random suffix, and drops it afterwards.
package mysql
