package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// envDSN names the environment variable holding the DSN of the test
// database, such as root@tcp(127.0.0.1:3306)/test.
const envDSN = "AGENTTRUST_TEST_MYSQL"

// testDSN returns the DSN of the test database, or skips tb.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		tb.Skipf("set %s to a MySQL or MariaDB DSN (such as root@tcp(127.0.0.1:3306)/test) to run the MySQL tests", envDSN)
	}
	return dsn
}

// freshDatabase creates a database of a new random name, dropped with
// everything in it when tb ends, and returns the DSN of it: each test has
// its own tables, so parallel runs and reruns on a shared server do not
// meet. Only databases this function created are dropped.
func freshDatabase(tb testing.TB, dsn string) string {
	tb.Helper()
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		tb.Fatalf("%s: %v", envDSN, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "agenttrust_test_" + hex.EncodeToString(b[:])
	admin(tb, dsn, "CREATE DATABASE "+name)
	tb.Cleanup(func() { admin(tb, dsn, "DROP DATABASE IF EXISTS "+name) })
	cfg.DBName = name
	return cfg.FormatDSN()
}

// admin runs one statement on the test database.
func admin(tb testing.TB, dsn, stmt string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		tb.Errorf("%s: %v", stmt, err)
	}
}

// open opens a store on dsn, closed when tb ends.
func open(tb testing.TB, dsn string, opts ...mysql.Option) *mysql.Store {
	tb.Helper()
	// The database is shared with the rest of CI: under the race
	// detector's load a connection can outlast the connect timeout, so an
	// unavailable store is tried again, twice.
	var s *mysql.Store
	var err error
	for attempt := 1; ; attempt++ {
		s, err = mysql.Open(context.Background(), dsn, opts...)
		if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
			break
		}
		tb.Logf("Open, attempt %d: %v", attempt, err)
	}
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore opens a store on a fresh database and returns its DSN too.
func newStore(tb testing.TB, opts ...mysql.Option) (*mysql.Store, string) {
	tb.Helper()
	dsn := freshDatabase(tb, testDSN(tb))
	return open(tb, dsn, opts...), dsn
}

func TestConformance(t *testing.T) {
	base := testDSN(t)
	dsns := map[*mysql.Store]string{}
	storetest.Run(t,
		func(t *testing.T) store.Store {
			dsn := freshDatabase(t, base)
			// 1,000 spends of a budget tree (Budgets/ConcurrentTree) queue
			// on its root's row: on a database shared with the rest of CI,
			// under the race detector, the last waits longer than the
			// default timeout.
			s := open(t, dsn, mysql.WithQueryTimeout(20*time.Second))
			dsns[s] = dsn
			return s
		},
		storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
			dsn := dsns[s.(*mysql.Store)]
			if err := s.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			reopened := open(t, dsn)
			dsns[reopened] = dsn
			return reopened
		}),
	)
}

func TestZeroValueIsClosed(t *testing.T) {
	var s mysql.Store
	ctx := t.Context()
	if _, _, err := s.Blocked(ctx, "acme", []string{"x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Blocked on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Revoke(ctx, store.Block{ID: "x"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Revoke on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Watch(ctx, func(store.Change) {}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Watch on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Mark(ctx, "m"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Mark on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close on the zero Store: error = %v, want one wrapping %v", err, store.ErrClosed)
	}
}

