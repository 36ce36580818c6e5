package main_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	bench "github.com/agenttrust/agenttrust/bench"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go"
	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	macaroon "gopkg.in/macaroon.v2"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/mysql"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// benchClient builds a client over the memory store with the cedar-10
// rules (plus extra rules), auditing to the default memory ring. Its
// master key is testMasterKey, so macaroon-lib can derive a token's root
// key as the README documents it.
func benchClient(b *testing.B, extra int, opts ...agenttrust.Option) *agenttrust.Client {
	b.Helper()
	p, err := agenttrust.LoadPolicyFile("testdata/cedar-10.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p.Rules = append(p.Rules, syntheticRules(extra)...)
	c, err := agenttrust.New(memory.New(), append([]agenttrust.Option{agenttrust.WithPolicy(p), agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}})}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// syntheticRules makes n rules of the shapes real policies have: exact
// agent and tool, agent globs, tool globs, and more rules about a1 on
// other tools, so none of them can decide the benchmark's request but an
// unindexed engine would have to look at all of them.
// They are go run ./bench's (scenario.go), which also writes their Cedar
// and Rego forms.
var syntheticRules = bench.SyntheticRules

func transferRequest(amount int) agenttrust.Request {
	return agenttrust.Request{AgentID: "a1", Tool: "transfer", Resource: "acct-1",
		Attributes: map[string]any{"amount": amount}}
}

func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	run := func(name string, extra int, amount int, want agenttrust.Effect) {
		b.Run(name, func(b *testing.B) {
			c := benchClient(b, extra)
			req := transferRequest(amount)
			if d, err := c.Check(ctx, req); err != nil || d.Effect != want {
				b.Fatalf("Check = %v, %v; want %v", d.Effect, err, want)
			}
			b.ReportAllocs()
			for b.Loop() {
				d, _ := c.Check(ctx, req)
				if d.Effect != want {
					b.Fatal(d.Effect)
				}
			}
		})
	}
	run("policy", 0, 42, agenttrust.Allow)
	run("policy-100k", 100_000-10, 42, agenttrust.Allow)
	run("deny", 0, 60, agenttrust.Deny)

	// The policy case with state in a database, strict mode (every check
	// reads revocations from the store), and PostgreSQL and MySQL in
	// notify mode. A "-cluster" case adds a cluster-wide limit the request
	// matches (one take in the store per check), with a burst no run
	// exhausts.
	runStore := func(name string, open func(*testing.B) store.Store, opts ...agenttrust.Option) {
		b.Run(name, func(b *testing.B) {
			st := open(b)
			p, err := agenttrust.LoadPolicyFile("testdata/cedar-10.yaml")
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasSuffix(name, "-cluster") {
				p.Limits = append(p.Limits, agenttrust.Limit{ID: "transfers", Tools: []string{"transfer"}, Rate: "1000000/s", Burst: 1 << 30, Scope: "cluster"})
			}
			// The audit goes to the client's default in-memory ring.
			c, err := agenttrust.New(st, append([]agenttrust.Option{agenttrust.WithPolicy(p)}, opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := transferRequest(42)
			if d, err := c.Check(ctx, req); err != nil || !d.Allowed() {
				b.Fatalf("Check = %v, %v", d.Effect, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := c.Check(ctx, req); !d.Allowed() {
					b.Fatal(d.Reason)
				}
			}
		})
	}
	runStore("sqlite", func(b *testing.B) store.Store {
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	})
	runStore("postgres", openBenchPostgres)
	runStore("postgres-notify", openBenchPostgres, agenttrust.WithNotify(agenttrust.NotifyConfig{}))
	runStore("mysql", openBenchMySQL)
	runStore("mysql-notify", openBenchMySQL, agenttrust.WithNotify(agenttrust.NotifyConfig{}))
	runStore("memory-cluster", func(b *testing.B) store.Store { st := memory.New(); b.Cleanup(func() { st.Close() }); return st })
	runStore("postgres-cluster", openBenchPostgres)
	runStore("postgres-notify-cluster", openBenchPostgres, agenttrust.WithNotify(agenttrust.NotifyConfig{}))

	// Credentials. The key and tokens belong to agent a1, so the request
	// is the policy case with the identity taken from the credential.
	credReq := func(b *testing.B, c *agenttrust.Client, cred string) agenttrust.Request {
		req := transferRequest(42)
		req.AgentID, req.Credential = "", cred
		if d, err := c.Check(ctx, req); err != nil || !d.Allowed() {
			b.Fatalf("credential check: %v %v", d.Effect, err)
		}
		return req
	}
	runCred := func(name string, cred func(*testing.B, *agenttrust.Client, string) string, noCache bool) {
		b.Run(name, func(b *testing.B) {
			var opts []agenttrust.Option
			if noCache {
				opts = append(opts, agenttrust.WithTokens(agenttrust.TokenConfig{NoCache: true}))
			}
			c := benchClient(b, 0, opts...)
			secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a1"})
			if err != nil {
				b.Fatal(err)
			}
			req := credReq(b, c, cred(b, c, secret))
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := c.Check(ctx, req); !d.Allowed() {
					b.Fatal(d.Reason)
				}
			}
		})
	}
	exchange := func(b *testing.B, c *agenttrust.Client, secret string) string {
		tok, err := c.Exchange(ctx, secret) // tenant, agent, expires: 3 caveats
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}
	runCred("apikey", func(_ *testing.B, _ *agenttrust.Client, secret string) string { return secret }, false)
	runCred("token3", exchange, true)
	runCred("token3-cached", exchange, false)
	runCred("jwt", func(b *testing.B, c *agenttrust.Client, secret string) string {
		tok, err := c.ExchangeJWT(ctx, secret, "agenttrust")
		if err != nil {
			b.Fatal(err)
		}
		return tok
	}, false)

	// The reference for token3: gopkg.in/macaroon.v2 decoding and
	// verifying the same 3-caveat macaroon, and nothing else.
	b.Run("macaroon-lib", func(b *testing.B) {
		c := benchClient(b, 0)
		secret, _, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a1"})
		tok := exchange(b, c, secret)
		info, _ := agenttrust.InspectTokenUnverified(tok)
		root := tokenRootKey(testMasterKey, info.ID)
		raw, _ := base64.RawURLEncoding.DecodeString(tok[len(agenttrust.TokenPrefix):])
		b.ReportAllocs()
		for b.Loop() {
			var m macaroon.Macaroon
			if err := m.UnmarshalBinary(raw); err != nil {
				b.Fatal(err)
			}
			if err := m.Verify(root[:], func(string) error { return nil }, nil); err != nil {
				b.Fatal(err)
			}
		}
	})

	// The rule engine alone on the same request, building its input per
	// call: the policy phase of a check, without credential, revocation,
	// decision id or audit. For comparing engines with engines.
	b.Run("engine", func(b *testing.B) {
		p, err := agenttrust.LoadPolicyFile("testdata/cedar-10.yaml")
		if err != nil {
			b.Fatal(err)
		}
		e, err := agenttrust.NewRuleEngine(p)
		if err != nil {
			b.Fatal(err)
		}
		amount := 42
		b.ReportAllocs()
		for b.Loop() {
			in := agenttrust.PolicyInput{AgentID: "a1", Tool: "transfer", Resource: "acct-1",
				Attributes: map[string]any{"amount": amount}, Time: time.Now()}
			if res, _ := e.Evaluate(ctx, &in); res.Effect != agenttrust.Allow {
				b.Fatal(res)
			}
		}
	})

	// The peer: cedar-go on the same ten policies and entities.
	b.Run("cedar", func(b *testing.B) {
		cedarCheck := newCedarCheck(b)
		b.ReportAllocs()
		for b.Loop() {
			cedarCheck()
		}
	})
}

// newCedarCheck returns one cedar-go decision on the benchmark's request,
// built once as the policy case builds its agenttrust.Request once (and
// as go run ./bench does for every engine).
func newCedarCheck(b *testing.B) func() {
	ps, entities := loadCedar(b)
	req := cedar.Request{
		Principal: cedar.NewEntityUID("Agent", "a1"),
		Action:    cedar.NewEntityUID("Action", "transfer"),
		Resource:  cedar.NewEntityUID("Account", "acct-1"),
		Context:   cedar.NewRecord(cedar.RecordMap{"amount": cedar.Long(42)}),
	}
	return func() {
		if ok, _ := cedar.Authorize(ps, entities, req); ok != cedar.Allow {
			b.Fatal("cedar denied")
		}
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	c := benchClient(b, 0)
	ctx := context.Background()
	req := transferRequest(42)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, _ := c.Check(ctx, req); !d.Allowed() {
				b.Fatal(d.Reason)
			}
		}
	})
}

