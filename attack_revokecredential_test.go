package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackRevokeCredentialText: an operator who finds a leaked API key,
// token or JWT pastes the credential itself where an id is asked for
// (agenttrust revoke, the console's revoke field, POST /v1/revocations).
// Revoke took it as an id: it blocked an id nothing carries, so the leaked
// credential kept working while the call said it was revoked, and it
// wrote the credential into the hash-chained audit record (which cannot be
// edited out without breaking the chain), the revocation list every admin
// reads, and the console's log line. Suspend and Resume did the same. An
// id holding a credential is refused, naming what to give instead and
// never quoting it, and nothing is recorded or stored.
func TestAttackRevokeCredentialText(t *testing.T) {
	f, secret, key := credFixture(t, openPolicy, agenttrust.WithTokens(agenttrust.TokenConfig{
		SigningKeys: []agenttrust.SecretKey{{ID: "sk1", Secret: attackSigner.Seed()}}}))
	ctx := context.Background()
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := f.c.ExchangeJWT(ctx, secret, "https://mcp.example")
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]func(id string) error{
		"revoke":  func(id string) error { return f.c.Revoke(ctx, id) },
		"suspend": func(id string) error { return f.c.Suspend(ctx, id, "leaked") },
		"resume":  func(id string) error { return f.c.Resume(ctx, id) },
	}
	for _, tc := range []struct {
		name, action, id, secret string
	}{
		{"revoke API key", "revoke", secret, secret},
		{"revoke token", "revoke", tok, tok},
		{"revoke JWT", "revoke", jwt, jwt},
		{"revoke API key in text", "revoke", "leaked " + secret, secret},
		{"suspend API key", "suspend", secret, secret},
		{"resume API key", "resume", secret, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := actions[tc.action](tc.id)
			if !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("%s of a credential: %v; want ErrInvalidRequest", tc.action, err)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("the error quotes the credential: %v", err)
			}
			for _, r := range f.records(t) {
				if strings.Contains(r.Resource, tc.secret) || strings.Contains(r.Reason, tc.secret) {
					t.Fatalf("the audit trail holds the credential: %s %q", r.Tool, r.Resource)
				}
			}
			bs, err := f.st.Blocks(ctx, key.Tenant)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range bs {
				if strings.Contains(b.ID, tc.secret) {
					t.Fatalf("the store's blocks hold the credential (%s)", b.Kind)
				}
			}
		})
	}
	// The credential was never blocked: it still works, and its key id
	// revokes it.
	if d, err := f.c.Check(ctx, agenttrust.Request{Credential: tok, Tool: "docs.read"}); err != nil || !d.Allowed() {
		t.Fatalf("the token after the refused revocations: %v %v", d.Effect, err)
	}
	if err := f.c.Revoke(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := f.c.Check(ctx, agenttrust.Request{Credential: tok, Tool: "docs.read"}); d.Allowed() || !errors.Is(err, agenttrust.ErrRevoked) {
		t.Fatalf("the token after its key was revoked: %v %v", d.Effect, err)
	}
}
