package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	sqldriver "database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// migrations holds the schema, one file per version: NNNN_name.sql,
// applied in order of NNNN, each once. {p} in a file is the table prefix.
// Statements end with a semicolon at the end of a line; lines starting
// with -- are comments.
//
//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	stmts   []string
}

// loadMigrations reads the embedded migrations in order of version.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), stmts: splitStatements(string(b))})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// splitStatements splits a migration file into statements, dropping
// comment lines.
func splitStatements(file string) []string {
	var (
		out []string
		cur strings.Builder
	)
	for line := range strings.Lines(file) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}

// migrateTimeout bounds a migration, in query timeouts: DDL and waiting for
// another process's migration take longer than a query.
const migrateTimeout = 15

// lockName is the GET_LOCK name of a database's tables with a prefix.
// Names are at most 64 characters: the database and prefix are hashed.
func lockName(db, prefix string) string {
	sum := sha256.Sum256([]byte(db + "\x00" + prefix))
	return "agenttrust/store/mysql:" + hex.EncodeToString(sum[:16])
}

// migrate checks the server's version, then creates the tables if
// missing and applies the migrations they lack, holding a named lock
// (GET_LOCK) derived from the database and prefix, so that concurrent
// Opens apply each migration once. MySQL commits DDL as it goes: a
// migration is a list of idempotent statements, and a version is recorded
// once all of its statements ran. It runs on a connection of conn, whose
// reads may wait longer than a query's.
func (s *Store) migrate(ctx context.Context, conn sqldriver.Connector) error {
	const op = "open"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("%s %s: %w", prefix, op, err)
	}
	mctx, cancel := context.WithTimeout(ctx, migrateTimeout*s.timeout)
	defer cancel()
	db := sql.OpenDB(conn)
	defer db.Close()
	c, err := db.Conn(mctx)
	if err != nil {
		return classify(ctx, op, err, false)
	}
	defer c.Close()
	if err := s.applyMigrations(mctx, c, ms); err != nil {
		if errors.Is(err, errServer) {
			return fmt.Errorf("%s %s: %w", prefix, op, err)
		}
		return classify(ctx, op, err, false)
	}
	return nil
}

// errServer marks a server this package does not support.
var errServer = errors.New("unsupported server")

func (s *Store) applyMigrations(ctx context.Context, c *sql.Conn, ms []migration) error {
	var version string
	if err := c.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		return err
	}
	if err := supported(version); err != nil {
		return err
	}
	wait := int(migrateTimeout * s.timeout.Seconds())
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, s.lock, max(1, wait)).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return fmt.Errorf("%w: another process holds the migration lock", context.DeadlineExceeded)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), `DO RELEASE_LOCK(?)`, s.lock)

	migTable := s.prefix + "schema_migrations"
	if _, err := c.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migTable+` (
	version    INT NOT NULL PRIMARY KEY,
	name       VARBINARY(255) NOT NULL,
	applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE = InnoDB`); err != nil {
		return err
	}
	var current int
	if err := c.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+migTable).Scan(&current); err != nil {
		return err
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("%w: tables %q are at version %d, newer than this build knows (%d)", errServer, s.prefix, current, latest)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.stmts {
			if _, err := c.ExecContext(ctx, table(s.prefix, stmt)); err != nil && !isDupColumn(err) {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO `+migTable+` (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			return err
		}
	}
	return nil
}

// isDupColumn reports whether err says that a column being added exists
// already: an ALTER TABLE ... ADD COLUMN that ran before, in a migration
// whose version was not recorded (MySQL commits DDL as it goes, and has
// no ADD COLUMN IF NOT EXISTS). It counts as done, which makes such a
// statement idempotent.
func isDupColumn(err error) bool {
	me, ok := serverError(err)
	return ok && me.Number == errDupFieldName
}

// supported reports whether a server of the version (as SELECT VERSION()
// gives it) is one the store may run on: MySQL 8.0.1 or later, MariaDB
// 10.6 or later. Older ones are past their vendors' support and untested.
func supported(version string) error {
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 3)
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("%w: cannot read the server version %q", errServer, version)
		}
		nums[i] = n
	}
	older := func(major, minor, patch int) bool {
		return slices.Compare(nums, []int{major, minor, patch}) < 0
	}
	switch {
	case mariadb && older(10, 6, 0):
		return fmt.Errorf("%w: MariaDB %s is older than 10.6 (10.11 or later is supported)", errServer, version)
	case !mariadb && older(8, 0, 1):
		return fmt.Errorf("%w: MySQL %s is older than 8.0 (8.0 or later is supported)", errServer, version)
	}
	return nil
}
