package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

func charge(amount any) agenttrust.Request {
	return agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-1",
		SessionID: "s1", Attributes: map[string]any{"amount": amount}}
}

func TestCheckDecisions(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	tests := []struct {
		name   string
		req    agenttrust.Request
		effect agenttrust.Effect
		rule   string
		err    error
	}{
		{"small charge", charge(40), agenttrust.Allow, "small-charges", nil},
		{"boundary", charge(50.0), agenttrust.Allow, "small-charges", nil},
		{"big charge", charge(60), agenttrust.NeedsApproval, "big-charges", nil},
		// The needs_approval rule cannot tell: the check denies.
		{"amount as string", charge("40"), agenttrust.Deny, "big-charges", agenttrust.ErrUnevaluable},
		{"amount missing", agenttrust.Request{AgentID: "billing-bot", Tool: "payments.charge"}, agenttrust.Deny, "big-charges", agenttrust.ErrUnevaluable},
		{"other agent", agenttrust.Request{AgentID: "intruder", Tool: "payments.charge", Attributes: map[string]any{"amount": 1}}, agenttrust.Deny, "", nil},
		{"read alice", agenttrust.Request{AgentID: "any", Tool: "mail.read", Resource: "mailbox:alice/inbox"}, agenttrust.Allow, "read-mail", nil},
		{"read bob", agenttrust.Request{AgentID: "any", Tool: "mail.read", Resource: "mailbox:bob/inbox"}, agenttrust.Deny, "", nil},
		{"glob in value is literal", agenttrust.Request{AgentID: "any", Tool: "mail.read", Resource: "mailbox:*"}, agenttrust.Deny, "", nil},
		{"deny wins", agenttrust.Request{AgentID: "billing-bot", Tool: "mail.delete"}, agenttrust.Deny, "no-deletes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := f.c.Check(ctx, tt.req)
			if !errors.Is(err, tt.err) || (err != nil && tt.err == nil) {
				t.Fatalf("Check: %v, want %v", err, tt.err)
			}
			if d.Effect != tt.effect || d.Rule != tt.rule {
				t.Errorf("got %v by %q (%s), want %v by %q", d.Effect, d.Rule, d.Reason, tt.effect, tt.rule)
			}
			if d.Reason == "" || d.ID.IsZero() {
				t.Errorf("decision lacks reason or id: %+v", d)
			}
		})
	}
}

func TestCheckInvalidRequests(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	many := map[string]any{}
	for i := range agenttrust.MaxAttributes + 1 {
		many[strings.Repeat("k", i+1)] = i
	}
	bad := map[string]agenttrust.Request{
		"no agent":        {Tool: "payments.charge"},
		"no tool":         {AgentID: "billing-bot"},
		"control char":    {AgentID: "billing\x00bot", Tool: "t"},
		"bad utf8":        {AgentID: "billing-bot", Tool: "t\xff"},
		"long agent":      {AgentID: strings.Repeat("a", 257), Tool: "t"},
		"long resource":   {AgentID: "a", Tool: "t", Resource: strings.Repeat("r", 2000)},
		"empty attr name": {AgentID: "a", Tool: "t", Attributes: map[string]any{"": 1}},
		"too many attrs":  {AgentID: "a", Tool: "t", Attributes: many},
	}
	for name, req := range bad {
		t.Run(name, func(t *testing.T) {
			d, err := f.c.Check(context.Background(), req)
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %v, %v; want Deny with ErrInvalidRequest", d.Effect, err)
			}
		})
	}
	// Every refusal is audited too.
	if n := len(f.records(t)); n != len(bad) {
		t.Errorf("%d audit records, want %d", n, len(bad))
	}
}

// TestMalformedCredentialDenied: a key that does not parse is refused as
// unauthorized, and nothing of it reaches the audit trail.
func TestMalformedCredentialDenied(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	req := charge(10)
	req.Credential = "atk_whatever"
	d, err := f.c.Check(context.Background(), req)
	if !errors.Is(err, agenttrust.ErrUnauthorized) || d.Allowed() {
		t.Fatalf("credential not refused: %v %v", d.Effect, err)
	}
	for _, r := range f.records(t) {
		if strings.Contains(string(r.Attributes)+r.Reason+r.CredentialID, "atk_") {
			t.Fatal("credential leaked into the audit record")
		}
	}
}

