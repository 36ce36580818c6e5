package attack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/server"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// A store that fails makes every check deny with ErrStoreUnavailable,
// whatever the credential and whatever the policy would say.
func TestAttackFailClosedStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		fs := &faultyStore{Store: b.open(t)}
		clk := newClock()
		c := newClient(t, fs, clk, "acme")
		ctx := context.Background()
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		tok := exchange(t, c, key)
		jwtTok, err := c.ExchangeJWT(ctx, key, "agenttrust")
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"}) // never looked up yet
		for _, cred := range []string{key, tok, jwtTok} {
			d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: cred})
			allowed(t, d, err) // and now cached
		}
		for _, tc := range []struct {
			name      string
			req       agenttrust.Request
			approvals bool // only the approval methods fail
		}{
			{"revocation_lookup_agent_id", agenttrust.Request{AgentID: "bot", Tool: "docs.read"}, false},
			{"revocation_lookup_cached_key", agenttrust.Request{Tool: "docs.read", Credential: key}, false},
			{"revocation_lookup_cached_token", agenttrust.Request{Tool: "docs.read", Credential: tok}, false},
			{"revocation_lookup_cached_jwt", agenttrust.Request{Tool: "docs.read", Credential: jwtTok}, false},
			{"key_lookup", agenttrust.Request{Tool: "docs.read", Credential: fresh}, false},
			{"approval_create", agenttrust.Request{AgentID: "bot", Tool: "payments.refund", Resource: "r1"}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.approvals {
					fs.approvalsDown.Store(true)
					defer fs.approvalsDown.Store(false)
				} else {
					fs.down.Store(true)
					defer fs.down.Store(false)
				}
				d, err := c.Check(ctx, tc.req)
				denied(t, d, err, agenttrust.ErrStoreUnavailable)
			})
		}
		for _, tc := range []struct {
			name string
			run  func() error
		}{
			{"authenticate_key", func() error { _, err := c.Authenticate(ctx, key, netip.Addr{}); return err }},
			{"authenticate_token", func() error { _, err := c.Authenticate(ctx, tok, netip.Addr{}); return err }},
			{"exchange", func() error { _, err := c.Exchange(ctx, key); return err }},
			{"delegate", func() error { _, _, err := c.Delegate(ctx, tok, 0); return err }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fs.down.Store(true)
				defer fs.down.Store(false)
				if err := tc.run(); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
					t.Errorf("error %v, want ErrStoreUnavailable", err)
				}
			})
		}
		t.Run("store_closed", func(t *testing.T) {
			st := b.open(t)
			c := newClient(t, st, clk, "acme")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
			denied(t, d, err, agenttrust.ErrStoreUnavailable)
		})
	})
}

