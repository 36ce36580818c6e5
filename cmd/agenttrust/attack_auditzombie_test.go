//go:build unix

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// zombieCheck posts one allowed check and returns the HTTP status, effect and
// error code.
func zombieCheck(s *lossServer, ctx context.Context) (int, string, string) {
	body := `{"agent_id":"bot","tool_name":"payments.charge","resource":"r"}`
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/v1/actions/check", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := lossHTTP.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d struct {
		Effect string `json:"effect"`
		Error  string `json:"error"`
	}
	json.Unmarshal(b, &d)
	return resp.StatusCode, d.Effect, d.Error
}

// TestAttackAuditZombieInsert: an audit INSERT a killed node left waiting
// in PostgreSQL (the audit table locked) commits after the node's
// successor has read the chain's head. The successor's next batch finds
// its seqs taken by that genuine record and continues the chain after it,
// so it allows again within seconds of the store's recovery; before, the
// write was retried forever and the node stayed unready, denying every
// check, although the store was healthy.
func TestAttackAuditZombieInsert(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if os.Getenv("AGENTTRUST_TEST_POSTGRES") == "" {
		t.Skip("set AGENTTRUST_TEST_POSTGRES to run the PostgreSQL cases")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "agenttrust")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx := context.Background()
	s, _, _ := newLossServer(t, bin, "postgres")
	s.start() // durable, the default
	for range 5 {
		if code, eff, e := zombieCheck(s, ctx); code != 200 || eff != "allow" {
			t.Fatalf("warm-up check: %d %s %s", code, eff, e)
		}
	}
	raw := os.Getenv("AGENTTRUST_TEST_POSTGRES")
	mon, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close(ctx)
	waiting := func() int {
		var n int
		mon.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO%audit%'`).Scan(&n)
		return n
	}
	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// An outage: the audit table is write-locked (a migration, a stuck writer).
	lockConn, err := pgx.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer lockConn.Close(ctx)
	tx, err := lockConn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{s.schema, "audit"}.Sanitize()+" IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go zombieCheck(s, cctx) // its record's INSERT waits on the lock
	waitFor("the first node's INSERT to wait on the lock", func() bool { return waiting() >= 1 })

	// The node dies during the outage (kill -9, OOM, lost host): no cancel
	// request reaches PostgreSQL, whose backend goes on waiting to INSERT.
	s.kill()
	t.Logf("INSERTs waiting after the old node died: %d", waiting())
	s.start()
	// A read opens the tenant on the new node: it reads the chain head.
	if code, _, err := s.get("/v1/audit?limit=1"); code != 200 {
		t.Fatalf("audit query on the new node: %d %v", code, err)
	}
	var hb int64
	mon.QueryRow(ctx, "SELECT max(seq) FROM "+pgx.Identifier{s.schema, "audit"}.Sanitize()).Scan(&hb)
	t.Logf("stored head before the outage ends: %d", hb)
	tx.Rollback(ctx) // the outage ends: the store is healthy from here on
	waitFor("the queued INSERT to finish", func() bool { return waiting() == 0 })
	var h0 int64
	mon.QueryRow(ctx, "SELECT max(seq) FROM "+pgx.Identifier{s.schema, "audit"}.Sanitize()).Scan(&h0)
	t.Logf("stored head after the queued INSERT: %d", h0)

	// The store is healthy: within 15 s a check must be allowed again.
	var code int
	var eff, e string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if code, eff, e = zombieCheck(s, ctx); code == 200 && eff == "allow" {
			return
		}
	}
	rc, _, _ := s.get("/readyz")
	var head int64
	mon.QueryRow(ctx, "SELECT max(seq) FROM "+pgx.Identifier{s.schema, "audit"}.Sanitize()).Scan(&head)
	t.Fatalf("15s after the store recovered checks still deny (last: %d %s %s), /readyz %d, stored head seq %d\nserver log (tail):\n%s",
		code, eff, e, rc, head, tail(s.stderr.String()))
}
