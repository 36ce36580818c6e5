package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/agenttrust/agenttrust/store"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agenttrust.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// versions returns the versions recorded in the database at path.
func versions(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func latest(t *testing.T) int {
	t.Helper()
	ms, err := loadMigrations(migrationFS())
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	return len(ms)
}

func upTo(n int) []int {
	var out []int
	for v := 1; v <= n; v++ {
		out = append(out, v)
	}
	return out
}

func TestMigrateFresh(t *testing.T) {
	s, path := openTemp(t)
	if got, want := versions(t, path), upTo(latest(t)); !slices.Equal(got, want) {
		t.Fatalf("schema_migrations = %v, want %v", got, want)
	}
	ctx := t.Context()
	for _, p := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "2"}, // FULL
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+p.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %s on the write connection, want %s", p.pragma, got, p.want)
		}
	}
	var busy int
	if err := s.r.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Errorf("PRAGMA busy_timeout = %d, %v on a read connection; want 5000", busy, err)
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM blocks`); err == nil {
		t.Error("a read connection could write")
	}
}

func TestMigrateNormalSync(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), WithUnsafeNormalSync())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got int
	if err := s.w.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&got); err != nil || got != 1 {
		t.Fatalf("PRAGMA synchronous = %d, %v with WithUnsafeNormalSync; want 1 (NORMAL)", got, err)
	}
}

func TestMigrateReopen(t *testing.T) {
	s, path := openTemp(t)
	ctx := t.Context()
	if err := s.Revoke(ctx, store.Block{Tenant: "acme", ID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a current database: %v", err)
	}
	defer s.Close()
	if got, want := versions(t, path), upTo(latest(t)); !slices.Equal(got, want) {
		t.Fatalf("schema_migrations after reopen = %v, want %v", got, want)
	}
	if _, ok, err := s.Blocked(ctx, "acme", []string{"tok-1"}); err != nil || !ok {
		t.Fatalf("Blocked after reopen = %v, %v; want the revocation kept", ok, err)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	s, path := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	future := latest(t) + 1
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (?, 'from_the_future.sql')`, future); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	s, err = Open(t.Context(), path)
	if !errors.Is(err, ErrNewerSchema) {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("Open of a database at version %d = %v, want an error wrapping ErrNewerSchema", future, err)
	}
	if got, want := versions(t, path), upTo(future); !slices.Equal(got, want) {
		t.Fatalf("schema_migrations after a refused Open = %v, want %v unchanged", got, want)
	}
}

// A failing migration leaves the database as it was: no table of the
// migrations before it, no recorded version.
func TestMigrateAllOrNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys := fstest.MapFS{
		"0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		"0002_b.sql": {Data: []byte(`CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);`)},
	}
	if err := migrate(t.Context(), db, fsys); err == nil {
		t.Fatal("migrate with a failing migration succeeded")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'schema_migrations')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d tables left by a failed migration, want none", n)
	}

	fsys["0002_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE b (x INTEGER);`)}
	if err := migrate(t.Context(), db, fsys); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	fsys["0003_c.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE c (x INTEGER);`)}
	if err := migrate(t.Context(), db, fsys); err != nil {
		t.Fatalf("migrate to a new version: %v", err)
	}
	if got := versions(t, path); !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("schema_migrations = %v, want [1 2 3]", got)
	}
}

func TestLoadMigrationsRefusesMalformedSets(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
	}{
		{"none", fstest.MapFS{"README": file("")}},
		{"gap", fstest.MapFS{"0001_a.sql": file(""), "0003_c.sql": file("")}},
		{"repeat", fstest.MapFS{"0001_a.sql": file(""), "1_b.sql": file("")}},
		{"not from one", fstest.MapFS{"0002_b.sql": file("")}},
		{"unnumbered", fstest.MapFS{"0001_a.sql": file(""), "init.sql": file("")}},
		{"version zero", fstest.MapFS{"0000_a.sql": file(""), "0001_b.sql": file("")}},
	} {
		if _, err := loadMigrations(tc.fsys); !errors.Is(err, errBadMigration) {
			t.Errorf("%s: loadMigrations = %v, want an error wrapping errBadMigration", tc.name, err)
		}
	}
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix file modes")
	}
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Fatalf("database created with mode %o, want 600", mode)
	}
}

// The kind column and the literals of the queries rely on these values.
func TestBlockKindValues(t *testing.T) {
	if store.Revoked != 1 || store.Suspended != 2 {
		t.Fatalf("store.Revoked = %d, store.Suspended = %d; the schema wants 1 and 2", store.Revoked, store.Suspended)
	}
}

// A context cancelled while a write waits for the write connection yields
// the context's error.
func TestFailKeepsContextErrors(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	conn, err := s.w.Conn(t.Context()) // hold the one write connection
	if err != nil {
		t.Fatal(err)
	}
	go cancel()
	err = s.Revoke(ctx, store.Block{Tenant: "acme", ID: "x"})
	_ = conn.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Revoke while the write connection is held and ctx is cancelled = %v, want one wrapping %v", err, context.Canceled)
	}
}