// A policy engine that fails, panics or answers nonsense never lets a
// request through. A panic is a deny like any failure: recorded, and the
// client goes on deciding.
func TestAttackFailClosedPolicyEngine(t *testing.T) {
	ctx := context.Background()
	type withFields struct{ Secret string }
	for _, tc := range []struct {
		name   string
		engine agenttrust.PolicyEngineFunc
		reason string // the recorded reason
		quote  string // the error says this
		hidden string // and never this
	}{
		{"engine_error", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{}, errors.New("engine down")
		}, "policy engine failed", "engine down", ""},
		{"engine_allow_with_error", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Allow}, errors.New("half an answer")
		}, "policy engine failed", "half an answer", ""},
		{"engine_effect_out_of_range", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Effect(7)}, nil
		}, "policy engine failed", "invalid effect", ""},
		{"engine_effect_max", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Effect(255)}, nil
		}, "policy engine failed", "invalid effect", ""},
		{"engine_panics", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic("engine bug")
		}, "policy engine panicked", "engine bug", ""},
		{"engine_panics_nil", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic(nil)
		}, "policy engine panicked", "panicked", ""},
		{"engine_panics_error", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic(errors.New("engine broke"))
		}, "policy engine panicked", "engine broke", ""},
		{"engine_panics_nil_map", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			var m map[string]int
			m["x"]++
			return agenttrust.PolicyResult{Effect: agenttrust.Allow}, nil
		}, "policy engine panicked", "nil map", ""},
		{"engine_panics_nil_pointer", func(_ context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			var p *agenttrust.PolicyInput
			return agenttrust.PolicyResult{Effect: agenttrust.Allow, Rule: p.Tool}, nil
		}, "policy engine panicked", "nil pointer", ""},
		{"engine_panics_with_input", func(_ context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic(*in) // holds the attributes
		}, "policy engine panicked", "PolicyInput", "hunter2"},
		{"engine_panics_with_struct", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic(withFields{Secret: "hunter2"})
		}, "policy engine panicked", "withFields", "hunter2"},
		{"engine_panics_with_credential", func(ctx context.Context, _ *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic("cannot parse atk_0123456789abcdefghijklmnopqrst0123456789")
		}, "policy engine panicked", "withheld", "atk_"},
		{"engine_panics_with_long_text", func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			panic(strings.Repeat("x", 1<<20) + "tail")
		}, "policy engine panicked", "xxxx", "tail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := backends()[0].open(t)
			c, err := agenttrust.New(st, agenttrust.WithClock(newClock().Now), agenttrust.WithPolicyEngine(tc.engine),
				agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var d agenttrust.Decision
			panicked := func() (p any) {
				defer func() { p = recover() }()
				d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"password": "hunter2"}})
				return nil
			}()
			if panicked != nil {
				t.Fatalf("Check panicked: %v", panicked)
			}
			denied(t, d, err, agenttrust.ErrPolicyEngine)
			if !strings.Contains(err.Error(), tc.quote) || tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("error %.300q: want it to say %q and not %q", err, tc.quote, tc.hidden)
			}
			if len(err.Error()) > 512 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			recs, err := st.QueryAudit(ctx, store.AuditQuery{DecisionID: d.ID})
			if err != nil || len(recs) != 1 {
				t.Fatalf("audit of the decision: %d records, %v", len(recs), err)
			}
			if r := recs[0]; r.Effect != agenttrust.Deny || r.Reason != tc.reason {
				t.Errorf("recorded %v %q, want deny %q", r.Effect, r.Reason, tc.reason)
			}
			// The client goes on deciding: the pooled state came back.
			for range 3 {
				d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				denied(t, d, err, agenttrust.ErrPolicyEngine)
			}
		})
	}
}

// Guard and the HTTP middleware over a client whose engine panics: the
// tool and the handler never run, and the caller sees a deny.
func TestAttackFailClosedPolicyEnginePanicMiddleware(t *testing.T) {
	ctx := context.Background()
	panicky := agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
		panic("engine bug")
	})
	c, err := agenttrust.New(backends()[0].open(t), agenttrust.WithClock(newClock().Now), agenttrust.WithPolicyEngine(panicky))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Run("guard", func(t *testing.T) {
		ran := false
		tool := middleware.Guard(c, "docs.read", func(context.Context, string) (string, error) {
			ran = true
			return "done", nil
		})
		_, err := tool(agenttrust.WithAgent(ctx, "bot", ""), "x")
		var de *middleware.DeniedError
		if !errors.As(err, &de) || !errors.Is(err, agenttrust.ErrPolicyEngine) || de.Decision.Allowed() || ran {
			t.Errorf("Guard: error %v, tool ran %v; want a deny with ErrPolicyEngine and no run", err, ran)
		}
	})
	t.Run("guard_checker_panics", func(t *testing.T) {
		ran := false
		checker := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
			panic("checker bug")
		})
		tool := middleware.Guard(checker, "docs.read", func(context.Context, string) (string, error) {
			ran = true
			return "done", nil
		})
		p := func() (p any) {
			defer func() { p = recover() }()
			_, _ = tool(agenttrust.WithAgent(ctx, "bot", ""), "x")
			return nil
		}()
		if p == nil || ran {
			t.Errorf("a checker that panics: panic %v, tool ran %v; want the panic and no run", p, ran)
		}
	})
	t.Run("tool_call", func(t *testing.T) {
		d, err := middleware.CheckToolCall(agenttrust.WithAgent(ctx, "bot", ""), c, "docs.read", []byte(`{}`))
		denied(t, d, err, agenttrust.ErrPolicyEngine)
	})
}

