package agenttrust_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
)

const openPolicy = `
rules:
  - id: everything
    effect: allow
`

var testMasterKey = testkit.MasterKey()

// countingStore counts key lookups, to prove malformed keys never reach
// the store.
type countingStore struct {
	store.Store
	keyLookups atomic.Int64
}

func (s *countingStore) KeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	s.keyLookups.Add(1)
	return s.Store.KeyByHash(ctx, h)
}

func credFixture(t *testing.T, policy string, opts ...agenttrust.Option) (*fixture, string, agenttrust.Key) {
	t.Helper()
	f := newFixture(t, policy, append([]agenttrust.Option{agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}})}, opts...)...)
	secret, key, err := f.c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "planner", Name: "planner key"})
	if err != nil {
		t.Fatal(err)
	}
	return f, secret, key
}

func TestAPIKeyLifecycle(t *testing.T) {
	f, secret, key := credFixture(t, openPolicy)
	ctx := context.Background()
	if !strings.HasPrefix(secret, "atk_") || len(secret) != 40 || !strings.HasPrefix(key.ID, "key_") {
		t.Fatalf("secret %d chars, id %q", len(secret), key.ID)
	}
	keys, err := f.c.ListKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID {
		t.Fatalf("ListKeys: %+v %v", keys, err)
	}
	if fmt.Sprintf("%+v", keys) == "" || strings.Contains(fmt.Sprintf("%+v", keys), secret) {
		t.Fatal("listed key holds the secret")
	}
	req := agenttrust.Request{Tool: "t", Credential: secret}
	d, err := f.c.Check(ctx, req)
	if err != nil || !d.Allowed() || d.AgentID != "planner" || d.CredentialID != key.ID {
		t.Fatalf("key check: %+v %v", d, err)
	}
	// The request may name the agent, but not another one.
	req.AgentID = "someone-else"
	if d, err := f.c.Check(ctx, req); !errors.Is(err, errs.AgentMismatch) || d.Allowed() {
		t.Fatalf("agent mismatch: %v %v", d.Effect, err)
	}
	if err := f.c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: secret}); !errors.Is(err, agenttrust.ErrRevoked) || d.Allowed() {
		t.Fatalf("revoked key: %v %v", d.Effect, err)
	}
	for _, r := range f.records(t) {
		if strings.Contains(fmt.Sprintf("%+v", r), secret) {
			t.Fatal("secret in an audit record")
		}
	}
}