func TestSuspendResumeRevoke(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	mustAllow := func() {
		t.Helper()
		if d, err := f.c.Check(ctx, charge(1)); err != nil || !d.Allowed() {
			t.Fatalf("want allow, got %v %v %s", d.Effect, err, d.Reason)
		}
	}
	mustAllow()
	if err := f.c.Suspend(ctx, "billing-bot", "investigating"); err != nil {
		t.Fatal(err)
	}
	d, err := f.c.Check(ctx, charge(1))
	if err != nil || d.Allowed() || d.Reason != "agent suspended" {
		t.Fatalf("suspended agent: %v %v %q", d.Effect, err, d.Reason)
	}
	if err := f.c.Resume(ctx, "billing-bot"); err != nil {
		t.Fatal(err)
	}
	mustAllow()
	if err := f.c.Resume(ctx, "billing-bot"); !errors.Is(err, agenttrust.ErrNotFound) {
		t.Fatalf("second Resume: %v", err)
	}
	// Suspending the session stops this session only.
	if err := f.c.Suspend(ctx, "s1", "session hijack?"); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.c.Check(ctx, charge(1)); d.Allowed() || d.Reason != "session suspended" {
		t.Fatalf("suspended session: %v %q", d.Effect, d.Reason)
	}
	other := charge(1)
	other.SessionID = "s2"
	if d, _ := f.c.Check(ctx, other); !d.Allowed() {
		t.Fatalf("other session: %v %q", d.Effect, d.Reason)
	}
	// Revocation is permanent and an error.
	if err := f.c.Revoke(ctx, "billing-bot"); err != nil {
		t.Fatal(err)
	}
	d, err = f.c.Check(ctx, other)
	if !errors.Is(err, agenttrust.ErrRevoked) || !errors.Is(err, agenttrust.ErrUnauthorized) || d.Allowed() {
		t.Fatalf("revoked agent: %v %v", d.Effect, err)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, paymentsPolicy+`
limits:
  - id: charge-rate
    agents: [billing-bot]
    tools: ["payments.*"]
    rate: 2/s
    burst: 2
`)
	ctx := context.Background()
	effects := func(n int) (out []agenttrust.Effect) {
		for range n {
			d, err := f.c.Check(ctx, charge(1))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d.Effect)
		}
		return out
	}
	got := effects(3)
	if got[0] != agenttrust.Allow || got[1] != agenttrust.Allow || got[2] != agenttrust.Deny {
		t.Fatalf("burst: %v", got)
	}
	f.clock.Advance(500 * time.Millisecond) // one token back
	if got := effects(2); got[0] != agenttrust.Allow || got[1] != agenttrust.Deny {
		t.Fatalf("refill: %v", got)
	}
	// Another agent has its own bucket; a tool outside the limit is not limited.
	if d, _ := f.c.Check(ctx, agenttrust.Request{AgentID: "x", Tool: "mail.read", Resource: "mailbox:alice/1"}); !d.Allowed() {
		t.Fatal("unrelated request limited")
	}
	recs := f.records(t)
	if last := recs[len(recs)-2]; last.Rule != "charge-rate" || last.Reason != "rate limit exceeded" {
		t.Errorf("rate-limit decision audited as %q %q", last.Rule, last.Reason)
	}
}

func TestRunawayBreaker(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3, DenialWindow: time.Minute}))
	ctx := context.Background()
	bad := agenttrust.Request{AgentID: "billing-bot", Tool: "mail.delete"}
	for i := range 3 {
		d, _ := f.c.Check(ctx, bad)
		if i == 2 && !strings.Contains(d.Reason, "runaway breaker") {
			t.Fatalf("third denial did not trip the breaker: %q", d.Reason)
		}
	}
	// The agent is now suspended: even an allowed action is refused.
	if d, _ := f.c.Check(ctx, charge(1)); d.Allowed() || d.Reason != "agent suspended" {
		t.Fatalf("after trip: %v %q", d.Effect, d.Reason)
	}
	blocks, err := f.st.Blocks(ctx, agenttrust.DefaultTenant)
	if err != nil || len(blocks) != 1 || !strings.Contains(blocks[0].Reason, "3 denials") {
		t.Fatalf("suspension not recorded with its reason: %+v %v", blocks, err)
	}
	recs := f.records(t)
	if !strings.Contains(recs[2].Reason, "agent suspended") || recs[2].Rule != "agenttrust.breaker" {
		t.Errorf("audit does not say the breaker tripped: %+v", recs[2])
	}
	// Resume restores service.
	if err := f.c.Resume(ctx, "billing-bot"); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.c.Check(ctx, charge(1)); !d.Allowed() {
		t.Fatal("resume did not restore service")
	}
}

func TestCallRateBreaker(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: 5, CallWindow: time.Second}))
	ctx := context.Background()
	var last agenttrust.Decision
	for range 6 {
		last, _ = f.c.Check(ctx, charge(1))
	}
	if last.Allowed() || !strings.Contains(last.Reason, "more than 5 calls") {
		t.Fatalf("call-rate breaker: %v %q", last.Effect, last.Reason)
	}
}

// failingStore fails the operations named in fail.
type failingStore struct {
	store.Store
	failBlocked bool
}