// A panicking engine behind the HTTP API: the caller gets an answer
// that denies, and the node lives on.
func TestAttackFailClosedPolicyEnginePanicServer(t *testing.T) {
	st := backends()[0].open(t)
	panicky := agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
		panic("engine bug")
	})
	srv, err := server.New(st, server.WithNodeName("n1"), server.WithClock(newClock().Now),
		server.WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{masterKey()}}), agenttrust.WithPolicyEngine(panicky)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the panic's stack
	ts.Start()
	defer srv.Close()
	defer ts.Close()
	c, err := srv.Client(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
	for i := range 3 {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/actions/check", strings.NewReader(`{"tool_name":"docs.read"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantDeny(t, reply{status: res.StatusCode, body: b}, "policy_engine")
	}
}

// A handler of `agenttrust serve` that panics (here: the store panics
// under it) answers 500 "internal", lets go of the tenant, and the node
// goes on serving.
func TestAttackFailClosedServerPanic(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"check", "POST", "/v1/actions/check", map[string]any{"tool_name": "docs.read"}},
		{"whoami", "GET", "/v1/whoami", nil},
		{"exchange", "POST", "/v1/tokens", map[string]any{}},
		{"approvals", "GET", "/v1/approvals", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &panickyStore{Store: backends()[0].open(t)}
			n := newNode(t, ps, server.WithLogger(slog.New(slog.DiscardHandler)))
			bot, caller := n.key("acme/bot"), n.key("acme/bot")
			if tc.name == "approvals" {
				caller = n.key("acme/carol")
			}
			n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
			ps.on.Store(true)
			wantError(t, n.do(tc.method, tc.path, caller, tc.body), 500, "internal")
			ps.on.Store(false)
			n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
		})
	}
}

// panickyStore panics, while on, in the revocation lookup that every
// authentication and check makes: a bug anywhere under a handler.
type panickyStore struct {
	store.Store
	on atomic.Bool
}

func (p *panickyStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if p.on.Load() {
		panic("attack: store bug")
	}
	return p.Store.Blocked(ctx, tenant, ids)
}

// A trail that cannot be written stops decisions: checks deny with
// ErrAuditUnavailable rather than act unrecorded. Each case runs in a
// synctest bubble, so the sink's retry backoff and the queue's stuck
// bound pass on its clock.
func TestAttackFailClosedAudit(t *testing.T) {
	ctx := context.Background()
	const stuck = time.Second
	req := agenttrust.Request{AgentID: "bot", Tool: "docs.read"}
	t.Run("sink_failing_past_bound", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newSink()
			defer s.heal()
			clk := newClock()
			c := newClient(t, backends()[0].open(t), clk, "acme", agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{s}, StuckAfter: stuck}))
			s.mode.Store(sinkFail)
			d, err := c.Check(ctx, req)
			allowed(t, d, err)
			s.waitCalls(t, 2) // failed once, and the failure was noted before the retry
			time.Sleep(2 * stuck)
			d, err = c.Check(ctx, req)
			denied(t, d, err, agenttrust.ErrAuditUnavailable)
		})
	})
	t.Run("sink_hanging_past_bound", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newSink()
			defer s.heal()
			clk := newClock()
			c := newClient(t, backends()[0].open(t), clk, "acme", agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{s}, StuckAfter: stuck, WriteTimeout: time.Minute}))
			s.mode.Store(sinkHang)
			d, err := c.Check(ctx, req)
			allowed(t, d, err)
			s.waitCalls(t, 1)
			time.Sleep(2 * stuck)
			d, err = c.Check(ctx, req)
			denied(t, d, err, agenttrust.ErrAuditUnavailable)
		})
	})
	t.Run("queue_full", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := newSink()
			defer s.heal()
			c := newClient(t, backends()[0].open(t), newClock(), "acme", agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{s}, Queue: 1, StuckAfter: 50 * time.Millisecond, WriteTimeout: time.Minute}))
			s.mode.Store(sinkHang)
			d, err := c.Check(ctx, req)
			allowed(t, d, err)
			s.waitCalls(t, 1) // the flusher holds the first record
			d, err = c.Check(ctx, req)
			allowed(t, d, err) // the one free place
			d, err = c.Check(ctx, req)
			denied(t, d, err, agenttrust.ErrAuditUnavailable)
		})
	})
}