func TestAPIKeyTyposNeverReachTheStore(t *testing.T) {
	cs := &countingStore{}
	f := newFixture(t, openPolicy)
	cs.Store = f.st
	c, err := agenttrust.New(cs, agenttrust.WithPolicy(mustPolicy(t, openPolicy)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := 4; i < len(secret); i++ {
		for _, ch := range []byte{'0', 'z', '_', '!'} {
			if ch == secret[i] {
				continue
			}
			typo := secret[:i] + string(ch) + secret[i+1:]
			d, err := c.Check(context.Background(), agenttrust.Request{Tool: "t", Credential: typo})
			if !errors.Is(err, agenttrust.ErrMalformedCredential) || d.Allowed() {
				t.Fatalf("typo at %d: %v %v", i, d.Effect, err)
			}
			if strings.IndexByte(alphabet, ch) >= 0 && !errors.Is(err, errs.KeyChecksum) {
				t.Fatalf("in-alphabet typo at %d not caught by the checksum: %v", i, err)
			}
		}
	}
	if n := cs.keyLookups.Load(); n != 0 {
		t.Fatalf("%d store lookups for malformed keys", n)
	}
}

func TestTokenFlow(t *testing.T) {
	f, secret, key := credFixture(t, openPolicy)
	ctx := context.Background()
	tok, err := f.c.Exchange(ctx, secret, "tool in payments.*")
	if err != nil {
		t.Fatal(err)
	}
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil || info.KeyID != key.ID || info.AgentID != "planner" || !info.ExpiresAt.Equal(f.clock.Now().Add(agenttrust.DefaultTokenTTL)) {
		t.Fatalf("inspect: %+v %v", info, err)
	}
	check := func(tok, tool string, amount any) (agenttrust.Decision, error) {
		return f.c.Check(ctx, agenttrust.Request{Tool: tool, Credential: tok, Attributes: map[string]any{"amount": amount}})
	}
	if d, err := check(tok, "payments.charge", 10); err != nil || !d.Allowed() || d.CredentialID != info.ID {
		t.Fatalf("token allows: %+v %v", d, err)
	}
	if d, err := check(tok, "mail.send", 10); !errors.Is(err, agenttrust.ErrCaveat) || d.Allowed() {
		t.Fatalf("caveat: %v %v", d.Effect, err)
	}
	// Narrow offline and hand down.
	worker, err := agenttrust.Attenuate(tok, "tool in payments.charge", "attr.amount <= 50")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := check(worker, "payments.charge", 40); err != nil || !d.Allowed() || len(d.HopIDs) != 1 {
		t.Fatalf("worker $40: %+v %v", d, err)
	}
	if d, err := check(worker, "payments.charge", 60); !errors.Is(err, agenttrust.ErrCaveat) || d.Allowed() {
		t.Fatalf("worker $60: %v %v", d.Effect, err)
	}
	if d, err := check(worker, "payments.refund", 1); d.Allowed() || err == nil {
		t.Fatal("worker refund allowed")
	}
	// The token expires with the clock.
	f.clock.Advance(agenttrust.DefaultTokenTTL)
	if d, err := check(tok, "payments.charge", 1); !errors.Is(err, agenttrust.ErrExpired) || d.Allowed() {
		t.Fatalf("expired: %v %v", d.Effect, err)
	}
}

func TestRevocationCascade(t *testing.T) {
	f, secret, key := credFixture(t, openPolicy)
	ctx := context.Background()
	root, _ := f.c.Exchange(ctx, secret)
	a, hopA, err := f.c.Delegate(ctx, root, time.Minute, "tool in a.*")
	if err != nil {
		t.Fatal(err)
	}
	b, hopB, err := f.c.Delegate(ctx, root, 0, "tool in b.*")
	if err != nil {
		t.Fatal(err)
	}
	a2, hopA2, err := f.c.Delegate(ctx, a, 0, "tool in a.x")
	if err != nil {
		t.Fatal(err)
	}
	if hopA2.Parent != hopA.ID || hopB.Parent != "" || hopA.TokenID != hopB.TokenID || hopA.KeyID != key.ID {
		t.Fatalf("hop tree: %+v %+v %+v", hopA, hopB, hopA2)
	}
	if hs, err := f.c.Delegations(ctx, hopA.TokenID, ""); err != nil || len(hs) != 3 {
		t.Fatalf("delegations: %d %v", len(hs), err)
	}
	allowed := func(tok, tool string) bool {
		d, _ := f.c.Check(ctx, agenttrust.Request{Tool: tool, Credential: tok})
		return d.Allowed()
	}
	if !allowed(a2, "a.x") || !allowed(b, "b.y") || !allowed(a, "a.z") {
		t.Fatal("delegated tokens should work")
	}
	// Revoking hop A kills A and A2; sibling B lives.
	if err := f.c.Revoke(ctx, hopA.ID); err != nil {
		t.Fatal(err)
	}
	if allowed(a, "a.z") || allowed(a2, "a.x") || !allowed(b, "b.y") || !allowed(root, "anything") {
		t.Fatal("hop revocation did not cut exactly its branch")
	}
	// Offline attenuation below a revoked hop is dead too.
	if below, _ := agenttrust.Attenuate(a2, "tool in a.x"); allowed(below, "a.x") {
		t.Fatal("token below a revoked hop allowed")
	}
	// Revoking the key kills everything derived from it, at once.
	if err := f.c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if allowed(root, "x") || allowed(b, "b.y") {
		t.Fatal("tokens outlived their key")
	}
	// Delegating from a dead token fails.
	if _, _, err := f.c.Delegate(ctx, b, 0); !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("delegate from revoked: %v", err)
	}
}

func TestRevocationPruned(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	tok, _ := f.c.Exchange(ctx, secret)
	info, _ := agenttrust.InspectTokenUnverified(tok)
	f.c.Revoke(ctx, info.ID)
	f.c.Revoke(ctx, "some-agent")
	expiring, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "temp", ExpiresAt: f.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.c.Revoke(ctx, key.ID)
	f.clock.Advance(time.Hour + agenttrust.RevocationSkew - time.Minute)
	if n, _ := f.c.PruneRevocations(ctx); n != 0 {
		t.Fatalf("pruned %d within RevocationSkew of the key's expiry", n)
	}
	f.clock.Advance(2 * time.Minute)
	if n, _ := f.c.PruneRevocations(ctx); n != 1 {
		t.Fatalf("pruned %d, want the expiring key's revocation only", n)
	}
	// Token and agent revocations are kept: their reach has no known end.
	if _, blocked, _ := f.st.Blocked(ctx, agenttrust.DefaultTenant, []string{info.ID}); !blocked {
		t.Fatal("a token's revocation was pruned")
	}
	if _, blocked, _ := f.st.Blocked(ctx, agenttrust.DefaultTenant, []string{"some-agent"}); !blocked {
		t.Fatal("an agent's revocation was pruned")
	}
	if d, _ := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: expiring}); d.Allowed() {
		t.Fatal("expired key allowed after pruning")
	}
}

