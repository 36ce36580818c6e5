package agenttrust

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/store/memory"
)

// Each phase of Check on its own: what it returns for what it sees.

var phaseNow = time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)

func phaseClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New(memory.New(), append([]Option{WithClock(func() time.Time { return phaseNow })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDecisionOfVerdict(t *testing.T) {
	st := &checkState{cred: credential{id: "tok_1", hops: []string{"hop_1"}}, vouchedBy: "key_admin", staleness: time.Second}
	req := &Request{AgentID: "a1"}
	allow := verdict{done: true, effect: Allow, rule: "r1", reason: "ok", approvalID: "apr_1"}
	for _, tc := range []struct {
		name string
		v    verdict
		err  error
		want Effect
	}{
		{"decided", allow, nil, Allow},
		{"an error denies", allow, ErrStoreUnavailable, Deny},
		{"undecided denies", verdict{effect: Allow}, nil, Deny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decision
			decision(&d, DecisionID{1}, req, st, &tc.v, tc.err)
			if d.Effect != tc.want || d.ID != (DecisionID{1}) || d.Rule != tc.v.rule || d.Reason != tc.v.reason {
				t.Fatalf("decision = %+v", d)
			}
			if d.AgentID != "a1" || d.CredentialID != "tok_1" || len(d.HopIDs) != 1 || d.VouchedBy != "key_admin" || d.Staleness != time.Second {
				t.Fatalf("facts of the check lost: %+v", d)
			}
			if (d.ApprovalID != "") != (tc.want == Allow) {
				t.Fatalf("approval id %q with effect %v", d.ApprovalID, d.Effect)
			}
		})
	}
}

func TestValidatePhase(t *testing.T) {
	c := phaseClient(t)
	for _, tc := range []struct {
		name  string
		req   Request
		valid bool
	}{
		{"valid", Request{AgentID: "a1", Tool: "t"}, true},
		{"no tool", Request{AgentID: "a1"}, false},
		{"bad vouching key", Request{AgentID: "a1", Tool: "t", VouchedBy: "key\x00"}, false},
		{"request id", Request{AgentID: "a1", Tool: "t", RequestID: "abc-123"}, true},
		{"request id of 128 bytes", Request{AgentID: "a1", Tool: "t", RequestID: strings.Repeat("r", 128)}, true},
		{"request id of 129 bytes", Request{AgentID: "a1", Tool: "t", RequestID: strings.Repeat("r", 129)}, false},
		{"request id with a newline", Request{AgentID: "a1", Tool: "t", RequestID: "abc\nforged line"}, false},
		{"request id with a space", Request{AgentID: "a1", Tool: "t", RequestID: "abc 123"}, false},
		{"request id with DEL", Request{AgentID: "a1", Tool: "t", RequestID: "abc\x7f"}, false},
		{"request id not ASCII", Request{AgentID: "a1", Tool: "t", RequestID: "abc\u00e9"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &checkState{}
			err := c.validate(&tc.req, st)
			if tc.valid {
				if err != nil || !st.valid || st.vouchedBy != tc.req.VouchedBy {
					t.Fatalf("validate = %v (state %+v)", err, st)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRequest) || st.vouchedBy != "" {
				t.Fatalf("validate = %v; want ErrInvalidRequest", err)
			}
		})
	}
}

func TestRevocationPhase(t *testing.T) {
	ctx := context.Background()
	c := phaseClient(t)
	for _, id := range []string{"a-susp", "s-susp", "tok_susp"} {
		if err := c.Suspend(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a-rev", "s-rev", "tok_rev", "key_rev", "hop_rev"} {
		if err := c.Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name           string
		agent, session string
		cred           credential
		err            error // nil: no error
		done           bool
		reason         string
	}{
		{"nothing blocked", "a1", "s1", credential{id: "tok_1", keyID: "key_1"}, nil, false, ""},
		{"agent suspended", "a-susp", "", credential{}, nil, true, reasonAgentSuspended},
		{"session suspended", "a1", "s-susp", credential{}, nil, true, reasonSessionSuspend},
		{"agent revoked", "a-rev", "", credential{}, ErrRevoked, true, reasonAgentRevoked},
		{"session revoked", "a1", "s-rev", credential{}, ErrRevoked, true, reasonSessionRevoked},
		{"token revoked", "a1", "", credential{id: "tok_rev", keyID: "key_1"}, ErrRevoked, true, reasonCredentialRevoked},
		{"root key revoked", "a1", "", credential{id: "tok_1", keyID: "key_rev"}, ErrRevoked, true, reasonCredentialRevoked},
		{"hop revoked", "a1", "", credential{id: "tok_1", keyID: "key_1", hops: []string{"hop_1", "hop_rev"}}, ErrRevoked, true, reasonCredentialRevoked},
		{"credential suspended", "a1", "", credential{id: "tok_susp", keyID: "key_1"}, ErrSuspended, true, reasonCredentialError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &checkState{cred: tc.cred}
			v, err := c.revocation(ctx, &Request{AgentID: tc.agent, SessionID: tc.session}, phaseNow, st)
			if (tc.err == nil) != (err == nil) || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if v.done != tc.done || v.reason != tc.reason || v.effect != Deny {
				t.Fatalf("verdict %+v, want done=%v reason %q", v, tc.done, tc.reason)
			}
		})
	}
}

func TestLimitPhase(t *testing.T) {
	c := phaseClient(t, WithPolicy(&Policy{Limits: []Limit{{ID: "slow", Tools: []string{"t"}, Rate: "1/m"}}}))
	ps := c.policy.Load()
	ctx := context.Background()
	if v, err := limit(ctx, ps, "a1", "t", phaseNow); v.done || err != nil {
		t.Fatalf("first call limited: %+v %v", v, err)
	}
	if v, err := limit(ctx, ps, "a1", "other", phaseNow); v.done || err != nil {
		t.Fatalf("a tool without a limit limited: %+v %v", v, err)
	}
	v, err := limit(ctx, ps, "a1", "t", phaseNow)
	if !v.done || v.effect != Deny || v.rule != "slow" || v.reason != reasonRateLimited || err != nil {
		t.Fatalf("second call: %+v %v; want a deny naming the limit", v, err)
	}
}

func TestBreakerPhase(t *testing.T) {
	ctx := context.Background()
	allow := verdict{done: true, effect: Allow, rule: "r1", approvalID: "apr_1"}
	c := phaseClient(t, WithBreaker(BreakerConfig{MaxCalls: 1, CallWindow: time.Hour}))
	if v := c.trip(ctx, "a1", phaseNow, allow); v != allow {
		t.Fatalf("first call: %+v", v)
	}
	v := c.trip(ctx, "a1", phaseNow, allow)
	if !v.done || v.effect != Deny || v.rule != "agenttrust.breaker" || v.approvalID != "" {
		t.Fatalf("tripping call: %+v; want a deny by the breaker", v)
	}
	if _, blocked, err := c.store.Blocked(ctx, c.tenant, []string{"a1"}); err != nil || !blocked {
		t.Fatalf("agent not suspended: %v %v", blocked, err)
	}
}

func TestVerifyUses(t *testing.T) {
	ctx := context.Background()
	c := phaseClient(t)
	secret, key, err := c.CreateKey(ctx, KeySpec{AgentID: "a1", AllowedIPs: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret, "tool in t")
	if err != nil {
		t.Fatal(err)
	}
	inside, outside := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")
	env := func(tool string, addr netip.Addr) *cond.Env {
		e := requestEnv(c.tenant, &Request{Tool: tool, RemoteAddr: addr}, nil, nil, phaseNow)
		return &e
	}
	for _, tc := range []struct {
		name string
		cred string
		use  credentialUse
		err  error // nil: verifies
	}{
		{"key as check", secret, credentialUse{kinds: anyCredential, addr: inside}, nil},
		{"key outside its allowlist", secret, credentialUse{kinds: anyCredential, addr: outside}, errs.IPNotAllowed},
		{"key where any address will do", secret, credentialUse{kinds: apiKeys, anyAddr: true}, nil},
		{"key where a token is asked for", secret, credentialUse{kinds: tokens, anyAddr: true}, ErrMalformedCredential},
		{"token where a key is asked for", tok, credentialUse{kinds: apiKeys, anyAddr: true}, ErrMalformedCredential},
		{"another agent claimed", tok, credentialUse{kinds: anyCredential, agent: "a2", addr: inside}, errs.AgentMismatch},
		{"caveat holds", tok, credentialUse{kinds: anyCredential, addr: inside, env: env("t", inside), actions: true}, nil},
		{"caveat refuses the action", tok, credentialUse{kinds: anyCredential, addr: inside, env: env("u", inside), actions: true}, ErrCaveat},
		{"action caveats left to the caller", tok, credentialUse{kinds: anyCredential, addr: inside, env: env("", inside)}, nil},
		{"token's allowlist caveat binds", tok, credentialUse{kinds: anyCredential, addr: inside, env: env("t", outside), actions: true}, errs.IPNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cr credential
			_, err := c.verify(ctx, tc.cred, phaseNow, &tc.use, &cr)
			if (tc.err == nil) != (err == nil) || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("verify = %v, want %v", err, tc.err)
			}
			if tc.use.env != nil && err == nil && (tc.use.env.Agent != "a1" || tc.use.env.Hops != nil) {
				t.Fatalf("env not the credential's: agent %q", tc.use.env.Agent)
			}
		})
	}

	// Revocation: read where the use says, or left to Check's phase.
	if err := c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	var cr credential
	if _, err := c.verify(ctx, tok, phaseNow, &credentialUse{kinds: anyCredential, addr: inside}, &cr); err != nil {
		t.Fatalf("revocation read before its phase: %v", err)
	}
	for _, b := range []blockRead{blocksAsCheck, blocksFromStore} {
		if _, err := c.verify(ctx, tok, phaseNow, &credentialUse{kinds: anyCredential, addr: inside, blocks: b}, &cr); !errors.Is(err, ErrRevoked) {
			t.Fatalf("blocks %d: %v; want ErrRevoked", b, err)
		}
	}
}
