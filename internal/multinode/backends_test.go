package multinode

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
	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/mysql"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// backend is a database the nodes of a cluster share. shared makes fresh
// data for one test, removed when it ends (or skips t when the database
// is not configured), and returns how each node opens its own store on
// it. Another database joins the tests by one more entry in backends.
type backend struct {
	name   string
	shared func(t *testing.T) (open func(t *testing.T) store.Store)
}

func backends() []backend {
	return []backend{{"postgres", postgresShared}, {"mysql", mysqlShared}}
}

// eachBackend runs fn once per backend, as subtests named after it.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// postgresShared makes a fresh schema of the database at
// AGENTTRUST_TEST_POSTGRES, dropped at the end.
func postgresShared(t *testing.T) func(t *testing.T) store.Store {
	t.Helper()
	url := os.Getenv(pgEnv)
	if url == "" {
		t.Skipf("the multi-node tests need %s, a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable", pgEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "agenttrust_multinode_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { dropSchema(t, url, schema) })
	return func(t *testing.T) store.Store {
		t.Helper()
		var st *postgres.Store
		var err error
		for attempt := 1; ; attempt++ { // the database is shared with the rest of CI
			st, err = postgres.Open(context.Background(), url, postgres.WithSchema(schema))
			if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
				break
			}
		}
		if err != nil {
			t.Fatalf("open PostgreSQL: %v", err)
		}
		return st
	}
}

func dropSchema(t *testing.T, url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("drop schema %s: %v", schema, err)
	}
}

// mysqlShared makes a fresh database on the server at
// AGENTTRUST_TEST_MYSQL, dropped at the end.
func mysqlShared(t *testing.T) func(t *testing.T) store.Store {
	t.Helper()
	dsn := os.Getenv(mysqlEnv)
	if dsn == "" {
		t.Skipf("the multi-node tests need %s, a MySQL or MariaDB DSN such as root@tcp(127.0.0.1:3306)/test", mysqlEnv)
	}
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("%s: %v", mysqlEnv, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "agenttrust_multinode_" + hex.EncodeToString(b[:])
	mysqlAdmin(t, dsn, "CREATE DATABASE "+name)
	t.Cleanup(func() { mysqlAdmin(t, dsn, "DROP DATABASE IF EXISTS "+name) })
	cfg.DBName = name
	shared := cfg.FormatDSN()
	return func(t *testing.T) store.Store {
		t.Helper()
		var st *mysql.Store
		var err error
		for attempt := 1; ; attempt++ { // the database is shared with the rest of CI
			st, err = mysql.Open(context.Background(), shared)
			if err == nil || attempt == 3 || !errors.Is(err, store.ErrUnavailable) {
				break
			}
		}
		if err != nil {
			t.Fatalf("open MySQL: %v", err)
		}
		return st
	}
}

// mysqlAdmin runs one statement on the server at dsn.
func mysqlAdmin(t *testing.T, dsn, stmt string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Errorf("%s: %v", stmt, err)
		return
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		t.Errorf("%s: %v", stmt, err)
	}
}
