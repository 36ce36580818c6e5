//go:build unix

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// The audit loss attacks run "serve" as a real process under 16 parallel
// clients checking over HTTP, and then either kill it with SIGKILL or
// take its audit store away for 10 s. Whatever happens, every decision a
// client was given must be in the stored trail, and the trail must
// verify.

const lossPolicy = `
rules:
  - id: charge
    effect: allow
    agents: [bot]
    tools: [payments.charge]
  - id: no-deletes
    effect: deny
    tools: ["*.delete"]
`

// lossServer is one serve process and the state it keeps.
type lossServer struct {
	t       *testing.T
	bin     string
	args    []string // the store's flags
	open    func() store.Store
	url     string
	admin   string
	proc    *exec.Cmd
	stderr  *syncBuffer
	exited  chan error
	address string // the listen address of the first start, reused
	killed  atomic.Bool
	schema  string // PostgreSQL only
}

// start runs serve and waits until it listens.
func (s *lossServer) start(extra ...string) {
	s.killed.Store(false)
	t := s.t
	t.Helper()
	listen := "127.0.0.1:0"
	if s.address != "" {
		listen = s.address
	}
	args := append([]string{"serve", "--listen", listen, "--node", "n1", "--shutdown-timeout", "10s", "--tenant-idle", "0"}, s.args...)
	s.proc = exec.Command(s.bin, append(args, extra...)...)
	s.proc.Env = cleanEnv(nil)
	s.stderr = new(syncBuffer)
	s.proc.Stderr = s.stderr
	if err := s.proc.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	s.exited = exited
	proc := s.proc
	go func() { exited <- proc.Wait() }()
	t.Cleanup(func() {
		proc.Process.Kill()
	})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if m := urlRe.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			s.address = strings.TrimPrefix(s.url, "http://")
			if s.admin == "" {
				if k := keyRe.FindStringSubmatch(s.stderr.String()); k != nil {
					s.admin = k[1]
				}
			}
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\n%s", err, s.stderr.String())
		case <-tick.C:
		}
	}
	t.Fatalf("serve did not start:\n%s", s.stderr.String())
}

// kill ends the process with SIGKILL.
func (s *lossServer) kill() {
	s.killed.Store(true)
	s.proc.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM and wants a clean exit within bound.
func (s *lossServer) stop(bound time.Duration) {
	s.t.Helper()
	s.proc.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		if err != nil {
			s.t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, tail(s.stderr.String()))
		}
	case <-time.After(bound):
		s.t.Fatalf("serve did not stop within %s of SIGTERM:\n%s", bound, tail(s.stderr.String()))
	}
}

func tail(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}

// get fetches path with the admin key and returns the status and body.
func (s *lossServer) get(path string) (int, []byte, error) {
	req, _ := http.NewRequest("GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	resp, err := lossHTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

var lossHTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// answer is what a client was told.
type answer struct {
	id, effect, err string
}

// clients runs 16 clients checking until stop is closed or the server
// goes away; every answer with a decision id is kept.
type clients struct {
	mu      sync.Mutex
	answers []answer
	stop    chan struct{}
	wg      sync.WaitGroup
	n       atomic.Int64
}

func (s *lossServer) load() *clients {
	c := &clients{stop: make(chan struct{})}
	memo := strings.Repeat("x", 1500)
	for w := range 16 {
		c.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-c.stop:
					return
				default:
				}
				tool := "payments.charge"
				if i%3 == 2 {
					tool = "payments.delete"
				}
				body := fmt.Sprintf(`{"agent_id":"bot","tool_name":%q,"resource":"r-%d-%d","attributes":{"amount":1,"memo":%q}}`, tool, w, i, memo)
				req, _ := http.NewRequest("POST", s.url+"/v1/actions/check", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+s.admin)
				req.Header.Set("Content-Type", "application/json")
				resp, err := lossHTTP.Do(req)
				if err != nil {
					select {
					case <-c.stop:
						return
					default:
					}
					if s.killed.Load() {
						return
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var d struct {
					Effect     string `json:"effect"`
					DecisionID string `json:"decision_id"`
					Error      string `json:"error"`
				}
				if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &d) == nil && d.DecisionID != "" {
					c.mu.Lock()
					c.answers = append(c.answers, answer{d.DecisionID, d.Effect, d.Error})
					c.mu.Unlock()
					c.n.Add(1)
				}
			}
		})
	}
	return c
}

// waitAnswers waits until the clients have n answers (or 30 s pass).
func (c *clients) waitAnswers(t *testing.T, n int64) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); c.n.Load() < n; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("only %d answers in 30s", c.n.Load())
		}
	}
}

