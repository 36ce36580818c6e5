package scale

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver store/sqlite registers too

	"github.com/agenttrust/agenttrust"
)

// The bulk loaders write rows in the stores' own schemas, in one
// transaction (SQLite) or one COPY (PostgreSQL) per step, because the
// stores' APIs write one row per call: a million separate SQLite commits
// take minutes, and the memory store copies a tenant's blocks on every
// Revoke. The rows are those the APIs would write (see the migrations
// of store/sqlite and store/postgres): revoked ids without expiry, keys
// with the agent role.

// revokedID is the id of filler revocation i.
func revokedID(i int) string { return fmt.Sprintf("rev-%09d", i) }

// revokedAt is when filler revocation i was made.
func revokedAt(i int) time.Time { return time.Unix(1_700_000_000, int64(i)*1000) }

// sqliteBulk writes to a store/sqlite database through a connection of
// its own.
type sqliteBulk struct{ db *sql.DB }

func openSQLiteBulk(path string) (*sqliteBulk, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &sqliteBulk{db: db}, nil
}

func (b *sqliteBulk) Close() error { return b.db.Close() }

// insert runs stmt for i in [from, to) with the arguments of args(i), in
// one transaction.
func (b *sqliteBulk) insert(ctx context.Context, stmt string, from, to int, args func(i int) []any) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := from; i < to; i++ {
		if _, err := st.ExecContext(ctx, args(i)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sqliteZeroTime is how store/sqlite stores the zero time (no expiry).
const sqliteZeroTime = int64(-1 << 63)

func (b *sqliteBulk) revocations(ctx context.Context, from, to int) error {
	return b.insert(ctx, `INSERT INTO blocks (tenant, id, kind, reason, created_at, expires_at) VALUES (?, ?, 1, 'revoked', ?, ?)`,
		from, to, func(i int) []any {
			return []any{agenttrust.DefaultTenant, revokedID(i), revokedAt(i).UnixNano(), sqliteZeroTime}
		})
}

func (b *sqliteBulk) keys(ctx context.Context, from, to int) error {
	return b.insert(ctx, `INSERT INTO keys (id, tenant, agent_id, hash, name, roles, allowed_ips, caveats, created_at, expires_at)
		VALUES (?, ?, ?, ?, '', '["agent"]', NULL, NULL, ?, ?)`,
		from, to, func(i int) []any {
			k := fillerKey(i)
			return []any{k.ID, k.Tenant, k.AgentID, k.Hash[:], k.CreatedAt.UnixNano(), sqliteZeroTime}
		})
}

// pgRevocations copies revocations [from, to) into schema.blocks.
func pgRevocations(ctx context.Context, conn *pgx.Conn, schema string, from, to int) error {
	i := from
	n, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "blocks"}, []string{"tenant", "id", "kind", "reason", "created_at", "expires_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= to {
				return nil, nil
			}
			row := []any{agenttrust.DefaultTenant, revokedID(i), int16(1), "revoked", revokedAt(i).UnixNano(), nil}
			i++
			return row, nil
		}))
	if err == nil && n != int64(to-from) {
		err = fmt.Errorf("copied %d rows of %d", n, to-from)
	}
	return err
}