// A client that is closed, a caller that gave up, a revocation view that
// cannot be proven fresh, and requests that do not make sense: each
// denies with its error.
func TestAttackFailClosedClient(t *testing.T) {
	ctx := context.Background()
	t.Run("client_closed", func(t *testing.T) {
		c := newClient(t, backends()[0].open(t), newClock(), "acme")
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
		denied(t, d, err, agenttrust.ErrClosed)
		d, err = c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key})
		denied(t, d, err, agenttrust.ErrClosed)
		if _, err := c.Authenticate(ctx, key, netip.Addr{}); !errors.Is(err, agenttrust.ErrClosed) {
			t.Errorf("Authenticate after Close: %v", err)
		}
	})
	eachBackend(t, func(t *testing.T, b backend) {
		st := b.open(t)
		c := newClient(t, st, newClock(), "acme")
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		t.Run("context_cancelled_before_check", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			for _, req := range []agenttrust.Request{
				{AgentID: "bot", Tool: "docs.read"},
				{Tool: "docs.read", Credential: key},
			} {
				d, err := c.Check(cctx, req)
				denied(t, d, err, agenttrust.ErrStoreUnavailable)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v does not say the context was cancelled", err)
				}
			}
		})
		t.Run("context_deadline_passed", func(t *testing.T) {
			dctx, cancel := context.WithDeadline(ctx, time.Unix(0, 0))
			defer cancel()
			d, err := c.Check(dctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
			denied(t, d, err, agenttrust.ErrStoreUnavailable)
		})
	})
	t.Run("notify_view_stale", func(t *testing.T) {
		fs := &faultyStore{Store: backends()[0].open(t)}
		clk := newClock()
		c := newClient(t, fs, clk, "acme", agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond}))
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
		allowed(t, d, err)
		fs.down.Store(true)
		defer fs.down.Store(false)
		clk.Advance(2 * time.Second)
		d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
		denied(t, d, err, agenttrust.ErrStoreUnavailable)
		if d.Staleness < time.Second {
			t.Errorf("staleness %v, want at least the bound", d.Staleness)
		}
		if _, err := c.Authenticate(ctx, key, netip.Addr{}); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Errorf("Authenticate on a stale view: %v", err)
		}
	})
	t.Run("invalid_requests", func(t *testing.T) {
		c := newClient(t, backends()[0].open(t), newClock(), "acme")
		many := map[string]any{}
		for i := range maxAttributes + 1 {
			many[fmt.Sprintf("a%d", i)] = i
		}
		for _, tc := range []struct {
			name string
			req  agenttrust.Request
		}{
			{"empty_request", agenttrust.Request{}},
			{"empty_tool", agenttrust.Request{AgentID: "bot"}},
			{"no_agent_no_credential", agenttrust.Request{Tool: "docs.read"}},
			{"nul_in_agent_id", agenttrust.Request{AgentID: "bot\x00admin", Tool: "docs.read"}},
			{"newline_in_tool", agenttrust.Request{AgentID: "bot", Tool: "docs.read\nadmin"}},
			{"del_in_session", agenttrust.Request{AgentID: "bot", Tool: "docs.read", SessionID: "s\x7f"}},
			{"invalid_utf8_tool", agenttrust.Request{AgentID: "bot", Tool: "docs.\xffread"}},
			{"invalid_utf8_resource", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: "\xc3"}},
			{"oversized_agent_id", agenttrust.Request{AgentID: strings.Repeat("b", 257), Tool: "docs.read"}},
			{"oversized_tool", agenttrust.Request{AgentID: "bot", Tool: strings.Repeat("t", 257)}},
			{"oversized_resource", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: strings.Repeat("r", 1025)}},
			{"oversized_on_behalf_of", agenttrust.Request{AgentID: "bot", Tool: "docs.read", OnBehalfOf: strings.Repeat("o", 257)}},
			{"too_many_attributes", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: many}},
			{"empty_attribute_name", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"": 1}}},
			{"control_in_attribute_name", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"a\tb": 1}}},
			{"oversized_attribute_name", agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{strings.Repeat("k", 129): 1}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				d, err := c.Check(ctx, tc.req)
				denied(t, d, err, agenttrust.ErrInvalidRequest)
			})
		}
	})
	t.Run("no_rule_denies", func(t *testing.T) {
		c, err := agenttrust.New(backends()[0].open(t), agenttrust.WithClock(newClock().Now))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
		if err != nil || d.Effect != agenttrust.Deny || d.Rule != "" {
			t.Errorf("empty policy: %v %q %v, want a plain deny", d.Effect, d.Rule, err)
		}
		if (agenttrust.Decision{}).Allowed() {
			t.Error("the zero Decision allows")
		}
	})
}

