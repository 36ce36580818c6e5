package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// newBlockedStore returns a store holding n blocks, half in tenant acme and
// half in globex, half revocations and half suspensions.
func newBlockedStore(b *testing.B, n int, opts ...sqlite.Option) *sqlite.Store {
	b.Helper()
	s, _ := open(b, append(opts, sqlite.WithUnsafeNormalSync())...)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n / 4 {
		for _, tenant := range []string{"acme", "globex"} {
			if err := s.Revoke(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("revoked-", i), CreatedAt: at}); err != nil {
				b.Fatal(err)
			}
			if err := s.Suspend(ctx, store.Block{Tenant: tenant, ID: fmt.Sprint("suspended-", i), CreatedAt: at}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s
}

// BenchmarkBlocked measures the per-check question: 4 ids among 10,000
// blocks, from the table (shared) and from the view (exclusive).
func BenchmarkBlocked(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []sqlite.Option
	}{{"shared", nil}, {"exclusive", []sqlite.Option{sqlite.WithExclusive()}}} {
		s := newBlockedStore(b, 10_000, mode.opts...)
		ctx := context.Background()
		for _, bc := range []struct {
			name string
			ids  []string
		}{
			{"miss", []string{"agent-1", "session-1", "cred-1", "hop-1"}},
			{"revoked", []string{"agent-1", "session-1", "cred-1", "revoked-1234"}},
			{"suspended", []string{"agent-1", "suspended-1234", "cred-1", "hop-1"}},
		} {
			b.Run(mode.name+"/"+bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := s.Blocked(ctx, "acme", bc.ids); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkBlockedParallel(b *testing.B) {
	s := newBlockedStore(b, 10_000)
	ctx := context.Background()
	ids := []string{"agent-1", "session-1", "cred-1", "hop-1"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := s.Blocked(ctx, "acme", ids); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkKeyByHash looks one key up among 10,000.
func BenchmarkKeyByHash(b *testing.B) {
	s, _ := open(b)
	ctx := context.Background()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 10_000
	for i := range n {
		k := store.Key{
			ID: fmt.Sprint("key_", i), Tenant: "acme", AgentID: "agent-1", Hash: sha256.Sum256(fmt.Append(nil, "secret-", i)),
			Name: "ci", Roles: []string{"agent"}, CreatedAt: at,
		}
		if err := s.CreateKey(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	hash := sha256.Sum256([]byte("secret-4242"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.KeyByHash(ctx, hash); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendAudit appends batches of 1 and 100 records to one chain
// and reports the cost per record. Commits do not sync (NORMAL), so that
// the figure is the CPU's, not the disk's.
func BenchmarkAppendAudit(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s, _ := open(b, sqlite.WithUnsafeNormalSync())
			// A context that can end, as the auditor's writes have.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			at := time.Date(2030, 1, 1, 0, 0, 0, 123456000, time.UTC)
			batch := make([]store.AuditRecord, size)
			for i := range batch {
				batch[i] = store.AuditRecord{
					Chain: "node-1", Time: at, Tenant: "acme", AgentID: "agent-1", SessionID: "session-1",
					Tool: "files.read", Resource: "file/1", Attributes: []byte(`{"size":1}`), CredentialID: "cred-1",
					HopIDs: []string{"hop-1"}, Effect: store.Allow, Rule: "read-own-files", Reason: "allowed",
					Latency: 1500 * time.Nanosecond,
				}
				batch[i].Hash[0] = 1
			}
			seq := uint64(1)
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i].Seq = seq
					seq++
				}
				if err := s.AppendAudit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/record")
		})
	}
}

// BenchmarkBaseline measures what modernc.org/sqlite costs through
// database/sql on this machine, outside the Store: a point read by primary
// key among 10,000 rows, and an insert per row into a table without
// secondary indexes, 100 rows a transaction. The Store's figures are best
// read as ratios to these, measured in the same run.
func BenchmarkBaseline(b *testing.B) {
	path := filepath.Join(b.TempDir(), "baseline.db")
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE TABLE t (k TEXT PRIMARY KEY, a TEXT, n INTEGER) WITHOUT ROWID`,
		`CREATE TABLE log (seq INTEGER PRIMARY KEY, a TEXT, b TEXT, c BLOB)`,
	} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10_000 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?, 'value', ?)`, fmt.Sprint("key-", i), i); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	b.Run("point-read", func(b *testing.B) {
		stmt, err := db.PrepareContext(ctx, `SELECT a, n FROM t WHERE k = ?`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		b.ReportAllocs()
		for b.Loop() {
			var a string
			var n int64
			if err := stmt.QueryRowContext(ctx, "key-4242").Scan(&a, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("insert-batch=100", func(b *testing.B) {
		if _, err := db.ExecContext(ctx, `DELETE FROM log`); err != nil { // -count runs this again
			b.Fatal(err)
		}
		stmt, err := db.PrepareContext(ctx, `INSERT INTO log VALUES (?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close()
		payload := make([]byte, 32)
		seq := 0
		b.ReportAllocs()
		for b.Loop() {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			ins := tx.StmtContext(ctx, stmt)
			for range 100 {
				seq++
				if _, err := ins.ExecContext(ctx, seq, "agent-1", "files.read", payload); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
	})
}

// BenchmarkTakeRate measures a take of a cluster-wide rate limit.
func BenchmarkTakeRate(b *testing.B) {
	s, _ := open(b)
	storetest.BenchmarkRates(b, s)
}