func TestCacheNeverHidesRevocation(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	tok, _ := f.c.Exchange(ctx, secret)
	for range 3 { // warm the verification cache
		if d, _ := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tok}); !d.Allowed() {
			t.Fatal("warm-up denied")
		}
	}
	info, _ := agenttrust.InspectTokenUnverified(tok)
	f.c.Revoke(ctx, info.ID)
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tok}); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("cached token survived revocation: %v %v", d.Effect, err)
	}
}

func TestKeyLimits(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{
		AgentID: "bot", AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"},
		Caveats: []string{"tool in read.*"}, ExpiresAt: f.clock.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(cred, tool, ip string) error {
		req := agenttrust.Request{Tool: tool, Credential: cred}
		if ip != "" {
			req.RemoteAddr = netip.MustParseAddr(ip)
		}
		d, err := f.c.Check(ctx, req)
		if (err == nil) != d.Allowed() {
			t.Fatalf("Allow with error or deny without: %v %v", d.Effect, err)
		}
		return err
	}
	if err := check(secret, "read.file", "10.1.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := check(secret, "read.file", "2001:db8::1"); err != nil {
		t.Fatal(err)
	}
	if err := check(secret, "read.file", "::ffff:10.9.9.9"); err != nil {
		t.Fatalf("IPv4-mapped address: %v", err)
	}
	for _, ip := range []string{"192.168.1.1", "2001:db9::1", ""} {
		if err := check(secret, "read.file", ip); !errors.Is(err, errs.IPNotAllowed) {
			t.Fatalf("ip %q: %v", ip, err)
		}
	}
	if err := check(secret, "write.file", "10.1.2.3"); !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("key caveat: %v", err)
	}
	// Tokens inherit the allowlist and caveats, and die with the key.
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(tok, "read.file", "10.1.2.3"); err != nil {
		t.Fatal(err)
	}
	if err := check(tok, "read.file", "192.168.1.1"); !errors.Is(err, errs.IPNotAllowed) {
		t.Fatalf("token outside allowlist: %v", err)
	}
	if err := check(tok, "write.file", "10.1.2.3"); !errors.Is(err, agenttrust.ErrCaveat) {
		t.Fatalf("token ignores key caveat: %v", err)
	}
	f.clock.Advance(time.Hour)
	if err := check(secret, "read.file", "10.1.2.3"); !errors.Is(err, agenttrust.ErrExpired) {
		t.Fatalf("expired key: %v", err)
	}
	if _, err := f.c.Exchange(ctx, secret); !errors.Is(err, agenttrust.ErrExpired) {
		t.Fatalf("exchange with expired key: %v", err)
	}
}