// The same failures seen through the HTTP API: 503 when the caller
// cannot be authenticated, a 200 deny with the error code when the check
// itself failed, 4xx for requests that make no sense.
func TestAttackFailClosedServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		fs := &faultyStore{Store: b.open(t)}
		s := newSink()
		defer s.heal()
		n := newNode(t, fs, server.WithClientOptions(agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{s}, StuckAfter: time.Second, WriteTimeout: time.Minute})))
		bot, alice := n.key("acme/bot"), n.key("acme/alice")
		tok := n.exchange(bot)
		n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})

		t.Run("store_down_bearer_key", func(t *testing.T) {
			fs.down.Store(true)
			defer fs.down.Store(false)
			wantError(t, n.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"}), 503, "store_unavailable")
		})
		t.Run("store_down_bearer_token", func(t *testing.T) {
			fs.down.Store(true)
			defer fs.down.Store(false)
			wantError(t, n.do("POST", "/v1/actions/check", tok, map[string]any{"tool_name": "docs.read"}), 503, "store_unavailable")
		})
		t.Run("store_down_approval", func(t *testing.T) {
			fs.approvalsDown.Store(true)
			defer fs.approvalsDown.Store(false)
			wantDeny(t, n.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "payments.charge", "attributes": map[string]any{"amount": 5}}), "store_unavailable")
		})

		many := map[string]any{}
		for i := range maxAttributes + 1 {
			many[fmt.Sprintf("a%d", i)] = i
		}
		for _, tc := range []struct {
			name, method, path string
			body               any
			hdr                []string
			status             int
			code               string
		}{
			{"oversized_body", "POST", "/v1/actions/check", `{"tool_name":"docs.read","resource":"` + strings.Repeat("r", server.MaxBodySize) + `"}`, nil, 400, "request_too_large"},
			{"unknown_field", "POST", "/v1/actions/check", `{"tool_name":"docs.read","allowed":true}`, nil, 400, "unknown_field"},
			{"duplicate_field", "POST", "/v1/actions/check", `{"tool_name":"docs.read","tool_name":"docs.delete"}`, nil, 400, "invalid_json"},
			{"case_variant_field", "POST", "/v1/actions/check", `{"Tool_Name":"docs.read"}`, nil, 400, "unknown_field"},
			{"trailing_data", "POST", "/v1/actions/check", `{"tool_name":"docs.read"} {"tool_name":"docs.delete"}`, nil, 400, "invalid_json"},
			{"wrong_type", "POST", "/v1/actions/check", `{"tool_name":42}`, nil, 400, "invalid_json"},
			{"missing_tool_name", "POST", "/v1/actions/check", `{}`, nil, 400, "missing_field"},
			{"empty_body", "POST", "/v1/actions/check", "", nil, 400, "invalid_json"},
			{"control_char_in_tool", "POST", "/v1/actions/check", map[string]any{"tool_name": "docs.read\u0001"}, nil, 400, "invalid_request"},
			{"too_many_attributes", "POST", "/v1/actions/check", map[string]any{"tool_name": "docs.read", "attributes": many}, nil, 400, "invalid_request"},
			{"wrong_content_type", "POST", "/v1/actions/check", `{"tool_name":"docs.read"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
			{"unknown_query_parameter", "GET", "/v1/approvals?admin=1", nil, nil, 400, "unknown_parameter"},
			{"repeated_query_parameter", "GET", "/v1/approvals?agent_id=bot&agent_id=bot2", nil, nil, 400, "invalid_parameter"},
			{"method_not_allowed", "DELETE", "/v1/keys", nil, nil, 405, "method_not_allowed"},
			{"no_such_route", "GET", "/v1/admin", nil, nil, 404, "not_found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// hdr replaces the JSON content type do sets.
				wantError(t, n.doReplacing(tc.method, tc.path, bot, tc.body, tc.hdr...), tc.status, tc.code)
			})
		}
		t.Run("authorization_schemes", func(t *testing.T) {
			for _, hdr := range [][]string{
				{"Authorization", "Basic " + bot},
				{"Authorization", "Bearer"},
				{"Authorization", "Bearer " + bot, "Authorization", "Bearer " + alice},
				{"X-Api-Key", bot},
			} {
				wantError(t, n.do("GET", "/v1/whoami", "", nil, hdr...), 401, "unauthenticated")
			}
		})
		t.Run("audit_sink_failing", func(t *testing.T) {
			s.drain()
			s.mode.Store(sinkFail)
			defer s.mode.Store(sinkOK)
			n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
			s.waitCalls(t, 2)
			// The stuck bound (1s) runs on the real clock here: the
			// server is on TCP, outside any synctest bubble. A loaded
			// machine may run the flusher late, so the deny is awaited
			// (for 20 times the bound) rather than expected at 1.2s.
			time.Sleep(1200 * time.Millisecond)
			r := n.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
			for deadline := time.Now().Add(20 * time.Second); r.status == 200 && r.object(t)["allowed"] == true && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				r = n.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
			}
			wantDeny(t, r, "audit_unavailable")
		})
		t.Run("server_closed", func(t *testing.T) {
			n2 := newNode(t, b.open(t))
			k := n2.key("acme/bot")
			if err := n2.srv.Close(); err != nil {
				t.Fatal(err)
			}
			wantError(t, n2.do("POST", "/v1/actions/check", k, map[string]any{"tool_name": "docs.read"}), 503, "closed")
		})
	})
}

// A PostgreSQL link cut under a running client or node: checks deny
// within the query timeout, and allow again once it is restored.
func TestAttackFailClosedPostgresLink(t *testing.T) {
	raw := pgURL(t)
	ctx := context.Background()
	newLink := func(t *testing.T) (*faultproxy.Proxy, *postgres.Store) {
		target, _ := viaProxy(t, raw, "")
		p, err := faultproxy.New(target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		_, via := viaProxy(t, raw, p.Addr())
		return p, openPostgres(t, via, postgres.WithQueryTimeout(time.Second))
	}
	t.Run("library_check", func(t *testing.T) {
		p, st := newLink(t)
		c := newClient(t, st, newClock(), "acme")
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key})
		allowed(t, d, err)
		p.Cut()
		d, err = c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key})
		denied(t, d, err, agenttrust.ErrStoreUnavailable)
		p.Restore()
		var last error
		for range 50 {
			if d, last = c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key}); last == nil && d.Allowed() {
				return
			}
		}
		t.Errorf("no allow after the link was restored: %v", last)
	})
	t.Run("library_notify_view", func(t *testing.T) {
		p, st := newLink(t)
		clk := newClock()
		c := newClient(t, st, clk, "acme", agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: time.Second, PollInterval: 100 * time.Millisecond}))
		key, _ := createKey(t, c, agenttrust.KeySpec{AgentID: "bot"})
		d, err := c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key})
		allowed(t, d, err)
		p.Cut()
		defer p.Restore()
		clk.Advance(2 * time.Second)
		d, err = c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: key})
		denied(t, d, err, agenttrust.ErrStoreUnavailable)
	})
	t.Run("server_check", func(t *testing.T) {
		p, st := newLink(t)
		n := newNode(t, st)
		bot := n.key("acme/bot")
		n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
		p.Cut()
		defer p.Restore()
		wantError(t, n.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"}), 503, "store_unavailable")
	})
}

// A request is refused for what it holds, and its refusal is recorded;
// the record must not be something the audit store cannot hold, or one
// hostile request wedges the trail and, past the audit bound, every check
// of the tenant denies. The record keeps a U+FFFD where a NUL or a byte
// that is not UTF-8 was, so it still shows that something was there.
func TestAttackFailClosedAuditPoison(t *testing.T) {
	ctx := context.Background()
	const fffd = "\uFFFD"
	bad := func(s string) map[string]any { return map[string]any{"note": s} }
	ruleEngine := func(rule, reason string) agenttrust.Option {
		return agenttrust.WithPolicyEngine(agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Allow, Rule: rule, Reason: reason}, nil
		}))
	}
	key, err := agenttrust.NewAuditKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range []struct {
			name    string
			req     agenttrust.Request
			refused bool              // the request itself is invalid
			opt     agenttrust.Option // a custom engine
			want    func(r store.AuditRecord) string
		}{
			{name: "nul_in_tool", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read\x00"}, refused: true,
				want: func(r store.AuditRecord) string { return r.Tool }},
			{name: "nul_in_agent_id", req: agenttrust.Request{AgentID: "bot\x00", Tool: "docs.read"}, refused: true,
				want: func(r store.AuditRecord) string { return r.AgentID }},
			{name: "nul_in_session_id", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", SessionID: "s\x00"}, refused: true,
				want: func(r store.AuditRecord) string { return r.SessionID }},
			{name: "nul_in_on_behalf_of", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", OnBehalfOf: "alice\x00"}, refused: true,
				want: func(r store.AuditRecord) string { return r.OnBehalfOf }},
			{name: "nul_in_resource", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: "r\x00"}, refused: true,
				want: func(r store.AuditRecord) string { return r.Resource }},
			{name: "invalid_utf8_tool", req: agenttrust.Request{AgentID: "bot", Tool: "docs.\xffread"}, refused: true,
				want: func(r store.AuditRecord) string { return r.Tool }},
			{name: "invalid_utf8_agent_id", req: agenttrust.Request{AgentID: "bot\xc3", Tool: "docs.read"}, refused: true,
				want: func(r store.AuditRecord) string { return r.AgentID }},
			{name: "invalid_utf8_session_id", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", SessionID: "\xed\xa0\x80"}, refused: true,
				want: func(r store.AuditRecord) string { return r.SessionID }},
			{name: "invalid_utf8_on_behalf_of", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", OnBehalfOf: "\xf0\x9f"}, refused: true,
				want: func(r store.AuditRecord) string { return r.OnBehalfOf }},
			{name: "invalid_utf8_resource", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: "r\xff"}, refused: true,
				want: func(r store.AuditRecord) string { return r.Resource }},
			{name: "oversized_resource_cut_mid_character", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: strings.Repeat("\u20ac", 400)}, refused: true},
			{name: "oversized_agent_id_cut_mid_character", req: agenttrust.Request{AgentID: "b" + strings.Repeat("\U0001F600", 300), Tool: "docs.read"}, refused: true},
			{name: "oversized_tool_nul_and_invalid", req: agenttrust.Request{AgentID: "bot", Tool: strings.Repeat("\x00\xff", 2000)}, refused: true,
				want: func(r store.AuditRecord) string { return r.Tool }},
			{name: "nul_in_attribute_name", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"n\x00": 1}}, refused: true,
				want: attrsText},
			{name: "invalid_utf8_attribute_name", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"n\xff": 1}}, refused: true,
				want: attrsText},
			{name: "nul_in_attribute_value", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: bad("a\x00b")},
				want: attrsText},
			{name: "invalid_utf8_attribute_value", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: bad("a\xffb")},
				want: attrsText},
			{name: "nul_in_nested_attribute", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": map[string]any{"k\x00": []string{"v\x00"}}}},
				want: attrsText},
			{name: "invalid_utf8_nested_attribute", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": []any{"\xff", map[string]string{"\xfe": "x"}}}},
				want: attrsText},
			{name: "raw_json_nul_escape", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": json.RawMessage(`{"k\u0000":"\u0000"}`)}},
				want: attrsText},
			{name: "raw_json_lone_surrogates", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": json.RawMessage(`["\ud800","x\udc00","\ud800\u0041"]`)}},
				want: attrsText},
			{name: "raw_json_invalid_utf8", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": json.RawMessage("[\"\xff\"]")}},
				want: attrsText},
			{name: "json_number_nan", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"n": json.Number("NaN")}}},
			{name: "json_number_hex", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"n": json.Number("0x1p3")}}},
			{name: "attribute_marshaler_panics", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"doc": panicMarshaler{}}}},
			{name: "engine_rule_nul", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read"}, opt: ruleEngine("r\x00", "ok"),
				want: func(r store.AuditRecord) string { return r.Rule }},
			{name: "engine_reason_invalid_utf8", req: agenttrust.Request{AgentID: "bot", Tool: "docs.read"}, opt: ruleEngine("r", "ok\xff"),
				want: func(r store.AuditRecord) string { return r.Reason }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := b.open(t)
				opts := []agenttrust.Option{agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{audit.NewStoreSink(st)}, WriteTimeout: time.Second, Key: key})}
				if tc.opt != nil {
					opts = append(opts, tc.opt) // in place of the policy
				}
				var c *agenttrust.Client
				if tc.opt == nil {
					c = newClient(t, st, newClock(), "acme", opts...)
				} else {
					var err error
					if c, err = agenttrust.New(st, append(opts, agenttrust.WithClock(newClock().Now), agenttrust.WithTenant("acme"))...); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
				}
				d, err := c.Check(ctx, tc.req)
				if tc.refused {
					denied(t, d, err, agenttrust.ErrInvalidRequest)
				} else {
					allowed(t, d, err)
				}
				sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				if err := c.SyncAudit(sctx); err != nil {
					t.Fatalf("audit not written: %v", err)
				}
				r := storedRecord(t, st, d.ID, key)
				if tc.want != nil && !strings.Contains(tc.want(r), fffd) {
					t.Errorf("record %q does not show what was there", tc.want(r))
				}
				d, err = c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				allowed(t, d, err)
				if err := c.SyncAudit(sctx); err != nil {
					t.Fatalf("audit not written after the poison: %v", err)
				}
			})
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"server_nul_in_tool", map[string]any{"tool_name": "docs.read\u0000"}, 400, "invalid_request"},
			{"server_nul_in_resource", map[string]any{"tool_name": "docs.read", "resource": "r\u0000"}, 400, "invalid_request"},
			{"server_nul_in_session_id", map[string]any{"tool_name": "docs.read", "session_id": "s\u0000"}, 400, "invalid_request"},
			{"server_nul_in_on_behalf_of", map[string]any{"tool_name": "docs.read", "on_behalf_of": "a\u0000"}, 400, "invalid_request"},
			{"server_nul_in_attribute_name", map[string]any{"tool_name": "docs.read", "attributes": map[string]any{"n\u0000": 1}}, 400, "invalid_request"},
			{"server_nul_in_attribute_value", map[string]any{"tool_name": "docs.read", "attributes": map[string]any{"note": "a\u0000"}}, 200, ""},
			{"server_nul_in_nested_attribute", map[string]any{"tool_name": "docs.read", "attributes": map[string]any{"doc": map[string]any{"k\u0000": []any{"v\u0000"}}}}, 200, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n := newNode(t, b.open(t), server.WithClientOptions(agenttrust.WithAudit(agenttrust.AuditConfig{WriteTimeout: time.Second})))
				bot := n.key("acme/bot")
				r := n.do("POST", "/v1/actions/check", bot, tc.body)
				if tc.status == 200 {
					if r.status != 200 || r.object(t)["effect"] != "allow" {
						t.Errorf("status %d %s, want an allow", r.status, r.body)
					}
				} else {
					wantError(t, r, tc.status, tc.code)
				}
				sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				if err := n.client("acme").SyncAudit(sctx); err != nil {
					t.Fatalf("audit not written: %v", err)
				}
				n.must(200, "POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read"})
				if err := n.client("acme").SyncAudit(sctx); err != nil {
					t.Fatalf("audit not written after the poison: %v", err)
				}
			})
		}
	})
}

// storedRecord reads the record of decision id back from st and checks
// that every text in it is valid UTF-8 without NUL, its attributes valid
// JSON without \u0000, and its chain link sound.
func storedRecord(t *testing.T, st store.Store, id agenttrust.DecisionID, key agenttrust.AuditKey) store.AuditRecord {
	t.Helper()
	recs, err := st.QueryAudit(context.Background(), store.AuditQuery{DecisionID: id})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit of the decision: %d records, %v", len(recs), err)
	}
	r := recs[0]
	texts := append([]string{r.AgentID, r.OnBehalfOf, r.SessionID, r.Tool, r.Resource, r.CredentialID, r.Rule, r.Reason, r.ApprovalID, string(r.Attributes)}, r.HopIDs...)
	for _, s := range texts {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || strings.Contains(s, `\u0000`) {
			t.Errorf("stored text %q is not storable everywhere", s)
		}
	}
	if len(r.Attributes) > 0 && !json.Valid(r.Attributes) {
		t.Errorf("stored attributes %s are not JSON", r.Attributes)
	}
	if err := agenttrust.VerifyChain(recs, key); err != nil {
		t.Errorf("stored record does not verify: %v", err)
	}
	return r
}

// attrsText returns the stored attributes decoded, as text.
func attrsText(r store.AuditRecord) string {
	var v any
	if err := json.Unmarshal(r.Attributes, &v); err != nil {
		return "undecodable: " + err.Error()
	}
	return fmt.Sprint(v)
}

// panicMarshaler is an attribute value whose MarshalJSON panics.
type panicMarshaler struct{}

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("attack: marshaler bug") }