func TestOpenInvalidOptions(t *testing.T) {
	ctx := t.Context()
	const dsn = "u@tcp(127.0.0.1:1)/x"
	for _, tc := range []struct {
		name string
		dsn  string
		opts []mysql.Option
	}{
		{"empty prefix", dsn, []mysql.Option{mysql.WithTablePrefix("")}},
		{"long prefix", dsn, []mysql.Option{mysql.WithTablePrefix(strings.Repeat("p", 33))}},
		{"quote in prefix", dsn, []mysql.Option{mysql.WithTablePrefix("a`b")}},
		{"digit first", dsn, []mysql.Option{mysql.WithTablePrefix("1a")}},
		{"zero timeout", dsn, []mysql.Option{mysql.WithQueryTimeout(0)}},
		{"no conns", dsn, []mysql.Option{mysql.WithMaxConns(0)}},
		{"zero poll", dsn, []mysql.Option{mysql.WithPollInterval(0)}},
		{"bad dsn", "user:secret@tcp(127.0.0.1:1", nil},
		{"no database", "user:secret@tcp(127.0.0.1:1)/", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := mysql.Open(ctx, tc.dsn, tc.opts...)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("Open: %v, want an error wrapping %v", err, store.ErrInvalid)
			}
			if s != nil {
				t.Error("Open returned a store with its error")
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	start := time.Now()
	_, err := mysql.Open(t.Context(), "u:secret@tcp(127.0.0.1:1)/x", mysql.WithQueryTimeout(200*time.Millisecond))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server: %v, want an error wrapping %v", err, store.ErrUnavailable)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Open took %v", took)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error quotes the password: %v", err)
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := mysql.Open(ctx, "u@tcp(127.0.0.1:1)/x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context: %v", err)
	}
}

// Nodes starting together on empty tables migrate them once.
func TestConcurrentOpen(t *testing.T) {
	dsn := freshDatabase(t, testDSN(t))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := mysql.Open(t.Context(), dsn, mysql.WithQueryTimeout(5*time.Second))
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	db := rawDB(t, dsn)
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM agenttrust_schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Errorf("schema_migrations holds %d rows (%v), want %d, one per migration", n, err, len(files))
	}
}

// Tables from before the request_id column are brought up to date with
// their records intact: a record written before the column existed reads
// back as it was stored, with no request id (NULL). A migration cut short after its
// ALTER TABLE (the column exists, its version is not recorded) is
// completed by the next Open.
func TestMigrateAuditRequestID(t *testing.T) {
	// The request id's migration and every later one (grants, the shadow
	// columns), forgotten: run again, each finds its table or columns there.
	const forgetMigration = `DELETE FROM agenttrust_schema_migrations WHERE version >= 3`
	s, dsn := newStore(t)
	ctx := t.Context()
	old := store.AuditRecord{Chain: "n1/acme", Seq: 1, Time: time.Unix(1, 0).UTC(), Tenant: "acme", AgentID: "bot", Tool: "t", Effect: store.Deny}
	if err := s.AppendAudit(ctx, []store.AuditRecord{old}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Back to before the column, as an earlier build left the tables.
	rawExec(t, dsn, `ALTER TABLE agenttrust_audit DROP COLUMN request_id, DROP COLUMN shadow_effect, DROP COLUMN shadow_rule`)
	rawExec(t, dsn, forgetMigration)
	s = open(t, dsn)
	recs, err := s.QueryAudit(ctx, store.AuditQuery{Chain: "n1/acme"})
	if err != nil || len(recs) != 1 || recs[0].RequestID != "" || recs[0].Seq != 1 {
		t.Fatalf("record of version 1 after the migration: %+v %v", recs, err)
	}
	var null bool
	if err := rawDB(t, dsn).QueryRow(`SELECT request_id IS NULL FROM agenttrust_audit`).Scan(&null); err != nil || !null {
		t.Fatalf("request_id of the old record: NULL %v (%v), want NULL", null, err)
	}
	next := old
	next.Seq, next.PrevHash, next.RequestID = 2, old.Hash, "abc-123"
	if err := s.AppendAudit(ctx, []store.AuditRecord{next}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawExec(t, dsn, forgetMigration)
	s = open(t, dsn)
	recs, err = s.QueryAudit(ctx, store.AuditQuery{Chain: "n1/acme"})
	if err != nil || len(recs) != 2 || recs[1].RequestID != "abc-123" {
		t.Fatalf("records after a migration cut short: %+v %v", recs, err)
	}
}

// Tables migrated by a later build are refused, not written.
func TestOpenNewerSchema(t *testing.T) {
	_, dsn := newStore(t)
	rawExec(t, dsn, `INSERT INTO agenttrust_schema_migrations (version, name) VALUES (9999, '9999_future.sql')`)
	_, err := mysql.Open(t.Context(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of newer tables: %v", err)
	}
}

// Stores with different table prefixes in one database share nothing,
// their change feeds included.
func TestTablePrefixesIsolated(t *testing.T) {
	a, dsn := newStore(t)
	b := open(t, dsn, mysql.WithTablePrefix("other_"))
	ctx := t.Context()
	if err := a.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok"}); err != nil {
		t.Fatal(err)
	}
	if _, blocked, err := b.Blocked(ctx, "acme", []string{"tok"}); err != nil || blocked {
		t.Errorf("store b sees store a's revocation: %v %v", blocked, err)
	}
	if b.TablePrefix() != "other_" || a.TablePrefix() != mysql.DefaultTablePrefix {
		t.Errorf("prefixes %q and %q", a.TablePrefix(), b.TablePrefix())
	}
}

// Values too large for their columns are refused with ErrInvalid, never
// cut short; every byte of a string is kept.
func TestStorableValues(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	long := strings.Repeat("x", 256)
	if err := s.Revoke(ctx, store.Block{Tenant: long, ID: "tok"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Revoke in a 256-byte tenant: %v, want an error wrapping %v", err, store.ErrInvalid)
	}
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: strings.Repeat("x", 513)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Revoke of a 513-byte id: %v, want an error wrapping %v", err, store.ErrInvalid)
	}
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: strings.Repeat("x", 512)}); err != nil {
		t.Errorf("Revoke of a 512-byte id: %v", err)
	}
	odd := "nul\x00 invalid \xff\xfe emoji \U0001F600"
	if err := s.Suspend(ctx, store.Block{Tenant: odd, ID: odd, Reason: odd}); err != nil {
		t.Fatal(err)
	}
	b, blocked, err := s.Blocked(ctx, odd, []string{odd})
	if err != nil || !blocked || b.ID != odd || b.Reason != odd || b.Tenant != odd {
		t.Errorf("Blocked of odd bytes: %+v %v %v", b, blocked, err)
	}
}