func TestCreateKeyRejectsBadSpecs(t *testing.T) {
	f := newFixture(t, openPolicy)
	for name, spec := range map[string]agenttrust.KeySpec{
		"no agent":    {},
		"bad ip":      {AgentID: "a", AllowedIPs: []string{"10.0.0.0/40"}},
		"bad caveat":  {AgentID: "a", Caveats: []string{"tool ~ x"}},
		"hop caveat":  {AgentID: "a", Caveats: []string{"hop = h"}},
		"bad role":    {AgentID: "a", Roles: []string{"root"}},
		"past expiry": {AgentID: "a", ExpiresAt: f.clock.Now().Add(-time.Second)},
	} {
		if _, _, err := f.c.CreateKey(context.Background(), spec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestBadCredentials covers the bad inputs of the credential layer: each
// gets its own typed error and a Deny.
func TestBadCredentials(t *testing.T) {
	_, signer, _ := ed25519.GenerateKey(rand.Reader)
	f, secret, key := credFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{Audiences: []string{"https://api.example"}}),
		agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: "sk1", Secret: signer.Seed()}}}))
	ctx := context.Background()
	tok, _ := f.c.Exchange(ctx, secret)
	good, err := f.c.ExchangeJWT(ctx, secret, "https://api.example")
	if err != nil {
		t.Fatal(err)
	}
	var kid string
	var pub ed25519.PublicKey
	for kid, pub = range f.c.PublicKeys() {
	}
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tk := jwt.NewWithClaims(method, claims)
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := f.clock.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "agenttrust", "aud": "https://api.example", "sub": "planner", "exp": now.Add(time.Minute).Unix(),
			"iat": now.Unix(), "jti": "tok_x", "tenant": agenttrust.DefaultTenant, "key": key.ID}
		if mut != nil {
			mut(c)
		}
		return c
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	deep := tok
	for range 8 {
		deep, err = agenttrust.Attenuate(deep)
		if err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]struct {
		cred string
		want error
		ip   string
	}{
		"alg none":          {sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), errs.Algorithm, ""},
		"HS256 with pubkey": {sign(jwt.SigningMethodHS256, []byte(pub), claims(nil)), errs.Algorithm, ""},
		"wrong signer":      {sign(jwt.SigningMethodEdDSA, otherPriv, claims(nil)), errs.BadSignature, ""},
		"missing exp":       {sign(jwt.SigningMethodEdDSA, signer, claims(func(c jwt.MapClaims) { delete(c, "exp") })), agenttrust.ErrMalformedCredential, ""},
		"other tenant":      {sign(jwt.SigningMethodEdDSA, signer, claims(func(c jwt.MapClaims) { c["tenant"] = "evil" })), errs.BadSignature, ""},
		"wrong aud":         {replaceJWTClaims(t, f, secret, "https://evil.example"), errs.Audience, ""},
		"expired by 1s":     {good, agenttrust.ErrExpired, ""},
		"oversized":         {agenttrust.TokenPrefix + strings.Repeat("A", agenttrust.MaxCredentialSize), errs.CredentialTooLarge, ""},
		"depth 9":           {mustAttenuate(t, deep), errs.DelegationDepth, ""},
		"typo key":          {secret[:10] + flip(secret[10]) + secret[11:], errs.KeyChecksum, ""},
		"garbage token":     {agenttrust.TokenPrefix + "!!!", agenttrust.ErrMalformedCredential, ""},
		"unknown kind":      {"Bearer xyz", errs.UnsupportedCredential, ""},
	}
	for name, tt := range tokens {
		t.Run(name, func(t *testing.T) {
			if name == "expired by 1s" {
				f.clock.Advance(agenttrust.DefaultTokenTTL + 5*time.Second + time.Second)
				defer f.clock.Advance(-(agenttrust.DefaultTokenTTL + 6*time.Second))
			}
			d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tt.cred})
			if !errors.Is(err, tt.want) || d.Allowed() {
				t.Fatalf("got %v, %v; want Deny with %v", d.Effect, err, tt.want)
			}
		})
	}
	// Depth 9 is also refused at attenuation time.
	if _, err := agenttrust.Attenuate(mustAttenuate(t, deep)); !errors.Is(err, errs.DelegationDepth) {
		t.Fatalf("attenuating past depth: %v", err)
	}
	// The good JWT works before it expires.
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: good}); err != nil || !d.Allowed() {
		t.Fatalf("good JWT: %v %v", d.Effect, err)
	}
}

