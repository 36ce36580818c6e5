package mysql

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/agenttrust/agenttrust/store"
)

// Defaults of the options.
const (
	DefaultTablePrefix  = "agenttrust_"
	DefaultQueryTimeout = 2 * time.Second
	DefaultPollInterval = 50 * time.Millisecond
)

// sqlMode is the session sql_mode of every connection: strict, so that a
// value too long for its column is refused rather than cut short, and
// without ANSI_QUOTES or NO_BACKSLASH_ESCAPES, whatever the server's
// default.
const sqlMode = "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"

// Store is a store.Store and a store.Watcher on MySQL or MariaDB. Create
// one with Open.
//
// A Store is safe for concurrent use by multiple goroutines. The zero Store
// is closed: every method returns an error wrapping store.ErrClosed.
type Store struct {
	open    atomic.Bool
	db      *sql.DB
	slots   chan struct{} // one token per call holding a connection
	prefix  string
	lock    string // GET_LOCK name of the tables, for migrations
	timeout time.Duration
	poll    time.Duration
	q       queries
	kept    map[string]*sql.Stmt // see prepare; read-only once open

	watchMu sync.Mutex
	watches map[*watch]struct{}

	// beforePoll, when set (by tests only), runs in Watch before each
	// poll of the change log.
	beforePoll func()
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Watcher = (*Store)(nil)
)

// Option configures Open.
type Option func(*config)

type config struct {
	prefix   string
	timeout  time.Duration
	maxConns int
	poll     time.Duration
}

// WithTablePrefix names the store's tables: prefix followed by blocks,
// approvals, audit and so on. The default is DefaultTablePrefix. Stores
// with different prefixes in one database share nothing, their change
// feeds included. A prefix is 1 to 32 ASCII letters, digits and
// underscores, starting with a letter or underscore.
func WithTablePrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithQueryTimeout bounds every call to the database: waiting for a
// connection, connecting and the statements themselves. A call that runs
// out of it fails with an error wrapping store.ErrUnavailable. The default
// is DefaultQueryTimeout; the caller's context can only shorten it.
func WithQueryTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithMaxConns caps the connections the store keeps open, each running
// Watch's polls included. The default is the number of CPUs, at least 4.
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = n } }

// WithPollInterval sets how often Watch reads the change log when nothing
// wakes it: a change committed by another process is delivered within
// about this long, and a stalled or cut link is reported (as
// store.ErrUnavailable) within it plus the query timeout. A Mark sent
// through the same Store wakes its Watch at once. The default is
// DefaultPollInterval.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.poll = d } }

var prefixPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,31}$`)

// Open connects to the database named by dsn, a DSN of
// github.com/go-sql-driver/mysql such as
// "agenttrust:secret@tcp(db:3306)/agenttrust", creates the store's tables
// or brings them up to date, and returns the store. The DSN must name a
// database; the store sets the session's sql_mode and needs neither
// parseTime nor multiStatements. Migrations run under a named lock
// (GET_LOCK), so processes may open the same tables concurrently. An
// unreachable database yields an error wrapping store.ErrUnavailable, an
// invalid option or DSN one wrapping store.ErrInvalid, and a server older
// than MySQL 8.0 or MariaDB 10.6 an error saying so.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg := config{
		prefix:   DefaultTablePrefix,
		timeout:  DefaultQueryTimeout,
		maxConns: max(4, runtime.NumCPU()),
		poll:     DefaultPollInterval,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case !prefixPattern.MatchString(cfg.prefix):
		return nil, fmt.Errorf("%s open: table prefix %q must be 1 to 32 ASCII letters, digits or underscores, not starting with a digit: %w", prefix, cfg.prefix, store.ErrInvalid)
	case cfg.timeout <= 0:
		return nil, fmt.Errorf("%s open: query timeout %v must be positive: %w", prefix, cfg.timeout, store.ErrInvalid)
	case cfg.maxConns < 1:
		return nil, fmt.Errorf("%s open: max conns %d must be at least 1: %w", prefix, cfg.maxConns, store.ErrInvalid)
	case cfg.poll <= 0:
		return nil, fmt.Errorf("%s open: poll interval %v must be positive: %w", prefix, cfg.poll, store.ErrInvalid)
	}
	dc, err := driver.ParseDSN(dsn)
	if err != nil {
		// The message of a parse error may quote the DSN, password
		// included: do not wrap it.
		return nil, fmt.Errorf("%s open: invalid DSN: %w", prefix, store.ErrInvalid)
	}
	if dc.DBName == "" {
		return nil, fmt.Errorf("%s open: the DSN names no database (user:password@tcp(host:3306)/database): %w", prefix, store.ErrInvalid)
	}
	if dc.Params == nil {
		dc.Params = map[string]string{}
	}
	dc.Params["sql_mode"] = sqlMode
	dc.MultiStatements = false
	dc.Logger = quiet{} // the errors reach the caller; the driver's log would go to stderr
	dc.CheckConnLiveness = true
	// Affected rows count the rows a statement changed, never those it
	// only found: TakeRate tells a refusal by a count of 0.
	dc.ClientFoundRows = false
	// A connection to a server that turned read-only (a primary demoted
	// by a failover) is dropped on its first refused write, so that the
	// next connection finds the new primary.
	dc.RejectReadOnly = true
	// Every read and write on a connection is bounded by the query
	// timeout, the handshake included. Migrations, which may wait
	// longer, have connections of their own.
	mc := dc.Clone()
	for _, c := range []struct {
		cfg *driver.Config
		max time.Duration
	}{{dc, cfg.timeout}, {mc, migrateTimeout * cfg.timeout}} {
		for _, d := range []*time.Duration{&c.cfg.Timeout, &c.cfg.ReadTimeout, &c.cfg.WriteTimeout} {
			if *d == 0 || *d > c.max {
				*d = c.max
			}
		}
	}
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return nil, fmt.Errorf("%s open: invalid DSN: %w", prefix, store.ErrInvalid)
	}
	mconn, err := driver.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("%s open: invalid DSN: %w", prefix, store.ErrInvalid)
	}
	db := sql.OpenDB(connector{conn})
	// The store bounds its connections itself (slots), and database/sql
	// is left unbounded: it then never queues a call for a connection, so
	// it never dials one in the background, outside any call's context,
	// to hand to a call made later (on a broken link, with the error of a
	// dial made before the link healed).
	db.SetMaxOpenConns(0)
	db.SetMaxIdleConns(cfg.maxConns)
	db.SetConnMaxIdleTime(time.Minute)
	// Connections are renewed before proxies and load balancers drop
	// them as idle (often at 5 minutes), and so follow DNS after a
	// failover.
	db.SetConnMaxLifetime(3 * time.Minute)

	s := &Store{
		db:      db,
		slots:   make(chan struct{}, cfg.maxConns),
		prefix:  cfg.prefix,
		lock:    lockName(dc.DBName, cfg.prefix),
		timeout: cfg.timeout,
		poll:    cfg.poll,
		q:       newQueries(cfg.prefix),
		watches: map[*watch]struct{}{},
	}
	if err := s.migrate(ctx, mconn); err != nil {
		db.Close()
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, migrateTimeout*s.timeout)
	defer cancel()
	if err := s.prepare(pctx); err != nil {
		db.Close()
		return nil, classify(ctx, "open", err, false)
	}
	s.open.Store(true)
	return s, nil
}

// Close closes the store's connections and ends every running Watch; every
// later call, Close included, returns an error wrapping store.ErrClosed.
// Calls running when Close is called may fail with store.ErrClosed too.
func (s *Store) Close() error {
	if !s.open.CompareAndSwap(true, false) {
		return fmt.Errorf("%s close: %w", prefix, store.ErrClosed)
	}
	s.watchMu.Lock()
	for w := range s.watches {
		w.cancel(store.ErrClosed)
	}
	s.watchMu.Unlock()
	s.closeStmts()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%s close: %w", prefix, err)
	}
	return nil
}

// connector marks the errors of making a connection, so that a call that
// failed before reaching the server can be tried again, a write included.
// database/sql hands the error of a connection it dialled in the
// background to the next call waiting for one: after a fault, that can be
// a call made once the link is well again.
type connector struct{ sqldriver.Connector }

func (c connector) Connect(ctx context.Context) (sqldriver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, &connectError{err}
	}
	return conn, nil
}

// connectError is an error of making a connection: nothing was sent.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// quiet discards the driver's log.
type quiet struct{}

func (quiet) Print(...any) {}

// TablePrefix returns the prefix of the store's table names.
func (s *Store) TablePrefix() string { return s.prefix }

// ready reports whether op may run: the store is open and ctx is live.
func (s *Store) ready(ctx context.Context, op string) error {
	if !s.open.Load() {
		return fmt.Errorf("%s %s: %w", prefix, op, store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	return nil
}

// table renders a statement: {p} becomes the table prefix.
func table(prefix, query string) string { return strings.ReplaceAll(query, "{p}", prefix) }

// Times are stored as Unix nanoseconds, NULL for the zero time. The
// instants int64 nanoseconds can hold run from 1677-09-21 to 2262-04-11.

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// storedTime encodes t for storage; a non-zero t outside the range yields
// an error wrapping store.ErrInvalid.
func storedTime(what string, t time.Time) (sql.NullInt64, error) {
	if t.IsZero() {
		return sql.NullInt64{}, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return sql.NullInt64{}, fmt.Errorf("%s %s %s is outside the storable range %d to %d: %w",
			prefix, what, t.Format(time.RFC3339Nano), minTime.Year(), maxTime.Year(), store.ErrInvalid)
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}, nil
}

// compareTime encodes t for comparison with stored times: one outside the
// range is clamped, which compares the same with every storable time.
func compareTime(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// loadTime decodes a stored time, in UTC.
func loadTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.Unix(0, v.Int64).UTC()
}