func (s *failingStore) Blocked(ctx context.Context, tenant string, ids []string) (store.Block, bool, error) {
	if s.failBlocked {
		return store.Block{}, false, store.ErrUnavailable
	}
	return s.Store.Blocked(ctx, tenant, ids)
}

func TestStoreFailureDenies(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	fs := &failingStore{Store: f.st, failBlocked: true}
	c, err := agenttrust.New(fs, agenttrust.WithPolicy(mustPolicy(t, paymentsPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.Check(context.Background(), charge(1))
	if !errors.Is(err, agenttrust.ErrStoreUnavailable) || !errors.Is(err, store.ErrUnavailable) || d.Allowed() {
		t.Fatalf("got %v %v", d.Effect, err)
	}
	if d.Reason != "store unavailable" {
		t.Errorf("reason %q", d.Reason)
	}
}

// A client that decides with its own PolicyEngine refuses to save a rules
// document: saving one would put the built-in engine in the place of the
// caller's on this client alone, deciding with rules that no other node
// of the deployment applies. Nothing is stored and the engine stays.
func TestSavePolicyRefusedWithOwnEngine(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, paymentsPolicy)
	c, err := agenttrust.New(f.st, agenttrust.WithPolicyEngine(agenttrust.PolicyEngineFunc(
		func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Deny, Rule: "own-engine"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, _ := f.st.Policy(ctx, agenttrust.DefaultTenant)
	allowAll := "default: allow\n"
	if _, err := c.SavePolicy(ctx, []byte(allowAll), "yaml", before.Version); !errors.Is(err, agenttrust.ErrConflict) {
		t.Fatalf("SavePolicy on a client with its own engine: %v, want ErrConflict", err)
	}
	if after, _ := f.st.Policy(ctx, agenttrust.DefaultTenant); after.Version != before.Version {
		t.Errorf("stored policy version %d -> %d, want it unchanged", before.Version, after.Version)
	}
	if d, err := c.Check(ctx, charge(1)); err != nil || d.Allowed() || d.Rule != "own-engine" {
		t.Errorf("after the refused save: %v %q %v, want the engine's deny", d.Effect, d.Rule, err)
	}
}

func TestPolicyEngineErrorDenies(t *testing.T) {
	boom := errors.New("boom")
	c, err := agenttrust.New(newFixture(t, paymentsPolicy).st, agenttrust.WithPolicyEngine(agenttrust.PolicyEngineFunc(
		func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
			return agenttrust.PolicyResult{Effect: agenttrust.Allow}, boom
		})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.Check(context.Background(), charge(1))
	if !errors.Is(err, agenttrust.ErrPolicyEngine) || !errors.Is(err, boom) || d.Allowed() {
		t.Fatalf("got %v %v", d.Effect, err)
	}
}

func mustPolicy(t *testing.T, y string) *agenttrust.Policy {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(y), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecisionIDsOrdered(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	var prev agenttrust.DecisionID
	for i := range 5000 {
		if i%1000 == 0 {
			f.clock.Advance(time.Millisecond)
		}
		d, _ := f.c.Check(context.Background(), charge(1))
		if string(d.ID[:]) <= string(prev[:]) {
			t.Fatalf("id %s not after %s", d.ID, prev)
		}
		prev = d.ID
	}
	if got := prev.Time(); !got.Equal(f.clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("id time %v, clock %v", got, f.clock.Now())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st := newFixture(t, paymentsPolicy).st
	for name, opts := range map[string][]agenttrust.Option{
		"empty tenant":   {agenttrust.WithTenant("")},
		"nil clock":      {agenttrust.WithClock(nil)},
		"negative queue": {agenttrust.WithAudit(agenttrust.AuditConfig{Queue: -1})},
		"long chain":     {agenttrust.WithAudit(agenttrust.AuditConfig{Chain: strings.Repeat("c", 129)})},
		"both engines":   {agenttrust.WithPolicy(&agenttrust.Policy{}), agenttrust.WithPolicyEngine(agenttrust.PolicyEngineFunc(nil))},
		"nil sink":       {agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{nil}})},
		"bad breaker":    {agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: -1})},
		"bad policy":     {agenttrust.WithPolicy(&agenttrust.Policy{Rules: []agenttrust.Rule{{ID: "x", Tools: []string{"a**"}}}})},
	} {
		if _, err := agenttrust.New(st, opts...); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := agenttrust.New(nil); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Errorf("nil store: %v", err)
	}
}

func TestClosedClientDenies(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	if err := f.c.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := f.c.Check(context.Background(), charge(1))
	if !errors.Is(err, agenttrust.ErrClosed) || d.Allowed() {
		t.Fatalf("closed client: %v %v", d.Effect, err)
	}
}
