package agenttrust_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// heapAfterGC is the live heap once garbage is collected.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// floodBound is how much the live heap may grow while a client is shown
// a flood of distinct credentials or names.
const floodBound = 64 << 20

// floodCount is how many distinct credentials a flood presents.
func floodCount(t *testing.T, n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// flood presents n distinct inputs to check and fails if the live heap
// grows by more than bound. Check must deny each one with want, or allow
// it when want is nil.
func flood(t *testing.T, f *fixture, n int, bound int64, next func(i int) agenttrust.Request, want error) {
	floodFunc(t, f, n, bound, next, func(d agenttrust.Decision, err error) bool {
		if want == nil {
			return err == nil && d.Allowed()
		}
		return errors.Is(err, want) && !d.Allowed()
	})
}

func floodFunc(t *testing.T, f *fixture, n int, bound int64, next func(i int) agenttrust.Request, ok func(agenttrust.Decision, error) bool) {
	t.Helper()
	ctx := context.Background()
	sync := func() {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := f.c.SyncAudit(sctx); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	before := heapAfterGC()
	peak := before
	for i := range n {
		req := next(i)
		d, err := f.c.Check(ctx, req)
		if !ok(d, err) {
			t.Fatalf("input %d: Check = %v (%s), %v: not the expected outcome", i, d.Effect, d.Reason, err)
		}
		if i%8192 == 8191 {
			sync() // the audit queue is bounded on its own; keep it out of the figure
			peak = max(peak, heapAfterGC())
		}
	}
	sync()
	peak = max(peak, heapAfterGC())
	t.Logf("%d distinct inputs: live heap %d MiB, at most %d MiB", n, before>>20, peak>>20)
	if peak-before > bound {
		t.Fatalf("live heap grew by %d MiB over %d distinct inputs; bound %d MiB", (peak-before)>>20, n, bound>>20)
	}
}

func TestAttackCacheFlood(t *testing.T) {
	ctx := context.Background()
	t.Run("distinct-tokens", func(t *testing.T) {
		f, secret, _ := credFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
		base, err := f.c.Exchange(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		// About 2 KB each, made offline from one; a list of globs makes
		// each cost more parsed than as text.
		wide := "tool in t," + strings.TrimSuffix(strings.Repeat("calendar.read.all.of.them,", 12), ",") +
			"\x00resource in *," + strings.Repeat("r", 1200)
		wideCaveats := strings.Split(wide, "\x00")
		n := floodCount(t, 100_000)
		flood(t, f, n, floodBound, func(int) agenttrust.Request {
			tok, err := agenttrust.Attenuate(base, wideCaveats...)
			if err != nil {
				t.Fatal(err)
			}
			return agenttrust.Request{Tool: "t", Resource: "x", Credential: tok}
		}, nil)
		if entries, bytes := agenttrust.TokenCacheUse(f.c); entries > 1<<14 || bytes > 16<<20 {
			t.Fatalf("token cache holds %d entries, %d bytes: over its bounds", entries, bytes)
		}
	})
	t.Run("distinct-tokens-small-cache", func(t *testing.T) {
		f, secret, _ := credFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}), agenttrust.WithTokens(agenttrust.TokenConfig{CacheEntries: 100, CacheBytes: 64 << 10}))
		base, err := f.c.Exchange(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2000 {
			tok, err := agenttrust.Attenuate(base, fmt.Sprintf("resource in r%d,*", i))
			if err != nil {
				t.Fatal(err)
			}
			if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Resource: "x", Credential: tok}); err != nil || !d.Allowed() {
				t.Fatalf("token %d: %v %v", i, d.Effect, err)
			}
			if entries, bytes := agenttrust.TokenCacheUse(f.c); entries > 100 || bytes > 64<<10 {
				t.Fatalf("after %d tokens the cache holds %d entries, %d bytes: over 100, 64 KiB", i+1, entries, bytes)
			}
		}
	})
	t.Run("distinct-jwts", func(t *testing.T) {
		f, _, _ := credFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
		// A key whose caveats make each JWT about 4 KB.
		var cavs []string
		for i := range 12 {
			cavs = append(cavs, fmt.Sprintf("resource in %s*", strings.Repeat(fmt.Sprintf("r%d/", i), 80)))
		}
		cavs = append(cavs, "resource in *")
		secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "jwt-agent", Caveats: cavs[len(cavs)-1:]})
		if err != nil {
			t.Fatal(err)
		}
		_ = cavs
		pad := strings.Repeat("x", 3000)
		n := floodCount(t, 20_000)
		flood(t, f, n, floodBound/2, func(int) agenttrust.Request {
			jwt, err := f.c.ExchangeJWT(ctx, secret, "agenttrust", "resource in "+pad+",*")
			if err != nil {
				t.Fatal(err)
			}
			return agenttrust.Request{Tool: "t", Resource: "x", Credential: jwt}
		}, nil)
	})
	t.Run("distinct-api-key-lookalikes", func(t *testing.T) {
		f, _, _ := credFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
		n := floodCount(t, 100_000)
		flood(t, f, n, floodBound/4, func(int) agenttrust.Request {
			k, err := apikey.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return agenttrust.Request{Tool: "t", Credential: k}
		}, errs.UnknownKey)
	})
	t.Run("distinct-forged-tokens", func(t *testing.T) {
		f, _, _ := credFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
		// Same master key id, another secret: every token reaches the HMAC.
		other := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: testMasterKey.ID, Secret: []byte("another-secret-another-secret-xx")}}}))
		secret, _, err := other.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner"})
		if err != nil {
			t.Fatal(err)
		}
		base, err := other.c.Exchange(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		pad := strings.Repeat("y", 2000)
		n := floodCount(t, 20_000)
		flood(t, f, n, floodBound/4, func(int) agenttrust.Request {
			tok, err := agenttrust.Attenuate(base, "resource in "+pad+",*")
			if err != nil {
				t.Fatal(err)
			}
			return agenttrust.Request{Tool: "t", Credential: tok}
		}, errs.BadSignature)
	})
	t.Run("distinct-tools-rate-limited", func(t *testing.T) {
		f := newFixture(t, openPolicy+"limits:\n  - id: slow\n    tools: [\"*\"]\n    rate: 1/m\n    burst: 2\n",
			agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
		name := strings.Repeat("t", 200)
		n := floodCount(t, 100_000)
		// Allowed while each new tool has a bucket of its own, then limited
		// together: never an error, never unbounded.
		floodFunc(t, f, n, 16<<20, func(i int) agenttrust.Request {
			return agenttrust.Request{AgentID: "flooder", Tool: fmt.Sprintf("%s.%d", name, i)}
		}, func(d agenttrust.Decision, err error) bool {
			return err == nil && (d.Allowed() || d.Rule == "slow")
		})
	})
	t.Run("distinct-agents-breaker", func(t *testing.T) {
		f := newFixture(t, openPolicy, agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}),
			agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxCalls: 1000, MaxDenials: 1000}))
		name := strings.Repeat("a", 200)
		n := floodCount(t, 100_000)
		// The breaker keeps at most maxBreakers (16,384) agents, about
		// 13 MiB with these 200-byte names; the audit queue's slices keep
		// what capacity a busy machine made them grow to (16 MiB was
		// crossed once in CI). An unbounded table would hold all 100,000,
		// near 80 MiB.
		flood(t, f, n, 24<<20, func(i int) agenttrust.Request {
			return agenttrust.Request{AgentID: fmt.Sprintf("%s-%d", name, i), Tool: "t"}
		}, nil)
	})
}

