package agenttrust_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackJWTOutlivesRetiredMasterKey: a master key is retired (taken
// off TokenConfig.MasterKeys, as after it leaked), which retires "every
// token it minted". A token of that key exchanged beforehand for a JWT
// (the token endpoint's NarrowJWT) lived on as the JWT, which the
// signing key vouches for and which named nothing of the master key: the
// holder of a token the operator killed kept acting for up to the token
// TTL. Each case wants the credential refused as a bad signature and the
// check denied, once the client runs without the retired key; a JWT made
// from an API key, which no master key minted, still works.
func TestAttackJWTOutlivesRetiredMasterKey(t *testing.T) {
	ctx := context.Background()
	const aud = "https://mcp.example"
	old := agenttrust.SecretKey{ID: "mk_old", Secret: []byte("0123456789abcdef0123456789abcdef")}
	signing := testkit.SigningKey()
	st := memory.New()
	tokens := func(master agenttrust.SecretKey) agenttrust.Option {
		return agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{master}, SigningKeys: []agenttrust.SecretKey{signing},
			TTL: time.Hour, Audiences: []string{aud}})
	}
	before, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, openPolicy)), tokens(old))
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	key, _, err := before.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Roles: []string{store.RoleAgent}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := before.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	delegated, _, err := before.Delegate(ctx, tok, 0, "tool in docs.*")
	if err != nil {
		t.Fatal(err)
	}
	narrow := func(subject string) string {
		t.Helper()
		j, _, err := before.NarrowJWT(ctx, subject, aud, 0)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	fromToken := narrow(tok)

	// The key is retired: the client runs with a new one only.
	after, err := agenttrust.New(st, agenttrust.WithPolicy(mustPolicy(t, openPolicy)), tokens(testkit.MasterKey()), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "after"}))
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()

	cases := []struct {
		name  string
		cred  string
		agent string
		alive bool
	}{
		{name: "the token itself", cred: tok, agent: "bot"},
		{name: "a JWT narrowed from the token", cred: fromToken, agent: "bot"},
		{name: "a JWT narrowed from a delegated token", cred: narrow(delegated), agent: "bot"},
		{name: "a JWT narrowed from that JWT", cred: narrow(fromToken), agent: "bot"},
		{name: "control: a JWT narrowed from the API key", cred: narrow(key), agent: "bot", alive: true},
	}
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := after.Check(ctx, agenttrust.Request{AgentID: tc.agent, Tool: "docs.read", Credential: tc.cred, RemoteAddr: lo})
			_, aerr := after.Authenticate(ctx, tc.cred, lo)
			if tc.alive {
				if !d.Allowed() || err != nil || aerr != nil {
					t.Fatalf("Check = %+v, %v; Authenticate: %v; want allowed", d, err, aerr)
				}
				return
			}
			if d.Allowed() || !errors.Is(err, errs.BadSignature) || !errors.Is(err, agenttrust.ErrUnauthorized) {
				t.Errorf("Check = %+v, %v; want a deny with a bad signature", d, err)
			}
			if !errors.Is(aerr, errs.BadSignature) {
				t.Errorf("Authenticate: %v, want a bad signature", aerr)
			}
		})
	}
}