func mustAttenuate(t *testing.T, tok string) string {
	t.Helper()
	// Attenuate refuses a ninth hop, so build it by hand: the check must
	// refuse it too.
	out, err := agenttrust.Attenuate(tok)
	if err == nil {
		return out
	}
	return forceHop(t, tok)
}

// forceHop adds a hop caveat without Attenuate's depth check, as an
// attacker's own tool would.
func forceHop(t *testing.T, tok string) string {
	t.Helper()
	return agenttrust.ForceHopForTest(tok)
}

func flip(b byte) string {
	if b == 'a' {
		return "b"
	}
	return "a"
}

func replaceJWTClaims(t *testing.T, f *fixture, secret, aud string) string {
	t.Helper()
	s, err := f.c.ExchangeJWT(context.Background(), secret, aud)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTamperedTokensRejected flips every bit of ten tokens' macaroons and
// applies 10,000 random mutations: every one is rejected with a typed
// error and a Deny.
func TestTamperedTokensRejected(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(1, 2))
	var toks []string
	for i := range 10 {
		tok, err := f.c.Exchange(ctx, secret, fmt.Sprintf("attr.n <= %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			tok, _ = agenttrust.Attenuate(tok, "tool in t")
		}
		toks = append(toks, tok)
	}
	reject := func(cred string) {
		t.Helper()
		d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: cred, Attributes: map[string]any{"n": 0}})
		if d.Allowed() || !errors.Is(err, agenttrust.ErrUnauthorized) {
			t.Fatalf("tampered token accepted: %v %v", d.Effect, err)
		}
	}
	flips := 0
	for _, tok := range toks {
		raw, _ := base64.RawURLEncoding.DecodeString(tok[4:])
		for i := range len(raw) * 8 {
			m := append([]byte(nil), raw...)
			m[i/8] ^= 1 << (i % 8)
			reject(agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(m))
			flips++
		}
	}
	for range 10_000 {
		raw, _ := base64.RawURLEncoding.DecodeString(toks[rng.IntN(len(toks))][4:])
		m := append([]byte(nil), raw...)
		switch rng.IntN(4) {
		case 0: // overwrite some bytes
			for range 1 + rng.IntN(4) {
				i := rng.IntN(len(m))
				m[i] = byte(rng.IntN(256))
				if m[i] == raw[i] {
					m[i] ^= 0x80
				}
			}
		case 1: // truncate
			m = m[:rng.IntN(len(m))]
		case 2: // insert
			i := rng.IntN(len(m))
			m = append(m[:i:i], append([]byte{byte(rng.IntN(256))}, raw[i:]...)...)
		case 3: // delete a byte
			i := rng.IntN(len(m))
			m = append(m[:i:i], raw[i+1:]...)
		}
		reject(agenttrust.TokenPrefix + base64.RawURLEncoding.EncodeToString(m))
	}
	t.Logf("%d bit flips and 10000 mutations rejected", flips)
	// The untouched tokens still work, so the rejections were not vacuous.
	for _, tok := range toks {
		if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tok, Attributes: map[string]any{"n": 0}}); !d.Allowed() {
			t.Fatalf("valid token denied: %v", err)
		}
	}
}

