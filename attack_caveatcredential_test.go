package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackCaveatErrorQuotesCredential: a CaveatError quoted its caveat
// whole, and a caveat may hold a credential (a token narrowed to one
// downstream key, "attr.api_key = atk_...", or a key pasted into the
// wrong argument): Check's, Exchange's and Attenuate's errors then held
// it, and so did every surface that shows a caveat's error to its
// caller (the middleware's 403, the MCP verifier's 401), which proxies
// log and tools show models, though the audit record of the same token
// redacts it. The error must still be a CaveatError and the check a
// Deny, without the credential.
func TestAttackCaveatErrorQuotesCredential(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "rules:\n  - {id: open, effect: allow}\n")
	other, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "other"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	bound, err := f.c.Exchange(ctx, key, "attr.api_key = "+other)
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func() (agenttrust.Decision, error){
		"check: caveat does not hold": func() (agenttrust.Decision, error) {
			return f.c.Check(ctx, agenttrust.Request{Tool: "x", Credential: bound, Attributes: map[string]any{"api_key": "nope"}})
		},
		"exchange: caveat does not parse": func() (agenttrust.Decision, error) {
			_, err := f.c.Exchange(ctx, key, "attr.api_key == "+other)
			return agenttrust.Decision{}, err
		},
		"attenuate: caveat does not parse": func() (agenttrust.Decision, error) {
			_, err := agenttrust.Attenuate(plain, "resource in "+other+",a b")
			return agenttrust.Decision{}, err
		},
		"delegate: caveat does not parse": func() (agenttrust.Decision, error) {
			_, _, err := f.c.Delegate(ctx, plain, 0, "attr.api_key ~ "+other)
			return agenttrust.Decision{}, err
		},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := run()
			if d.Allowed() || !errors.Is(err, agenttrust.ErrCaveat) && !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("%+v, %v; want a Deny with a caveat error", d, err)
			}
			if strings.Contains(err.Error(), other[4:]) || strings.Contains(err.Error(), other[4:16]) {
				t.Errorf("the error holds the credential: %v", err)
			}
		})
	}
}