func loadCedar(tb testing.TB) (*cedar.PolicySet, cedar.EntityMap) {
	tb.Helper()
	src, err := os.ReadFile("testdata/cedar-10.cedar")
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := cedar.NewPolicySetFromBytes("cedar-10.cedar", src)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile("testdata/cedar-10.entities.json")
	if err != nil {
		tb.Fatal(err)
	}
	var entities cedar.EntityMap
	if err := json.Unmarshal(data, &entities); err != nil {
		tb.Fatal(err)
	}
	return ps, entities
}

// openBenchPostgres opens a PostgreSQL store in a schema of its own,
// dropped when the benchmark ends.
func openBenchPostgres(b *testing.B) store.Store {
	ctx := context.Background()
	url := os.Getenv("AGENTTRUST_TEST_POSTGRES")
	if url == "" {
		b.Skip("set AGENTTRUST_TEST_POSTGRES to benchmark PostgreSQL")
	}
	schema := fmt.Sprintf("agenttrust_bench_%d", time.Now().UnixNano())
	st, err := postgres.Open(ctx, url, postgres.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close()
		if conn, err := pgx.Connect(ctx, url); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	return st
}

// openBenchMySQL opens a MySQL store in a database of its own, created
// here and dropped when the benchmark ends.
func openBenchMySQL(b *testing.B) store.Store {
	ctx := context.Background()
	dsn := os.Getenv("AGENTTRUST_TEST_MYSQL")
	if dsn == "" {
		b.Skip("set AGENTTRUST_TEST_MYSQL to benchmark MySQL")
	}
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := sql.Open("mysql", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close() })
	name := fmt.Sprintf("agenttrust_bench_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.ExecContext(ctx, "DROP DATABASE "+name) })
	cfg.DBName = name
	st, err := mysql.Open(ctx, cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkAuthenticate measures what a server pays to learn who calls,
// with a token, on PostgreSQL: in strict mode one revocation read per
// call; in notify mode none (the view answers, the root key is cached).
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []struct {
		name string
		opts []agenttrust.Option
	}{
		{"postgres", nil},
		{"postgres-notify", []agenttrust.Option{agenttrust.WithNotify(agenttrust.NotifyConfig{})}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			st := openBenchPostgres(b)
			c, err := agenttrust.New(st, append([]agenttrust.Option{agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}})}, mode.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			_, tok := agentKeyAndToken(b, c, "a1")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Authenticate(ctx, tok, netip.Addr{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
