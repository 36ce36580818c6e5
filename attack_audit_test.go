package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
)

// TestAttackAuditAttribution: a decision records who it was about even
// when the credential is refused after its signature verified, and who
// vouched for a request without one; an unverified credential is named
// by no id.
func TestAttackAuditAttribution(t *testing.T) {
	f := newFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}))
	ctx := context.Background()
	secret, key, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", AllowedIPs: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	narrowKey, nkey, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Caveats: []string{"tool = calendar.read"}})
	if err != nil {
		t.Fatal(err)
	}
	id := func(tok string) string {
		info, err := agenttrust.InspectTokenUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	narrow, err := f.c.Exchange(ctx, secret, "tool = calendar.read")
	if err != nil {
		t.Fatal(err)
	}
	child, hop, err := f.c.Delegate(ctx, narrow, time.Minute, "resource = cal:1")
	if err != nil {
		t.Fatal(err)
	}
	jwtTok, err := f.c.ExchangeJWT(ctx, secret, "agenttrust", "tool = calendar.read")
	if err != nil {
		t.Fatal(err)
	}
	shortLived, err := f.c.Exchange(ctx, secret, "expires < 2026-11-22T05:00:01Z")
	if err != nil {
		t.Fatal(err)
	}
	in := netip.MustParseAddr("10.1.1.1")
	out := netip.MustParseAddr("192.0.2.1")

	for _, tc := range []struct {
		name    string
		req     agenttrust.Request
		advance time.Duration
		err     error
		cred    string
		hops    []string
	}{
		{"token caveat refuses the tool", agenttrust.Request{Tool: "payments.charge", Credential: narrow, RemoteAddr: in}, 0, agenttrust.ErrCaveat, id(narrow), nil},
		{"delegated token caveat refuses the resource", agenttrust.Request{Tool: "calendar.read", Resource: "cal:2", Credential: child, RemoteAddr: in}, 0, agenttrust.ErrCaveat, id(child), []string{hop.ID}},
		{"JWT caveat refuses the tool", agenttrust.Request{Tool: "payments.charge", Credential: jwtTok, RemoteAddr: in}, 0, agenttrust.ErrCaveat, id2(t, f, jwtTok), nil},
		{"key caveat refuses the tool", agenttrust.Request{Tool: "payments.charge", Credential: narrowKey}, 0, agenttrust.ErrCaveat, nkey.ID, nil},
		{"token refused by its key's address allowlist", agenttrust.Request{Tool: "calendar.read", Credential: narrow, RemoteAddr: out}, 0, errs.IPNotAllowed, id(narrow), nil},
		{"key refused by its address allowlist", agenttrust.Request{Tool: "calendar.read", Credential: secret, RemoteAddr: out}, 0, errs.IPNotAllowed, key.ID, nil},
		{"token for another agent", agenttrust.Request{AgentID: "admin-bot", Tool: "calendar.read", Credential: narrow, RemoteAddr: in}, 0, errs.AgentMismatch, id(narrow), nil},
		{"token past an expiry caveat", agenttrust.Request{Tool: "calendar.read", Credential: shortLived, RemoteAddr: in}, 2 * time.Second, agenttrust.ErrExpired, id(shortLived), nil},
		{"control forged token names nothing", agenttrust.Request{Tool: "calendar.read", Credential: narrow[:len(narrow)-4] + "AAAA", RemoteAddr: in}, 0, errs.BadSignature, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Advance(tc.advance)
			d, err := f.c.Check(ctx, tc.req)
			if d.Allowed() || d.Effect != agenttrust.Deny || !errors.Is(err, tc.err) {
				t.Fatalf("decision %v, err %v; want a deny with %v", d.Effect, err, tc.err)
			}
			if d.CredentialID != tc.cred || !slices.Equal(d.HopIDs, tc.hops) {
				t.Fatalf("decision names credential %q hops %v, want %q %v", d.CredentialID, d.HopIDs, tc.cred, tc.hops)
			}
			var rec *agenttrust.AuditRecord
			for _, r := range f.records(t) {
				if r.ID == d.ID {
					rec = &r
				}
			}
			if rec == nil || rec.Effect != agenttrust.Deny || rec.CredentialID != tc.cred || !slices.Equal(rec.HopIDs, tc.hops) {
				t.Fatalf("record %+v, want credential %q hops %v", rec, tc.cred, tc.hops)
			}
		})
	}

	t.Run("vouched check names the admin key", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t", VouchedBy: "key_admin1"})
		if err != nil || d.VouchedBy != "key_admin1" {
			t.Fatalf("%+v %v", d, err)
		}
		// The next check vouches for nobody: a reused queue slot must not
		// carry the voucher over.
		next, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[agenttrust.DecisionID]string{}
		for _, r := range f.records(t) {
			got[r.ID] = r.VouchedBy
		}
		if v, ok := got[d.ID]; !ok || v != "key_admin1" {
			t.Fatalf("record of the vouched check has vouched_by %q (found %v)", v, ok)
		}
		if v, ok := got[next.ID]; !ok || v != "" {
			t.Fatalf("record of the next check has vouched_by %q (found %v)", v, ok)
		}
	})
	t.Run("request id is recorded", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t", RequestID: "abc-123"})
		if err != nil {
			t.Fatal(err)
		}
		// The next check names no request: a reused queue slot must not
		// carry the id over.
		next, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t"})
		if err != nil {
			t.Fatal(err)
		}
		recs := f.records(t)
		got := map[agenttrust.DecisionID]string{}
		for _, r := range recs {
			got[r.ID] = r.RequestID
		}
		if v, ok := got[d.ID]; !ok || v != "abc-123" {
			t.Fatalf("record of the check has request_id %q (found %v)", v, ok)
		}
		if v, ok := got[next.ID]; !ok || v != "" {
			t.Fatalf("record of the next check has request_id %q (found %v)", v, ok)
		}
		if err := f.c.VerifyChain(recs); err != nil {
			t.Fatalf("chain with a request id: %v", err)
		}
	})
	t.Run("malformed request id", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t", RequestID: "a\x00b\nc"})
		if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Fatalf("%+v %v", d, err)
		}
		for _, r := range f.records(t) {
			if r.ID == d.ID && r.RequestID != "a\ufffdb\nc" {
				t.Fatalf("record of the refused check has request_id %q, want it storable", r.RequestID)
			}
		}
	})
	t.Run("vouched by a malformed id", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t", VouchedBy: "key_\n"})
		if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Fatalf("%+v %v", d, err)
		}
	})
}

// id2 returns a JWT's id as Authenticate reports it.
func id2(t *testing.T, f *fixture, tok string) string {
	t.Helper()
	p, err := f.c.Authenticate(context.Background(), tok, netip.MustParseAddr("10.1.1.1"))
	if err != nil {
		t.Fatal(err)
	}
	return p.CredentialID
}
