package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/agenttrust/agenttrust/store"
)

// prefix starts every error message of the package.
const prefix = "agenttrust/store/sqlite"

// Defaults of the options.
const (
	defaultBusyTimeout = 5 * time.Second
	defaultMaxReaders  = 8
)

// Store is a store.Store kept in one SQLite file. Open one with Open and
// Close it when done.
//
// A Store is safe for concurrent use by multiple goroutines. The zero Store
// is closed: every method returns an error wrapping store.ErrClosed.
//
// Store does not implement store.Watcher: SQLite has no notification from
// one process to another, so a node cannot learn that another node sharing
// the file revoked something. Nodes that share one SQLite file must check
// revocations in strict mode (the default), which asks Blocked on every
// check.
type Store struct {
	open atomic.Bool
	path string
	// syncMode is the synchronous pragma of the write connection, FULL
	// unless WithUnsafeNormalSync; TakeRate lowers it for its own commit.
	syncMode string

	// w is the one write connection: every write runs on it, so writers
	// of this process queue in database/sql rather than collide in
	// SQLite. Its transactions begin IMMEDIATE, taking the file's write
	// lock at once, so a writer in another process makes this one wait
	// (busy timeout) instead of failing midway with "database is locked".
	w *sql.DB
	// r is a pool of read-only connections. In WAL mode readers never
	// block the writer nor each other, and each statement reads the
	// latest committed state.
	r *sql.DB

	// Statements prepared at Open for the per-check paths.
	blocked     [maxPreparedIDs]*sql.Stmt     // on r; blocked[n-1] takes n ids
	keyByHash   *sql.Stmt                     // on r
	auditHead   *sql.Stmt                     // on r
	chainHead   *sql.Stmt                     // on w, inside AppendAudit's transaction
	insertAudit [insertRowsLog2 + 1]*sql.Stmt // on w; insertAudit[i] stores 1<<i rows

	// lock is the open lock file (lockSuffix), held until Close.
	lock *os.File
	// vs is the in-memory view of the blocks table, with WithExclusive
	// (view.go).
	vs viewState
}

// lockSuffix names the lock file beside the database.
const lockSuffix = "-lock"

var _ store.Store = (*Store)(nil)

// Option configures Open. A nil Option is ignored.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	maxReaders  int
	normalSync  bool
	exclusive   bool
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another connection, such as a writer in another process, before it fails
// with an error wrapping store.ErrUnavailable. The default is 5 seconds;
// zero fails at once, and d must not be negative.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = d }
}

// WithMaxReaders bounds the pool of read connections; n must be at least
// 1. The default is 8.
func WithMaxReaders(n int) Option {
	return func(o *options) { o.maxReaders = n }
}

// WithUnsafeNormalSync trades durability for write speed (PRAGMA
// synchronous=NORMAL): a commit still survives a crash of the process, but
// a power loss or an operating system crash can roll back the last
// commits, revocations included. The default, FULL, syncs every commit.
func WithUnsafeNormalSync() Option {
	return func(o *options) { o.normalSync = true }
}

// WithExclusive makes the Store the only one to open the database: Open
// takes an exclusive lock (flock(2) on the file named by the database's
// path, symbolic links resolved, with "-lock" appended, which every Open
// locks, shared otherwise),
// and fails with ErrInUse while another Store, in any process, has the
// file open; another Store's Open fails likewise while this one is open.
// The lock goes with Close or with the process.
//
// As the only writer, the Store keeps the blocks table (revocations and
// suspensions) in memory and answers Blocked, asked on every check, from
// there without a query. The view is exact: each write of the table
// updates it, in commit order, before it returns, so a Blocked that
// starts after Revoke, Suspend, Resume or PruneRevocations returned sees
// the change. A write that fails with an uncertain outcome makes the Store
// read the table back, or drop the view and read the table on every
// Blocked. The view holds every block in memory (about 200 bytes each).
//
// Processes other than agenttrust's that write the file (the sqlite3
// shell) do not take the lock; their changes to revocations are not seen
// until the Store is opened again. On systems without flock (Windows) the
// option keeps no view and takes no lock.
func WithExclusive() Option {
	return func(o *options) { o.exclusive = true }
}