// Times outside what int64 nanoseconds hold are refused; the rest
// round-trip exactly.
func TestTimes(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	exact := time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC)
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "late", ExpiresAt: exact}); err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Blocked(ctx, "acme", []string{"late"})
	if err != nil || !b.ExpiresAt.Equal(exact) {
		t.Errorf("ExpiresAt = %v, %v; want %v", b.ExpiresAt, err, exact)
	}
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "later", ExpiresAt: exact.Add(time.Second)}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Revoke expiring after 2262: %v, want an error wrapping %v", err, store.ErrInvalid)
	}
	if n, err := s.PruneRevocations(ctx, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil || n != 1 {
		t.Errorf("PruneRevocations in 3000 = %d, %v; want 1", n, err)
	}
}

// Blocked pads its id list to a kept statement's length, and sends a
// long list as a one-off statement: each finds the block wherever it is.
func TestBlockedListLengths(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "hit"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 5, 64, 65, 200} {
		for _, at := range []int{0, n / 2, n - 1} {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprint("miss-", i)
			}
			ids[at] = "hit"
			b, blocked, err := s.Blocked(ctx, "acme", ids)
			if err != nil || !blocked || b.ID != "hit" {
				t.Errorf("Blocked of %d ids with the hit at %d: %+v %v %v", n, at, b, blocked, err)
			}
		}
	}
}

func rawDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t testing.TB, dsn, stmt string) {
	t.Helper()
	if _, err := rawDB(t, dsn).Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

// A consumer whose candidate is locked by a concurrent consumer of
// another fingerprint (on a small table the server may scan, and lock,
// every row of the tenant) waits for it and finds its approval, rather
// than reporting it missing.
func TestConsumeWhileNeighbourLocked(t *testing.T) {
	s, dsn := newStore(t)
	ctx := t.Context()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b"} {
		if err := s.CreateApproval(ctx, store.Approval{Tenant: "acme", ID: id, Fingerprint: "fp-" + id, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DecideApproval(ctx, "acme", id, store.ApprovalDecision{Status: store.ApprovalApproved, At: at, GrantExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// Another consumer, mid-transaction: every row of the tenant locked.
	tx, err := rawDB(t, dsn).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM agenttrust_approvals WHERE tenant = 'acme' FOR UPDATE`)
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.ConsumeApproval(ctx, "acme", "fp-b", at)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("ConsumeApproval returned while its candidate was locked: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("ConsumeApproval once the lock was released: %v", err)
	}
}