// TestDelegationOnlyNarrows: for random chains of up to 8 hops with random
// caveats and random requests, a token never allows a request its parent
// denies.
func TestDelegationOnlyNarrows(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(3, 4))
	pool := []string{
		"tool in pay.*", "tool in pay.charge", "tool in mail.*,pay.refund", "resource in acct-*", "resource in acct-1",
		"attr.amount <= 50", "attr.amount < 10", "attr.amount >= 5", "attr.cur = USD", "attr.cur in USD,EUR",
		"session = s1", "ip in 10.0.0.0/8", "ip in 10.1.0.0/16", "agent = planner", "on_behalf_of = alice",
	}
	tools := []string{"pay.charge", "pay.refund", "mail.send", "x"}
	resources := []string{"acct-1", "acct-2", "other", ""}
	ips := []string{"10.1.2.3", "10.2.0.1", "192.168.0.1"}
	allowed := func(tok string, req agenttrust.Request) bool {
		req.Credential = tok
		d, err := f.c.Check(ctx, req)
		if d.Allowed() && err != nil {
			t.Fatal("Allow with error")
		}
		return d.Allowed()
	}
	cases, widenings, childAllowed := 0, 0, 0
	for cases < 10_000 {
		root, err := f.c.Exchange(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		chain := []string{root}
		for range 1 + rng.IntN(agenttrust.MaxDelegationDepth) {
			var cavs []string
			for range rng.IntN(3) {
				cavs = append(cavs, pool[rng.IntN(len(pool))])
			}
			next, err := agenttrust.Attenuate(chain[len(chain)-1], cavs...)
			if err != nil {
				t.Fatal(err)
			}
			chain = append(chain, next)
		}
		for range 4 {
			req := agenttrust.Request{
				Tool: tools[rng.IntN(len(tools))], Resource: resources[rng.IntN(len(resources))],
				SessionID: []string{"s1", "s2"}[rng.IntN(2)], OnBehalfOf: []string{"alice", "bob"}[rng.IntN(2)],
				RemoteAddr: netip.MustParseAddr(ips[rng.IntN(len(ips))]),
				Attributes: map[string]any{"amount": rng.IntN(80), "cur": []string{"USD", "EUR", "GBP"}[rng.IntN(3)]},
			}
			parentAllows := allowed(chain[0], req)
			for _, tok := range chain[1:] {
				childAllows := allowed(tok, req)
				if childAllows && !parentAllows {
					widenings++
				}
				if childAllows {
					childAllowed++
				}
				parentAllows = childAllows
				cases++
			}
		}
	}
	if widenings != 0 {
		t.Fatalf("%d of %d delegations widened their parent", widenings, cases)
	}
	// The property is only tested where children allow something.
	if childAllowed < cases/20 {
		t.Fatalf("only %d of %d delegated checks allowed: the test says little", childAllowed, cases)
	}
	t.Logf("%d parent/child comparisons (%d child allows), none widened", cases, childAllowed)
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	secret, key, _ := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "ops", Roles: []string{store.RoleAdmin}, AllowedIPs: []string{"127.0.0.0/8"}})
	// A caveat on who or when leaves the roles whole; one on actions
	// narrows the token to the agent role (TestAttackNarrowing).
	tok, _ := f.c.Exchange(ctx, secret, "expires < 2030-01-01T00:00:00Z", "agent = ops")
	lo := netip.MustParseAddr("127.0.0.1")
	for _, cred := range []string{secret, tok} {
		p, err := f.c.Authenticate(ctx, cred, lo)
		if err != nil || p.AgentID != "ops" || p.KeyID != key.ID || !slices.Contains(p.Roles, store.RoleAdmin) || p.Tenant != agenttrust.DefaultTenant {
			t.Fatalf("Authenticate: %+v %v", p, err)
		}
		if _, err := f.c.Authenticate(ctx, cred, netip.MustParseAddr("10.0.0.1")); !errors.Is(err, errs.IPNotAllowed) {
			t.Fatalf("outside allowlist: %v", err)
		}
	}
	f.c.Suspend(ctx, "ops", "")
	if _, err := f.c.Authenticate(ctx, secret, lo); !errors.Is(err, agenttrust.ErrSuspended) {
		t.Fatalf("suspended: %v", err)
	}
}

func TestAuthenticateAfterClose(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	f.c.Close()
	if _, err := f.c.Authenticate(context.Background(), secret, netip.Addr{}); !errors.Is(err, agenttrust.ErrClosed) {
		t.Fatalf("Authenticate after Close: %v", err)
	}
}

// TestPolicySeesHops: a policy condition on a delegation hop applies to
// tokens that passed through it, and only to them.
func TestPolicySeesHops(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	tok, _ := f.c.Exchange(ctx, secret)
	child, hop, err := f.c.Delegate(ctx, tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetPolicy(mustPolicy(t, "rules:\n  - id: all\n    effect: allow\n  - id: no-branch\n    effect: deny\n    when: [\"hop = "+hop.ID+"\"]\n")); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: tok}); !d.Allowed() {
		t.Fatalf("parent denied: %s", d.Reason)
	}
	if d, _ := f.c.Check(ctx, agenttrust.Request{Tool: "t", Credential: child}); d.Allowed() || d.Rule != "no-branch" {
		t.Fatalf("child through the hop: %v by %q", d.Effect, d.Rule)
	}
}

