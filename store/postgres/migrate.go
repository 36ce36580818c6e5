package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrations holds the schema, one file per version: NNNN_name.sql,
// applied in order of NNNN, each once.
//
//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
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
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrateTimeout bounds a migration, in query timeouts: DDL and waiting for
// another process's migration take longer than a query.
const migrateTimeout = 15

// migrate creates the schema if missing and applies the migrations it
// lacks, in one transaction holding a transaction-level advisory lock
// derived from the schema name, so that concurrent Opens of one schema
// apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
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
	c, _, err := s.pool.acquire(mctx)
	if err != nil {
		return s.failOpen(ctx, err)
	}
	err = s.applyMigrations(mctx, c, ms)
	s.pool.release(c, err != nil)
	if err != nil {
		return s.failOpen(ctx, err)
	}
	return nil
}

func (s *Store) applyMigrations(ctx context.Context, c *pgx.Conn, ms []migration) error {
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(s.schema)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if latest := ms[len(ms)-1].version; current > latest {
			return fmt.Errorf("schema %q is at version %d, newer than this build knows (%d)", s.schema, current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			// No arguments: the simple protocol, which runs a file of
			// several statements.
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
		}
		return nil
	})
}

// failOpen classifies an error of Open, before the store is open.
func (s *Store) failOpen(ctx context.Context, err error) error {
	return classify(ctx, "open", err, false)
}

// lockKey is the advisory lock key of a schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("agenttrust/store/postgres:" + schema))
	return int64(h.Sum64())
}
