package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
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
			s := open(t, dsn)
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
