package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runServe runs "serve" in process with the environment vars until it
// prints its URL (then stops it: started is true) or exits.
func runServe(t *testing.T, vars map[string]string, args ...string) (started bool, code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := new(syncBuffer)
	done := make(chan int, 1)
	e := &env{stdin: strings.NewReader(""), stdout: new(syncBuffer), stderr: out, getenv: func(k string) string { return vars[k] }}
	go func() {
		done <- e.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--shutdown-timeout", "5s", "--node", "n1"}, args...))
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case code := <-done:
			return false, code, out.String()
		case <-deadline:
			cancel()
			t.Fatalf("serve neither started nor exited: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if urlRe.MatchString(out.String()) {
			cancel()
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("serve did not stop")
			}
			return true, code, out.String()
		}
	}
}

// --audit-checkpoint-reset accepts, once, that records cut from the end of
// the audit trail go unseen. Left in the environment of a service (an
// EnvironmentFile, a container's env) after the one start it was meant
// for, AGENTTRUST_AUDIT_CHECKPOINT_RESET made every later start throw the
// checkpoints away, so a database writer could cut the trail's tail
// before any restart and no start would ever refuse it. The reset is a
// command-line decision only.
func TestAttackCheckpointResetFromEnvironment(t *testing.T) {
	type setup func(t *testing.T, db string)
	lost := func(t *testing.T, db string) {
		if err := os.Remove(db + ".secrets.checkpoints"); err != nil {
			t.Fatal(err)
		}
	}
	cut := func(t *testing.T, db string) {
		// The driver store/sqlite registers: a database writer's view.
		d, err := sql.Open("sqlite", db)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		res, err := d.Exec(`DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)`)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Fatal("no audit record to cut")
		}
	}
	cases := []struct {
		name  string
		setup setup
	}{{"checkpoint file lost", lost}, {"tail of the trail cut", cut}}
	for _, v := range []string{"true", "1"} {
		failed, total := 0, 0
		for _, c := range cases {
			total++
			t.Run(c.name+" "+v, func(t *testing.T) {
				db := filepath.Join(t.TempDir(), "at.db")
				if started, code, out := runServe(t, nil, "--data", db); !started || code != exitOK {
					t.Fatalf("first start: started %v, exit %d: %s", started, code, out)
				}
				c.setup(t, db)
				started, _, out := runServe(t, map[string]string{"AGENTTRUST_AUDIT_CHECKPOINT_RESET": v}, "--data", db)
				if started {
					failed++
					t.Errorf("AGENTTRUST_AUDIT_CHECKPOINT_RESET=%s reset the checkpoints and the start went on: %s", v, out)
					return
				}
				if !strings.Contains(out, "checkpoint") {
					t.Errorf("refused, but not for the checkpoints: %s", out)
				}
				// The flag, given for this start, still resets.
				if started, code, out := runServe(t, nil, "--data", db, "--audit-checkpoint-reset"); !started || code != exitOK {
					t.Errorf("--audit-checkpoint-reset: started %v, exit %d: %s", started, code, out)
				}
			})
		}
		if failed > 0 {
			t.Logf("AGENTTRUST_AUDIT_CHECKPOINT_RESET=%s: %d of %d cases started", v, failed, total)
		}
	}
}
