package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// TestReplayMillionSQLite measures the replay bar end to end: a million
// records in the server's SQLite file, replayed by the library reading
// the store page by page, and by "agenttrust policy replay" reading them
// through the server's API. It takes a minute or more, so it runs only
// when asked:
//
//	AGENTTRUST_REPLAY_1M=1 go test -run TestReplayMillionSQLite -v ./cmd/agenttrust/
func TestReplayMillionSQLite(t *testing.T) {
	if os.Getenv("AGENTTRUST_REPLAY_1M") == "" {
		t.Skip("set AGENTTRUST_REPLAY_1M=1 to replay a million records from SQLite")
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("AGENTTRUST_REPLAY_1M")); err == nil && v > 1 {
		n = v // a smaller trail, to try it out
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "at.db")
	pol := filepath.Join(dir, "policy.yaml")
	proposal := filepath.Join(dir, "new.yaml")
	if err := os.WriteFile(pol, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proposal, []byte(strings.ReplaceAll(testPolicy, "100", "30")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The trail is written before serve starts: serve is then the only
	// process using the file (sqlite.WithExclusive), and the library reads
	// the trail through its own store once serve has it.
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	// The trail another node wrote: charges of every size, deletes and
	// other tools, by 1,000 agents, in the system tenant.
	start := time.Now()
	// 500 checks a second, a busy server: a million in about half an
	// hour.
	const every = 2 * time.Millisecond
	t0 := time.Now().Add(-time.Duration(n)*every - time.Minute)
	batch := make([]agenttrust.AuditRecord, 0, 5000)
	var prev store.Hash
	for i := range n {
		r := agenttrust.AuditRecord{Chain: "bulk/system", Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * every),
			Tenant: "system", AgentID: fmt.Sprintf("bot-%d", i%1000), Tool: "payments.charge", Effect: agenttrust.Allow, Rule: "small-charges",
			Attributes: json.RawMessage(fmt.Sprintf(`{"amount":%d,"currency":"eur"}`, i%150))}
		r.ID[0], r.ID[1], r.ID[2], r.ID[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		switch {
		case i%150 > 100:
			r.Effect, r.Rule = agenttrust.NeedsApproval, "big-charges"
		case i%7 == 0:
			r.Tool, r.Effect, r.Rule, r.Attributes = "customers.delete", agenttrust.Deny, "no-deletes", nil
		}
		// Hashes stand in for MACs: the store links records by them and
		// does not check them.
		r.Hash[0], r.Hash[1], r.Hash[2] = byte(i>>16), byte(i>>8), byte(i)
		r.PrevHash, prev = prev, r.Hash
		if batch = append(batch, r); len(batch) == cap(batch) {
			if err := st.AppendAudit(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	t.Logf("stored %d records in %v", n, time.Since(start).Round(time.Millisecond))

	p, err := agenttrust.ParsePolicy([]byte(strings.ReplaceAll(testPolicy, "100", "30")), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	lib, err := replay.Run(ctx, replay.Records(ctx, st, store.AuditQuery{Chain: "bulk/system"}, 5000), replay.Config{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("library, from SQLite: %d records replayed in %v: same %d, changed %d", lib.Records, time.Since(start).Round(time.Millisecond), lib.Same, lib.Changed)

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	url, stderr := serveInProcess(t, "--data", db, "--policy", pol, "--node", "bench")
	m := keyRe.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no admin key printed: %s", stderr.String())
	}

	vars := map[string]string{"AGENTTRUST_SERVER": url, "AGENTTRUST_KEY": m[1], "AGENTTRUST_TIMEOUT": "2m"}
	start = time.Now()
	r := runCLI(t, vars, "", "policy", "replay", "--policy", proposal, "--since", "1d", "--json")
	took := time.Since(start)
	if r.code != exitOK {
		t.Fatalf("policy replay: exit %d: %s", r.code, r.stderr)
	}
	var rep replay.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("agenttrust policy replay, through the API: %d records in %v", rep.Records, took.Round(time.Millisecond))
	if lib.Records != int64(n) || rep.Records < int64(n) || rep.Changed != lib.Changed || rep.Same < lib.Same {
		t.Errorf("library %+v\nCLI %+v", lib, rep)
	}
}
