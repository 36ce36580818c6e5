package agenttrust_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// policyDownStore fails policy reads while down, and counts them.
type policyDownStore struct {
	store.Store
	down  atomic.Bool
	reads atomic.Int64
}

func (s *policyDownStore) Policy(ctx context.Context, tenant string) (store.PolicyDoc, error) {
	s.reads.Add(1)
	if s.down.Load() {
		return store.PolicyDoc{}, store.ErrUnavailable
	}
	return s.Store.Policy(ctx, tenant)
}

// logLines is a log written as JSON lines, safe for concurrent use.
type logLines struct {
	mu    sync.Mutex
	lines []map[string]any
}

func (l *logLines) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		return 0, err
	}
	l.mu.Lock()
	l.lines = append(l.lines, m)
	l.mu.Unlock()
	return len(p), nil
}

func (l *logLines) with(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, m := range l.lines {
		if strings.HasPrefix(m["msg"].(string), msg) {
			out = append(out, m)
		}
	}
	return out
}

// TestPolicyRefreshBacksOff: while the store is down the policy refresh
// backs off instead of trying (and logging) every second, logs the
// failure once, and logs once more when it recovers.
func TestPolicyRefreshBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := &policyDownStore{Store: memory.New()}
		admin, err := agenttrust.New(st.Store, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "admin"}))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.SavePolicy(ctx, []byte(paymentsPolicy), "yaml", 0); err != nil {
			t.Fatal(err)
		}
		var log logLines
		c, err := agenttrust.New(st, agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "c"}),
			agenttrust.WithLogger(slog.New(slog.NewJSONHandler(&log, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		time.Sleep(5500 * time.Millisecond)
		if n := st.reads.Load(); n < 4 || n > 6 {
			t.Fatalf("%d policy reads in 5.5s with the store up, want one a second", n)
		}
		st.down.Store(true)
		st.reads.Store(0)
		time.Sleep(2 * time.Minute)
		failed := st.reads.Load()
		// Every second would be 120 attempts; doubling from 1s to a 30s
		// cap, jittered to half or more, is at most 12.
		if failed < 4 || failed > 12 {
			t.Errorf("%d policy reads in 2 minutes with the store down, want 4-12", failed)
		}
		if got := log.with("agenttrust: policy refresh failed"); len(got) != 1 {
			t.Errorf("%d \"refresh failed\" log lines, want 1: %v", len(got), got)
		}

		st.down.Store(false)
		time.Sleep(31 * time.Second)
		got := log.with("agenttrust: policy refresh recovered")
		if len(got) != 1 {
			t.Fatalf("%d \"recovered\" log lines, want 1", len(got))
		}
		if got[0]["failures"] != float64(failed) {
			t.Errorf("recovered after %v failures, want %d", got[0]["failures"], failed)
		}
		if d, ok := got[0]["after"].(float64); !ok || time.Duration(d) < 90*time.Second {
			t.Errorf("recovered after %v, want about 2 minutes", got[0]["after"])
		}
		// Back to once a second.
		st.reads.Store(0)
		time.Sleep(5500 * time.Millisecond)
		if n := st.reads.Load(); n < 4 || n > 6 {
			t.Errorf("%d policy reads in 5.5s after recovery, want one a second", n)
		}
	})
}

// TestRevocationPollLogsOnce: in notify mode with the store down, the
// revocation poll runs on (checks deny once the view is stale) but logs
// the failure once, not once a poll, and once more when it recovers.
func TestRevocationPollLogsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ds := &downStore{Store: memory.New()}
		var log logLines
		c, err := agenttrust.New(&noWatch{ds}, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)),
			agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond}),
			agenttrust.WithLogger(slog.New(slog.NewJSONHandler(&log, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		time.Sleep(100 * time.Millisecond)
		ds.down.Store(true)
		time.Sleep(2 * time.Second) // about 100 polls
		if d, _ := c.Check(ctx, charge(1)); d.Allowed() {
			t.Fatal("a stale view still allows")
		}
		if got := log.with("agenttrust: revocation poll failed"); len(got) != 1 {
			t.Errorf("%d \"poll failed\" lines in 2s of outage, want 1", len(got))
		}
		ds.down.Store(false)
		time.Sleep(100 * time.Millisecond)
		got := log.with("agenttrust: revocation poll recovered")
		if len(got) != 1 {
			t.Fatalf("%d \"recovered\" lines, want 1", len(got))
		}
		if n, _ := got[0]["failures"].(float64); n < 50 {
			t.Errorf("recovered after %v failures, want the ~100 polls of 2s", got[0]["failures"])
		}
		if d, err := c.Check(ctx, charge(1)); !d.Allowed() {
			t.Errorf("no recovery: %v %v", d.Effect, err)
		}
	})
}