// A flood of new (agent, tool) pairs never resets a bucket in use: the
// newcomers share an overflow bucket, and the agent that spent its own
// stays limited.
func TestAttackRateLimitFlood(t *testing.T) {
	f := newFixture(t, openPolicy+"limits:\n  - id: slow\n    tools: [\"*\"]\n    rate: 1/h\n    burst: 1\n",
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{agenttrust.NewMemorySink(100)}}))
	ctx := context.Background()
	spend := agenttrust.Request{AgentID: "victim-of-itself", Tool: "payments.charge"}
	if d, err := f.c.Check(ctx, spend); err != nil || !d.Allowed() {
		t.Fatalf("first call: %v %v", d.Effect, err)
	}
	cases := []struct {
		name  string
		flood int
	}{
		{"after-small-flood", 1000},
		{"after-flood-past-table", 1 << 15},
	}
	n := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for ; n < tc.flood; n++ {
				f.c.Check(ctx, agenttrust.Request{AgentID: "victim-of-itself", Tool: fmt.Sprintf("flood.%d", n)})
			}
			d, err := f.c.Check(ctx, spend)
			if err != nil || d.Allowed() || d.Rule != "slow" {
				t.Fatalf("spent bucket after %d new tools: %v %q %v; want a rate-limit deny", tc.flood, d.Effect, d.Rule, err)
			}
		})
	}
	f.clock.Advance(time.Second) // a sweep may run; nothing is full again
	d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "newcomer", Tool: "fresh.tool"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a newcomer while the table is full: %v (%s)", d.Effect, d.Rule)
}