// Open opens the SQLite database at path, creating the file with mode 0600
// when it does not exist, and brings its schema up to date. Opening a
// database whose schema is newer than this code returns an error wrapping
// ErrNewerSchema and changes nothing. path is a file path, not a URI;
// an in-memory database is not supported (use store/memory).
//
// The database runs in WAL mode with foreign keys on. Commits use
// synchronous=FULL, so a revocation that returned survives a power loss.
// WithUnsafeNormalSync syncs the log only at checkpoints, which makes a
// small write about five times cheaper (60µs against 320µs for a Revoke on
// a 2-vCPU machine with a virtual disk) but lets a power loss or an
// operating system crash roll back the last commits.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{busyTimeout: defaultBusyTimeout, maxReaders: defaultMaxReaders}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case o.busyTimeout < 0:
		return nil, fmt.Errorf("%s: open: negative busy timeout %v: %w", prefix, o.busyTimeout, store.ErrInvalid)
	case o.maxReaders < 1:
		return nil, fmt.Errorf("%s: open: %d readers, want at least 1: %w", prefix, o.maxReaders, store.ErrInvalid)
	case path == "" || path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("%s: open: %q is not a file path: %w", prefix, path, store.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}
	if err := createFile(path); err != nil {
		return nil, fmt.Errorf("%s: open %s: %w: %w", prefix, path, store.ErrUnavailable, err)
	}
	// The lock belongs to the file, not to the name it was reached by:
	// a Store opened through a symbolic link must meet the lock of one
	// opened through the file's own path.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w: %w", prefix, path, store.ErrUnavailable, err)
	}
	lock, locked, err := lockFile(real, o.exclusive)
	if errors.Is(err, ErrInUse) {
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w: %w", prefix, path, store.ErrUnavailable, err)
	}
	s, err := open(ctx, path, o)
	if err != nil {
		if lock != nil {
			_ = lock.Close()
		}
		return nil, err
	}
	s.lock = lock
	if o.exclusive && locked {
		v, err := loadView(ctx, s.w)
		if err != nil {
			_ = s.Close()
			return nil, s.openErr(ctx, err)
		}
		s.vs.view.Store(v)
	}
	return s, nil
}

// open opens the database at path, after Open took the lock.
func open(ctx context.Context, path string, o options) (*Store, error) {
	uri, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}

	s := &Store{path: path, syncMode: "FULL"}
	ms := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)
	if o.normalSync {
		s.syncMode = "NORMAL"
	}
	syncMode := s.syncMode
	// Pragmas run on every new connection. busy_timeout comes first so that
	// the others wait for a lock rather than fail. temp_store(MEMORY) keeps
	// statement journals and sorts off the disk.
	s.w, err = sql.Open("sqlite", uri+"?"+url.Values{
		"_pragma": {"busy_timeout(" + ms + ")", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(" + syncMode + ")", "temp_store(MEMORY)"},
		"_txlock": {"immediate"},
	}.Encode())
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, s.w, migrationFS()); err != nil {
		_ = s.w.Close()
		return nil, s.openErr(ctx, err)
	}

	s.r, err = sql.Open("sqlite", uri+"?"+url.Values{
		"_pragma": {"busy_timeout(" + ms + ")", "query_only(1)", "temp_store(MEMORY)"},
	}.Encode())
	if err != nil {
		_ = s.w.Close()
		return nil, fmt.Errorf("%s: open %s: %w", prefix, path, err)
	}
	s.r.SetMaxOpenConns(o.maxReaders)
	s.r.SetMaxIdleConns(o.maxReaders)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err := s.prepare(ctx); err != nil {
		_ = s.r.Close()
		_ = s.w.Close()
		return nil, s.openErr(ctx, err)
	}
	s.open.Store(true)
	return s, nil
}

