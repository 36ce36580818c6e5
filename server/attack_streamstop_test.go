package server

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestAttackAuditStreamOutlivesStop: an audit stream is opened with a
// credential that is then revoked, suspended or left to expire. "Stop" is
// final (SECURITY.md §6, §10: revoked, suspended and expired credentials
// get 401): the stream must end, and no record written after the stop
// may reach its holder. Before the fix the stream authenticated once, at
// its start, and went on reading the tenant's audit trail for ever.
func TestAttackAuditStreamOutlivesStop(t *testing.T) {
	cases := []struct {
		name string
		// open returns the credential the stream is opened with.
		open func(e *env) string
		// stop ends that credential, through the operator's API or time.
		stop func(t *testing.T, e *env)
	}{
		{"key revoked",
			func(e *env) string { return e.key("acme/carol") },
			func(t *testing.T, e *env) {
				e.must(204, "POST", "/v1/revocations", e.key("acme/alice"), map[string]any{"id": e.ids["acme/carol"]})
			}},
		{"agent suspended",
			func(e *env) string { return e.key("acme/carol") },
			func(t *testing.T, e *env) {
				e.must(204, "POST", "/v1/agents/carol/suspend", e.key("acme/alice"), map[string]any{"reason": "compromised"})
			}},
		{"root key of a token revoked",
			func(e *env) string { return e.exchange(e.key("acme/alice")) },
			func(t *testing.T, e *env) {
				c, err := e.srv.Client(context.Background(), "acme")
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Revoke(context.Background(), e.ids["acme/alice"]); err != nil {
					t.Fatal(err)
				}
			}},
		{"token expired",
			func(e *env) string { return e.exchange(e.key("acme/alice")) },
			func(t *testing.T, e *env) { e.clock.Advance(defaultTokenTTL + time.Minute) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t, WithAuditPoll(20*time.Millisecond))
				bot := e.key("acme/bot")
				s := e.stream(tc.open(e), "")
				e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "before-stop"})
				got := s.next(t)
				if got["tool"] == "agenttrust.exchange" {
					// The record of the token's own mint, made before it.
					got = s.next(t)
				}
				if got["resource"] != "before-stop" {
					t.Fatalf("first event %v, want before-stop", got)
				}
				tc.stop(t, e)
				e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "after-stop"})
				e.sync()
				// Far more than the poll interval and the keep-alive.
				deadline := time.After(time.Minute)
				for {
					select {
					case ev, ok := <-s.events:
						if !ok {
							return // the stream ended, and leaked nothing
						}
						if ev.rec["resource"] == "after-stop" {
							t.Fatalf("a record written after the stop reached the stream: %v", ev.rec)
						}
					case <-deadline:
						t.Fatal("the stream is still open a minute after its credential was stopped")
					}
				}
			})
		})
	}
}

// TestAttackApprovalLongPollOutlivesStop: an agent waits on its approval
// (GET /v1/approvals/{id}?wait=), its credential is stopped meanwhile, and
// the approval is then decided. The answer must be the 401 a stopped
// credential gets, not the decision: the long poll authenticated only
// when it began, so it answered a revoked, suspended or expired
// credential 200 with the approval, its approver and note.
func TestAttackApprovalLongPollOutlivesStop(t *testing.T) {
	cases := []struct {
		name string
		open func(e *env) string
		stop func(t *testing.T, e *env)
	}{
		{"key revoked",
			func(e *env) string { return e.key("acme/bot") },
			func(t *testing.T, e *env) {
				e.must(204, "POST", "/v1/revocations", e.key("acme/alice"), map[string]any{"id": e.ids["acme/bot"]})
			}},
		{"agent suspended",
			func(e *env) string { return e.key("acme/bot") },
			func(t *testing.T, e *env) {
				e.must(204, "POST", "/v1/agents/bot/suspend", e.key("acme/alice"), map[string]any{"reason": "compromised"})
			}},
		{"token expired",
			func(e *env) string { return e.exchange(e.key("acme/bot")) },
			func(t *testing.T, e *env) { e.clock.Advance(defaultTokenTTL + time.Minute) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newBubbleEnv(t)
				cred := tc.open(e)
				d := e.check(cred, map[string]any{"tool_name": "payments.charge"})
				id, _ := d["approval_id"].(string)
				if d["effect"] != "needs_approval" || id == "" {
					t.Fatalf("check: %v", d)
				}
				got := make(chan resp, 1)
				go func() { got <- e.do("GET", "/v1/approvals/"+id+"?wait=30s", cred, nil) }()
				synctest.Wait() // the poll is waiting
				tc.stop(t, e)
				e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), map[string]any{"note": "ok"})
				r := <-got
				if r.status != 401 {
					t.Fatalf("a stopped credential's long poll got %d: %s", r.status, r.body)
				}
			})
		})
	}
}
