package cli

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// deployment is the files of a node that has served: a SQLite store with
// the system tenant's admin key and four audit records on chain
// n1/system, the secrets file and the checkpoint file.
type deployment struct {
	dir, db, secrets, checkpoints string
	key                           agenttrust.AuditKey
}

func deployed(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{dir: t.TempDir()}
	d.db = filepath.Join(d.dir, "agenttrust.db")
	d.secrets = d.db + ".secrets"
	d.checkpoints = d.secrets + ".checkpoints"
	sec, err := GenerateSecrets(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSecrets(d.secrets, sec); err != nil {
		t.Fatal(err)
	}
	if d.key, err = sec.AuditKey(); err != nil {
		t.Fatal(err)
	}
	if err := audit.CreateCheckpoints(d.checkpoints, d.key); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, d.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cps, err := audit.OpenCheckpoints(audit.CheckpointConfig{Path: d.checkpoints, Key: d.key})
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(st, agenttrust.WithTenant(DefaultSystemTenant), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "n1/" + DefaultSystemTenant, Key: d.key, Sinks: []agenttrust.AuditSink{cps.StoreSink(st)}}),
		agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: sec.MasterKeys}), agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: sec.SigningKeys}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: BootstrapAgent, Roles: []string{store.RoleAdmin}}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cps.Close(); err != nil {
		t.Fatal(err)
	}
	return d
}

// exec runs SQL on the deployment's database, as a writer behind
// agenttrust's back.
func (d *deployment) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", d.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

// cancelOnListen cancels when the server logs that it listens.
type cancelOnListen struct {
	slog.Handler
	cancel context.CancelFunc
}

func (h cancelOnListen) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "agenttrust: listening" {
		h.cancel()
	}
	return h.Handler.Handle(ctx, r)
}

// serve runs Serve over the deployment until it listens, and returns its
// error (nil after a clean start and stop) and its log.
func (d *deployment) serve(t *testing.T, reset bool) (error, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logBuf bytes.Buffer
	log := slog.New(cancelOnListen{Handler: slog.NewTextHandler(&logBuf, nil), cancel: cancel})
	err := Serve(ctx, ServeConfig{Listen: "127.0.0.1:0", SQLite: d.db, Node: "n1", Logger: log, Notice: io.Discard,
		ResetAuditCheckpoints: reset})
	return err, logBuf.String()
}

func TestAttackServeAuditStart(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *deployment)
		want   error
	}{
		{"checkpoint file deleted", func(t *testing.T, d *deployment) { os.Remove(d.checkpoints) }, audit.ErrCheckpoint},
		{"checkpoint file of another key", func(t *testing.T, d *deployment) {
			other, _ := agenttrust.NewAuditKey(bytes.Repeat([]byte("o"), 32))
			os.Remove(d.checkpoints)
			if err := audit.CreateCheckpoints(d.checkpoints, other); err != nil {
				t.Fatal(err)
			}
		}, audit.ErrCheckpoint},
		{"checkpoint file emptied", func(t *testing.T, d *deployment) { os.WriteFile(d.checkpoints, nil, 0o600) }, audit.ErrCheckpoint},
		{"last record deleted", func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)`)
		}, agenttrust.ErrChainBroken},
		{"every record deleted", func(t *testing.T, d *deployment) { d.exec(t, `DELETE FROM audit`) }, agenttrust.ErrChainBroken},
		{"last record rewritten", func(t *testing.T, d *deployment) {
			d.exec(t, `UPDATE audit SET effect = 1, reason = 'fine' WHERE seq = (SELECT max(seq) FROM audit)`)
		}, agenttrust.ErrChainBroken},
		{"last record's hash replaced", func(t *testing.T, d *deployment) {
			d.exec(t, `UPDATE audit SET hash = zeroblob(32) WHERE seq = (SELECT max(seq) FROM audit)`)
		}, agenttrust.ErrChainBroken},
		{"forged record appended", func(t *testing.T, d *deployment) {
			st, err := sqlite.Open(context.Background(), d.db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			head, err := st.AuditHead(context.Background(), "n1/"+DefaultSystemTenant)
			if err != nil {
				t.Fatal(err)
			}
			f := head
			f.Seq, f.PrevHash, f.Effect = head.Seq+1, head.Hash, agenttrust.Allow
			f.Hash[0] ^= 1
			if err := st.AppendAudit(context.Background(), []store.AuditRecord{f}); err != nil {
				t.Fatal(err)
			}
		}, agenttrust.ErrChainBroken},
		{"database wiped", func(t *testing.T, d *deployment) {
			for _, p := range []string{d.db, d.db + "-wal", d.db + "-shm"} {
				os.Remove(p)
			}
		}, agenttrust.ErrChainBroken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployed(t)
			tc.tamper(t, d)
			err, log := d.serve(t, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Serve: %v, want %v\n%s", err, tc.want, log)
			}
			if tc.want == agenttrust.ErrChainBroken && !bytes.Contains([]byte(log), []byte("AUDIT CHAIN BROKEN")) {
				t.Errorf("no loud log line:\n%s", log)
			}
		})
	}
}

func TestServeAuditStart(t *testing.T) {
	t.Run("untouched", func(t *testing.T) {
		d := deployed(t)
		if err, log := d.serve(t, false); err != nil {
			t.Fatalf("Serve: %v\n%s", err, log)
		}
		// Its own checkpoints: a second start checks them too.
		if err, log := d.serve(t, false); err != nil {
			t.Fatalf("Serve again: %v\n%s", err, log)
		}
	})
	t.Run("reset after a deletion", func(t *testing.T) {
		d := deployed(t)
		d.exec(t, `DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)`)
		if err, log := d.serve(t, true); err != nil {
			t.Fatalf("Serve with reset: %v\n%s", err, log)
		}
		old, _ := filepath.Glob(d.checkpoints + ".replaced-*")
		if len(old) != 1 {
			t.Errorf("old checkpoint file not kept: %v", old)
		}
	})
}
