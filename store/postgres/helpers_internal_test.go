package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// openFresh opens a Store on a new schema of the test database, both
// dropped when t ends, and returns it with the database's URL and the
// schema's name; without AGENTTRUST_TEST_POSTGRES it skips t.
func openFresh(t *testing.T, opts ...Option) (s *Store, url, schema string) {
	t.Helper()
	url = os.Getenv("AGENTTRUST_TEST_POSTGRES")
	if url == "" {
		t.Skip("set AGENTTRUST_TEST_POSTGRES to run the PostgreSQL tests")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	schema = "agenttrust_test_" + hex.EncodeToString(rnd[:])
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			c.Close(context.Background())
		}
	})
	s, err := Open(t.Context(), url, append([]Option{WithSchema(schema)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, url, schema
}