// openErr wraps an error of Open: errors of this package and context
// errors as they are, SQLite's as unavailability.
func (s *Store) openErr(ctx context.Context, err error) error {
	if errors.Is(err, ErrNewerSchema) || errors.Is(err, errBadMigration) {
		return fmt.Errorf("%s: open %s: %w", prefix, s.path, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: open %s: %w", prefix, s.path, ctx.Err())
	}
	return fmt.Errorf("%s: open %s: %w: %w", prefix, s.path, store.ErrUnavailable, err)
}

// createFile creates path with mode 0600 unless it exists, also when path
// is a symbolic link to a file not yet made. SQLite would create it with
// the process umask applied to 0644; the write-ahead log and
// shared-memory files it creates later copy the mode of the database.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// fileURI returns the SQLite URI of path, escaped so that no character of
// the path (such as '?') is read as URI syntax.
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// prepare prepares the statements of the per-check paths.
func (s *Store) prepare(ctx context.Context) error {
	var err error
	for n := 1; n <= maxPreparedIDs && err == nil; n++ {
		s.blocked[n-1], err = s.r.PrepareContext(ctx, blockedQuery(n))
	}
	prep := func(db *sql.DB, dst **sql.Stmt, query string) {
		if err == nil {
			*dst, err = db.PrepareContext(ctx, query)
		}
	}
	prep(s.r, &s.keyByHash, `SELECT `+keyCols+` FROM keys WHERE hash = ?`)
	prep(s.r, &s.auditHead, `SELECT `+auditSelect+` FROM audit WHERE chain = ? ORDER BY seq DESC LIMIT 1`)
	prep(s.w, &s.chainHead, `SELECT seq FROM audit WHERE chain = ? ORDER BY seq DESC LIMIT 1`)
	for i := range s.insertAudit {
		prep(s.w, &s.insertAudit[i], insertAudit(1<<i))
	}
	return err
}

// Close closes the database. Every later call, Close included, returns an
// error wrapping store.ErrClosed. Calls running when Close is called
// finish first.
func (s *Store) Close() error {
	if !s.open.CompareAndSwap(true, false) {
		return fmt.Errorf("%s: close: %w", prefix, store.ErrClosed)
	}
	s.vs.view.Store(nil)
	// Closing the pools closes their statements; the lock goes last.
	err := errors.Join(s.r.Close(), s.w.Close())
	if s.lock != nil {
		_ = s.lock.Close()
	}
	if err != nil {
		return fmt.Errorf("%s: close %s: %w: %w", prefix, s.path, store.ErrUnavailable, err)
	}
	return nil
}

// ready reports whether op may run: the store is open and ctx is live.
func (s *Store) ready(ctx context.Context, op string) error {
	if !s.open.Load() {
		return fmt.Errorf("%s: %s: %w", prefix, op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", prefix, op, err)
	}
	return nil
}

// fail wraps err, returned by database/sql during op, in the sentinel that
// says what happened: store.ErrClosed when the store was closed meanwhile,
// ctx's error when ctx ended, store.ErrConflict for a uniqueness violation,
// store.ErrUnavailable for I/O, locking and resource failures. Any other
// error, which would be a bug, is wrapped as it is.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if !s.open.Load() {
		return fmt.Errorf("%s: %s: %w", prefix, op, store.ErrClosed)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %s: %w", prefix, op, ctxErr)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %s: %w", prefix, op, err)
	}
	var se *modernc.Error
	if errors.As(err, &se) {
		switch code := se.Code(); code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			if code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE {
				return fmt.Errorf("%s: %s: %w: %w", prefix, op, store.ErrConflict, err)
			}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_PERM,
			sqlite3.SQLITE_NOLFS, sqlite3.SQLITE_AUTH:
			return fmt.Errorf("%s: %s: %w: %w", prefix, op, store.ErrUnavailable, err)
		}
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return fmt.Errorf("%s: %s: %w: %w", prefix, op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %s: %w", prefix, op, err)
}

// write runs fn in a transaction on the write connection, which begins
// IMMEDIATE, and commits it when fn returns nil. Errors fn returns are
// returned as they are; database/sql's are wrapped by fail.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.fail(ctx, op, err)
	}
	return nil
}

// invalid returns the error of an argument that breaks the contract.
func invalid(op, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s: %w", prefix, op, fmt.Sprintf(format, args...), store.ErrInvalid)
}