func (c *clients) end() []answer {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answers
}

var withdrawnRe = regexp.MustCompile(`^decision (\S+) withdrawn`)

var overflowRe = regexp.MustCompile(`audit queue full: (\d+) checks denied unrecorded`)

// stored reads the whole trail from the store and indexes it.
func (s *lossServer) stored() (byID map[string]store.AuditRecord, overflowed int) {
	s.t.Helper()
	st := s.open()
	defer st.Close()
	recs, err := st.QueryAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		s.t.Fatal(err)
	}
	byID = map[string]store.AuditRecord{}
	for _, r := range recs {
		if m := overflowRe.FindStringSubmatch(r.Reason); m != nil && r.Rule == "agenttrust.audit_overflow" {
			n, _ := strconv.Atoi(m[1])
			overflowed += n
			continue
		}
		byID[r.ID.String()] = r
	}
	return byID, overflowed
}

// verify wants /v1/audit/verify to pass.
func (s *lossServer) verify() {
	s.t.Helper()
	code, b, err := s.get("/v1/audit/verify")
	var rep struct {
		OK bool `json:"ok"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal(b, &rep) != nil || !rep.OK {
		s.t.Fatalf("audit verify: %d %v %s", code, err, b)
	}
}

// checkTrail asserts that every answered decision is stored with the
// effect its client was told; a refusal for want of audit may instead be
// counted in an overflow note, and is never an allow. With exact, the
// trail holds nothing else: stored records equal answered decisions.
func (s *lossServer) checkTrail(answers []answer, exact bool) {
	t := s.t
	t.Helper()
	byID, overflowed := s.stored()
	missing, refusedMissing, allows := 0, 0, 0
	seen := map[string]bool{}
	for _, a := range answers {
		seen[a.id] = true
		if a.effect == "allow" {
			allows++
		}
		r, ok := byID[a.id]
		switch {
		case !ok && a.err == "audit_unavailable" && a.effect == "deny":
			refusedMissing++
		case !ok:
			missing++
			if missing <= 5 {
				t.Errorf("answered decision %s (%s, error %q) is not in the audit", a.id, a.effect, a.err)
			}
		case a.err == "" && r.Effect.String() != a.effect:
			t.Errorf("decision %s: stored %s, client told %s", a.id, r.Effect, a.effect)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d answered decisions (%d allows) missing from the audit", missing, len(answers), allows)
	}
	if refusedMissing > overflowed {
		t.Fatalf("%d refusals unrecorded, overflow notes count %d", refusedMissing, overflowed)
	}
	if exact {
		extra := 0
		for id, r := range byID {
			if r.Rule == "agenttrust.audit_withdrawn" {
				// A durable check that timed out: its note names a
				// decision its client was told was denied.
				if m := withdrawnRe.FindStringSubmatch(r.Reason); m == nil || !seen[m[1]] {
					t.Errorf("withdrawal note names no answered decision: %q", r.Reason)
				}
				continue
			}
			if !seen[id] && r.AgentID == "bot" {
				extra++
			}
		}
		if extra > 0 || refusedMissing != overflowed {
			t.Fatalf("stored %d decisions no client was told of; %d refusals unrecorded vs %d in overflow notes", extra, refusedMissing, overflowed)
		}
	}
	t.Logf("%d answered decisions (%d allows), all in the audit; %d refusals counted in overflow notes", len(answers), allows, refusedMissing)
}

// waitReady polls /readyz until it answers 200 and returns how long that
// took.
func (s *lossServer) waitReady(bound time.Duration) time.Duration {
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ; time.Since(start) < bound; <-tick.C {
		resp, err := lossHTTP.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
	}
	return -1
}

// newLossServer prepares a SQLite or PostgreSQL server (via a fault
// proxy for PostgreSQL) and seeds its policy.
func newLossServer(t *testing.T, bin, backend string) (*lossServer, *faultproxy.Proxy, string) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(lossPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &lossServer{t: t, bin: bin}
	switch backend {
	case "sqlite":
		db := filepath.Join(dir, "at.db")
		s.args = []string{"--data", db, "--policy", pol}
		s.open = func() store.Store {
			st, err := sqlite.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		return s, nil, db
	case "postgres":
		raw := os.Getenv("AGENTTRUST_TEST_POSTGRES")
		if raw == "" {
			t.Skip("set AGENTTRUST_TEST_POSTGRES to run the PostgreSQL cases")
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		proxy, err := faultproxy.New(u.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		viaProxy := *u
		viaProxy.Host = proxy.Addr()
		schema := fmt.Sprintf("agenttrust_loss_%d", time.Now().UnixNano())
		t.Cleanup(func() {
			ctx := context.Background()
			if conn, err := pgx.Connect(ctx, raw); err == nil {
				conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
				conn.Close(ctx)
			}
		})
		s.schema = schema
		s.args = []string{"--postgres", viaProxy.String(), "--postgres-schema", schema,
			"--secrets", filepath.Join(dir, "secrets"), "--policy", pol}
		s.open = func() store.Store {
			st, err := postgres.Open(context.Background(), raw, postgres.WithSchema(schema))
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		return s, proxy, ""
	}
	panic(backend)
}

// TestAttackAuditLoss kills the server mid-load and takes its audit
// store away under load: no decision a client was given may be missing
// from the stored trail.
func TestAttackAuditLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary under load")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "agenttrust")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	var lockedSchema string // the PostgreSQL schema of the outage case running
	crash := func(backend string) func(t *testing.T) {
		return func(t *testing.T) {
			s, _, _ := newLossServer(t, bin, backend)
			s.start() // durable is the default
			c := s.load()
			c.waitAnswers(t, 1500)
			s.kill() // mid-load
			answers := c.end()
			s.start()
			s.verify()
			s.stop(30 * time.Second)
			s.checkTrail(answers, false)
		}
	}

	// outage takes the audit store away for 10 s under load, brings it
	// back, wants the node ready within 5 s, then stops it with SIGTERM
	// and wants stored records to equal answered decisions.
	outage := func(backend, mode string, fault func(t *testing.T, p *faultproxy.Proxy, db string) (restore func())) func(t *testing.T) {
		return func(t *testing.T) {
			s, proxy, db := newLossServer(t, bin, backend)
			lockedSchema = s.schema
			// A generous drain bound: a slow CI machine drains a large
			// backlog slowly, and the bound is not what is tested here.
			s.start("--audit", mode, "--audit-drain-timeout", "90s")
			c := s.load()
			c.waitAnswers(t, 500)
			restore := fault(t, proxy, db)
			before := c.n.Load()
			<-time.After(10 * time.Second) // the outage lasts 10 s under load
			restore()
			took := s.waitReady(5 * time.Second)
			if took < 0 {
				t.Fatalf("not ready within 5s of the store's recovery:\n%s", tail(s.stderr.String()))
			}
			during := c.n.Load() - before
			c.waitAnswers(t, c.n.Load()+500) // load goes on after recovery
			answers := c.end()
			s.stop(120 * time.Second)
			t.Logf("ready %s after recovery; %d answers during the outage", took.Round(time.Millisecond), during)
			s.checkTrail(answers, true)
			s.start()
			s.verify()
			s.stop(30 * time.Second)
		}
	}
	cut := func(t *testing.T, p *faultproxy.Proxy, _ string) func() {
		p.Cut()
		return p.Restore
	}
	stall := func(t *testing.T, p *faultproxy.Proxy, _ string) func() {
		p.Stall()
		return p.Restore
	}
	// lock holds SQLite's write lock, as another process writing the
	// file would: reads go on, every audit write waits out its busy
	// timeout and fails.
	lock := func(t *testing.T, _ *faultproxy.Proxy, db string) func() {
		h, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := h.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		return func() {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			h.Close()
		}
	}

	// tableLock write-locks PostgreSQL's audit table, as a long
	// migration or a stuck writer would: checks go on, every audit write
	// waits out the query timeout and fails.
	tableLock := func(schema *string) func(t *testing.T, _ *faultproxy.Proxy, _ string) func() {
		return func(t *testing.T, _ *faultproxy.Proxy, _ string) func() {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, os.Getenv("AGENTTRUST_TEST_POSTGRES"))
			if err != nil {
				t.Fatal(err)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{*schema, "audit"}.Sanitize()+" IN EXCLUSIVE MODE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				tx.Rollback(ctx)
				conn.Close(ctx)
			}
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"crash mid-load sqlite", crash("sqlite")},
		{"crash mid-load postgres", crash("postgres")},
		{"outage cut postgres async", outage("postgres", "async", cut)},
		{"outage stall postgres durable", outage("postgres", "durable", stall)},
		{"outage table lock postgres async", outage("postgres", "async", tableLock(&lockedSchema))},
		{"outage write lock sqlite durable", outage("sqlite", "durable", lock)},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.run)
	}
}
