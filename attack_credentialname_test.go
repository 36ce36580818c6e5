package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackCredentialAsName: a credential given as a name (an API key
// passed as the agent id, WithAgent(ctx, key, ...) for WithCredential, a
// token as the session or the tool) was taken as that name: valid
// characters, so the check went on, and the audit record, the Decision
// and the Observer (the otel span's agenttrust.agent and tool) kept the
// credential verbatim, though an attribute holding the same credential
// is redacted. A name holding an agenttrust credential must be refused
// (ErrInvalidRequest, a Deny) and the credential be in no record,
// decision, error or span.
func TestAttackCredentialAsName(t *testing.T) {
	ctx := context.Background()
	obs := &checkRecorder{}
	f := newFixture(t, "rules:\n  - {id: open, effect: allow}\n", agenttrust.WithObserver(obs))
	key, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := f.c.ExchangeJWT(ctx, key, "agenttrust")
	if err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{"key": key, "token": tok, "jwt": jwt}
	fields := map[string]func(r *agenttrust.Request, v string){
		"agent":        func(r *agenttrust.Request, v string) { r.AgentID = v },
		"agent suffix": func(r *agenttrust.Request, v string) { r.AgentID = "svc:" + v },
		"tool":         func(r *agenttrust.Request, v string) { r.Tool = v },
		"session":      func(r *agenttrust.Request, v string) { r.SessionID = v },
		"on_behalf_of": func(r *agenttrust.Request, v string) { r.OnBehalfOf = v },
		"request id":   func(r *agenttrust.Request, v string) { r.RequestID = v },
	}
	for cname, cred := range creds {
		for fname, set := range fields {
			if fname == "request id" && cname != "key" {
				continue // longer than a request id may be: refused, and clipped in the record before its secret part
			}
			t.Run(cname+" as "+fname, func(t *testing.T) {
				req := agenttrust.Request{AgentID: "bot", Tool: "docs.read"}
				set(&req, cred)
				before := len(f.audit.Records())
				obs.mu.Lock()
				seen := len(obs.checks)
				obs.mu.Unlock()
				d, err := f.c.Check(ctx, req)
				if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
					t.Fatalf("%v %q, %v; want a Deny with ErrInvalidRequest", d.Effect, d.Reason, err)
				}
				secret := cred[len(cred)-12:]
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error holds the credential: %v", err)
				}
				if strings.Contains(fmt.Sprintf("%+v", d), secret) {
					t.Errorf("the Decision holds the credential: %+v", d)
				}
				for _, r := range f.records(t)[before:] {
					if strings.Contains(fmt.Sprintf("%+v", r), secret) {
						t.Errorf("the audit record holds the credential: %+v", r)
					}
				}
				obs.mu.Lock()
				for _, ch := range obs.checks[seen:] {
					if strings.Contains(fmt.Sprintf("%+v", ch), secret) {
						t.Errorf("the Observer was told the credential: %+v", ch)
					}
				}
				obs.mu.Unlock()
			})
		}
	}
}