func TestAttackOversizedCredential(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: "sk1", Secret: attackSigner.Seed()}}}))
	ctx := context.Background()
	base, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	// Valid signatures, too large: an attacker's own tool can make them.
	grow := func(size int) string {
		pad := size - len(base)
		tok := agenttrust.AttenuateUncheckedForTest(base, "resource in "+strings.Repeat("z", pad*3/4)+",*")
		for len(tok) < size {
			tok = agenttrust.AttenuateUncheckedForTest(tok, "tool in t,u")
		}
		return tok
	}
	now := f.clock.Now().Unix()
	bigJWT := signJWT(`{"alg":"EdDSA","kid":"sk1","typ":"JWT"}`, fmt.Sprintf(`{"iss":"agenttrust","sub":"planner","aud":"agenttrust","exp":%d,"iat":%d,"jti":"tok_big","tenant":"default","key":"key_x","caveats":["resource in %s,*"]}`,
		now+60, now, strings.Repeat("q", agenttrust.MaxCredentialSize)))
	cases := []struct {
		name, cred string
	}{
		{"token-one-over", grow(agenttrust.MaxCredentialSize + 1)},
		{"token-8k", grow(8 << 10)},
		{"token-16k", grow(16<<10 - 64)},
		{"jwt-over", bigJWT},
		{"api-key-over", agenttrust.KeyPrefix + strings.Repeat("a", agenttrust.MaxCredentialSize)},
		{"garbage-over", strings.Repeat("A", agenttrust.MaxCredentialSize+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.cred) <= agenttrust.MaxCredentialSize {
				t.Fatalf("the credential is %d bytes, not over the cap", len(tc.cred))
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Resource: "r", Credential: tc.cred})
			if !errors.Is(err, errs.CredentialTooLarge) || d.Allowed() {
				t.Fatalf("Check = %v, %v; want a deny with errs.CredentialTooLarge", d.Effect, err)
			}
			if _, err := f.c.Authenticate(ctx, tc.cred, netip.Addr{}); !errors.Is(err, errs.CredentialTooLarge) {
				t.Fatalf("Authenticate = %v; want errs.CredentialTooLarge", err)
			}
		})
	}
	// Nothing agenttrust makes is refused for its size: it refuses to make
	// it. Each caveat is within the caveat limit; together they are not.
	z := "resource in " + strings.Repeat("z", 3000) + ",*"
	bigCaveats := []string{z, z, z}
	makers := []struct {
		name string
		make func() error
	}{
		{"attenuate-past-cap", func() error {
			_, err := agenttrust.Attenuate(base, bigCaveats...)
			return err
		}},
		{"attenuate-many-past-cap", func() error {
			tok := base
			for {
				next, err := agenttrust.Attenuate(tok, "resource in "+strings.Repeat("z", 1000)+",*")
				if err != nil {
					return err
				}
				if len(next) > agenttrust.MaxCredentialSize {
					return fmt.Errorf("Attenuate made a %d-byte token", len(next))
				}
				tok = next
			}
		}},
		{"delegate-past-cap", func() error {
			_, _, err := f.c.Delegate(ctx, base, 0, bigCaveats...)
			return err
		}},
		{"exchange-past-cap", func() error {
			_, err := f.c.Exchange(ctx, secret, bigCaveats...)
			return err
		}},
		{"exchange-jwt-past-cap", func() error {
			_, err := f.c.ExchangeJWT(ctx, secret, "agenttrust", bigCaveats...)
			return err
		}},
	}
	for _, tc := range makers {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			if !errors.Is(err, errs.CredentialTooLarge) {
				t.Fatalf("err = %v; want errs.CredentialTooLarge", err)
			}
		})
	}
}

// The deepest delegation chain with realistic caveats fits the cap with
// room to spare.
func TestCredentialSizeFitsDeepChain(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithTenant(strings.Repeat("t", 128)))
	ctx := context.Background()
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{
		AgentID:    strings.Repeat("a", 256),
		AllowedIPs: []string{"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"},
		Caveats:    []string{"tool in payments.charge,payments.refund,calendar.*,mail.read", "resource in mailbox:alice/*,mailbox:bob/*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for i := range agenttrust.MaxDelegationDepth {
		tok, err = agenttrust.Attenuate(tok, "tool in payments.charge,calendar.read",
			"resource in mailbox:alice/inbox/*,mailbox:alice/sent/*", "attr.amount <= 500",
			"expires < 2026-11-22T05:04:00Z", fmt.Sprintf("session = sess-%d-0123456789abcdef", i))
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("deepest realistic token: %d bytes, cap %d", len(tok), agenttrust.MaxCredentialSize)
	if len(tok) > agenttrust.MaxCredentialSize*2/3 {
		t.Fatalf("a realistic %d-hop token is %d bytes: too close to the cap %d", agenttrust.MaxDelegationDepth, len(tok), agenttrust.MaxCredentialSize)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "payments.charge", Resource: "mailbox:alice/inbox/1", SessionID: "s",
		Attributes: map[string]any{"amount": 5}, Credential: tok}); errors.Is(err, errs.CredentialTooLarge) {
		t.Fatalf("Check = %v, %v", d.Effect, err)
	}
}
