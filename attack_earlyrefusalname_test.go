package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// clockProbe runs probe on a client whose clock tells the time until the
// key is made, then fails as broken does.
func clockProbe(broken func() time.Time) func(t *testing.T, probe func(*testing.T, *agenttrust.Client, *checkRecorder, string, error)) {
	return func(t *testing.T, probe func(*testing.T, *agenttrust.Client, *checkRecorder, string, error)) {
		obs := &checkRecorder{}
		var failing atomic.Bool
		sink := agenttrust.NewMemorySink(100)
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithObserver(obs),
			agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}),
			agenttrust.WithClock(func() time.Time {
				if failing.Load() {
					return broken()
				}
				return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "bot"})
		if err != nil {
			t.Fatal(err)
		}
		failing.Store(true)
		probe(t, c, obs, key, agenttrust.ErrInvalidConfig)
		failing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.SyncAudit(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range sink.Records() {
			if strings.Contains(fmt.Sprintf("%+v", r), key[len(key)-12:]) {
				t.Errorf("the audit record holds the credential: %+v", r)
			}
		}
	}
}

// TestAttackEarlyRefusalCredentialName: a credential passed as a name
// (an API key as the agent id or the tool) is refused during validation
// and kept out of the Decision and the Observer; but a check refused
// before validation, because the client is closed (ErrClosed) or its
// audit is stuck (ErrAuditUnavailable), handed the name as given to the
// Decision and the Observer (and so to the otel span); so did one whose
// clock failed (a zero time, a panic), which also wrote it into the
// audit record. Such a refusal must keep no credential either.
func TestAttackEarlyRefusalCredentialName(t *testing.T) {
	states := map[string]struct {
		want error
		run  func(t *testing.T, probe func(t *testing.T, c *agenttrust.Client, obs *checkRecorder, key string, want error))
	}{
		"closed": {agenttrust.ErrClosed, func(t *testing.T, probe func(*testing.T, *agenttrust.Client, *checkRecorder, string, error)) {
			obs := &checkRecorder{}
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithObserver(obs))
			if err != nil {
				t.Fatal(err)
			}
			key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "bot"})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			probe(t, c, obs, key, agenttrust.ErrClosed)
		}},
		"audit stuck": {agenttrust.ErrAuditUnavailable, func(t *testing.T, probe func(*testing.T, *agenttrust.Client, *checkRecorder, string, error)) {
			synctest.Test(t, func(t *testing.T) {
				obs := &checkRecorder{}
				sink := newOutageSink()
				c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)), agenttrust.WithObserver(obs),
					agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, StuckAfter: time.Second, DrainTimeout: time.Second}))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "bot"})
				if err != nil {
					t.Fatal(err)
				}
				sink.down.Store(true)
				c.Check(context.Background(), charge(1))
				time.Sleep(2 * time.Second)
				probe(t, c, obs, key, agenttrust.ErrAuditUnavailable)
			})
		}},
		"zero clock":      {agenttrust.ErrInvalidConfig, clockProbe(func() time.Time { return time.Time{} })},
		"panicking clock": {agenttrust.ErrInvalidConfig, clockProbe(func() time.Time { panic("clock broke") })},
	}
	fields := map[string]func(r *agenttrust.Request, v string){
		"agent":      func(r *agenttrust.Request, v string) { r.AgentID = v },
		"tool":       func(r *agenttrust.Request, v string) { r.Tool = v },
		"session":    func(r *agenttrust.Request, v string) { r.SessionID = v },
		"request id": func(r *agenttrust.Request, v string) { r.RequestID = v },
	}
	for sname, s := range states {
		t.Run(sname, func(t *testing.T) {
			s.run(t, func(t *testing.T, c *agenttrust.Client, obs *checkRecorder, key string, want error) {
				secret := key[len(key)-12:]
				for fname, set := range fields {
					req := agenttrust.Request{AgentID: "bot", Tool: "payments.charge"}
					set(&req, key)
					obs.mu.Lock()
					seen := len(obs.checks)
					obs.mu.Unlock()
					d, err := c.Check(context.Background(), req)
					if d.Allowed() || !errors.Is(err, want) {
						t.Errorf("%s: %v, %v; want a Deny with %v", fname, d.Effect, err, want)
					}
					if strings.Contains(fmt.Sprint(err), secret) {
						t.Errorf("%s: the error holds the credential: %v", fname, err)
					}
					if strings.Contains(fmt.Sprintf("%+v", d), secret) {
						t.Errorf("%s: the Decision holds the credential: %+v", fname, d)
					}
					obs.mu.Lock()
					if len(obs.checks) == seen {
						t.Errorf("%s: the Observer was told nothing", fname)
					}
					for _, ch := range obs.checks[seen:] {
						if strings.Contains(fmt.Sprintf("%+v", ch), secret) {
							t.Errorf("%s: the Observer was told the credential: %+v", fname, ch)
						}
					}
					obs.mu.Unlock()
				}
			})
		})
	}
}