// A Principal is the caller's to change: its slices are copies.
func TestAuthenticatePrincipalIsACopy(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	secret, _, _ := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}})
	tok, _ := f.c.Exchange(ctx, secret)
	child, _, err := f.c.Delegate(ctx, tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{secret, tok, child} {
		p, err := f.c.Authenticate(ctx, cred, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		p.Roles[0] = store.RoleAdmin
		if len(p.HopIDs) > 0 {
			p.HopIDs[0] = "forged"
		}
		again, err := f.c.Authenticate(ctx, cred, netip.Addr{})
		if err != nil || slices.Contains(again.Roles, store.RoleAdmin) || len(again.HopIDs) > 0 && again.HopIDs[0] == "forged" {
			t.Fatalf("a changed Principal changed the next one: %+v %v", again, err)
		}
	}
}

// The keys PublicKeys hands out are copies: scribbling on them does not
// change what the client verifies JWTs with.
func TestPublicKeysAreCopies(t *testing.T) {
	f, secret, _ := credFixture(t, openPolicy)
	ctx := context.Background()
	jwt, err := f.c.ExchangeJWT(ctx, secret, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range f.c.PublicKeys() {
		clear(pub)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Tool: "docs.read", Credential: jwt}); err != nil || !d.Allowed() {
		t.Fatalf("JWT after the returned keys were zeroed: %v, %v", d.Effect, err)
	}
}

// TestSecretKeyRedacted: a key's secret never prints, logs or marshals,
// alone or inside the TokenConfig that holds it.
func TestSecretKeyRedacted(t *testing.T) {
	k := agenttrust.SecretKey{ID: "mk1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	cfg := agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{k}, SigningKeys: []agenttrust.SecretKey{k}}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", k, "cfg", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k, "cfg", cfg)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), logged.String(), string(js)}
	for _, s := range out {
		if !strings.Contains(s, "mk1") {
			t.Errorf("id missing from %s", s)
		}
		for _, leak := range []string{string(k.Secret), fmt.Sprint(k.Secret), fmt.Sprintf("%x", k.Secret)} {
			if strings.Contains(s, leak) {
				t.Errorf("secret in %s", s)
			}
		}
	}
}

// TestNoCacheDecisionsKeepTheirCredential checks tokens one after another
// with the verification cache off, where each is decoded into the same
// per-check memory, and asserts that a decision already returned, and
// its audit record, keep their own credential id and hops: nothing of one
// token's decoding may be reused for the next.
func TestNoCacheDecisionsKeepTheirCredential(t *testing.T) {
	f := newFixture(t, paymentsPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{NoCache: true}))
	ctx := context.Background()
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		d    agenttrust.Decision
		cred string
		hops []string
	}
	var got []seen
	for i := range 8 {
		tok := root
		for range i % 3 { // no hop, one, two
			if tok, err = agenttrust.Attenuate(tok); err != nil {
				t.Fatal(err)
			}
		}
		req := charge(10)
		req.AgentID, req.Credential = "", tok
		d, err := f.c.Check(ctx, req)
		if err != nil || !d.Allowed() {
			t.Fatalf("check %d: %v %v", i, d.Effect, err)
		}
		if len(d.HopIDs) != i%3 {
			t.Fatalf("check %d: %d hops, want %d", i, len(d.HopIDs), i%3)
		}
		got = append(got, seen{d, strings.Clone(d.CredentialID), slices.Clone(d.HopIDs)})
	}
	recs := f.records(t)
	byID := map[agenttrust.DecisionID]agenttrust.AuditRecord{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	for i, s := range got {
		if s.d.CredentialID != s.cred || !slices.Equal(s.d.HopIDs, s.hops) {
			t.Errorf("decision %d changed after later checks: %q %v, was %q %v", i, s.d.CredentialID, s.d.HopIDs, s.cred, s.hops)
		}
		r := byID[s.d.ID]
		if r.CredentialID != s.cred || !slices.Equal(r.HopIDs, s.hops) {
			t.Errorf("record %d holds %q %v, its decision %q %v", i, r.CredentialID, r.HopIDs, s.cred, s.hops)
		}
	}
}
