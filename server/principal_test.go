package server

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestPermits: a narrowed caller's caveats bound the actions it may ask
// about, as Check holds them to its own.
func TestPermits(t *testing.T) {
	p := &agenttrust.Principal{Tenant: "acme", AgentID: "ops", Caveats: []string{"tool in calendar.read", "session = s-narrow"}}
	if err := permits(p, agenttrust.Request{Tool: "calendar.read", SessionID: "s-narrow"}); err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]agenttrust.Request{
		"other tool":    {Tool: "calendar.write", SessionID: "s-narrow"},
		"other session": {Tool: "calendar.read", SessionID: "s-wide"},
		"no session":    {Tool: "calendar.read"},
		"everything else": {Tool: "payments.charge", SessionID: "s-narrow", Resource: "cust:1", OnBehalfOf: "ceo",
			Attributes: map[string]any{"amount": 500}},
	} {
		if err := permits(p, req); !errors.Is(err, agenttrust.ErrCaveat) {
			t.Errorf("%s: %v, want ErrCaveat", name, err)
		}
	}
	if err := permits(p, agenttrust.Request{Tool: "calendar.read\x00", SessionID: "s-narrow"}); !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Errorf("control character: %v", err)
	}
	// A caveat on who or when is not the Principal's to list: one that
	// shows up anyway is not taken as satisfied.
	forged := *p
	forged.Caveats = []string{"expires < 2030-01-01T00:00:00Z"}
	if err := permits(&forged, agenttrust.Request{Tool: "calendar.read"}); !errors.Is(err, agenttrust.ErrCaveat) {
		t.Errorf("a caveat permits cannot evaluate: %v", err)
	}
	if err := permits(&agenttrust.Principal{}, agenttrust.Request{Tool: "anything"}); err != nil {
		t.Errorf("no caveats: %v", err)
	}
}

// TestCredentialTenant: the tenant a credential claims, read before it
// is verified, for every form; what is not a credential says why.
func TestCredentialTenant(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	c, err := agenttrust.New(st, agenttrust.WithTenant("acme"),
		agenttrust.WithTokens(agenttrust.TokenConfig{SigningKeys: []agenttrust.SecretKey{agenttrust.SecretKey{ID: "sk1", Secret: bytes.Repeat([]byte{1}, 32)}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := c.ExchangeJWT(ctx, secret, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range []string{secret, tok, jwt} {
		if tn, err := credentialTenant(ctx, st, cred); err != nil || tn != "acme" {
			t.Errorf("%.8s: %q %v", cred, tn, err)
		}
	}
	// The last character changed to another, so the checksum breaks
	// whatever the key ended in.
	last := byte('x')
	if secret[len(secret)-1] == last {
		last = 'y'
	}
	for cred, want := range map[string]error{
		secret[:len(secret)-1] + string(last): agenttrust.ErrMalformedCredential,
		"atk_" + secret[4:20]:                 agenttrust.ErrMalformedCredential,
		"att_!!":                              agenttrust.ErrMalformedCredential,
		"eyJ.x.y":                             agenttrust.ErrMalformedCredential,
		"Basic dXNlcjpwYXNz":                  agenttrust.ErrUnauthorized,
		string(make([]byte, 7<<10)):           agenttrust.ErrMalformedCredential,
	} {
		if _, err := credentialTenant(ctx, st, cred); !errors.Is(err, want) {
			t.Errorf("%.12q (%d bytes): %v, want %v", cred, len(cred), err, want)
		}
	}
}
