package agenttrust

import (
	"context"
	"fmt"
)

// callerKey finds the *caller in a context: who is acting, with which
// credential, and the Decision that let the call through.
type callerKey struct{}

type caller struct {
	id          Identity
	cred        secret
	decision    Decision
	hasDecision bool
}

// Identity is who is acting, as carried in a context.
type Identity struct {
	AgentID    string
	SessionID  string
	OnBehalfOf string
}

// callerCtx carries a caller as a context of its own: each With call
// below costs one allocation, where context.WithValue plus the caller
// would cost two. It answers callerKey and passes every other key,
// deadline and cancellation through to its parent.
type callerCtx struct {
	context.Context
	c caller
}

func (x *callerCtx) Value(key any) any {
	if key == (callerKey{}) {
		return &x.c
	}
	return x.Context.Value(key)
}

func (x *callerCtx) String() string { return fmt.Sprintf("%v.WithValue(agenttrust caller)", x.Context) }

// withCaller returns a child of ctx holding a copy of the caller ctx
// already carries, for the caller to change.
func withCaller(ctx context.Context) *callerCtx {
	if ctx == nil {
		panic("agenttrust: nil context")
	}
	x := &callerCtx{Context: ctx}
	if c, ok := ctx.Value(callerKey{}).(*caller); ok {
		x.c = *c
	}
	return x
}

// WithAgent returns a context that carries the acting agent and session.
// Guard and the middleware read it to fill Request.AgentID and SessionID.
func WithAgent(ctx context.Context, agentID, sessionID string) context.Context {
	x := withCaller(ctx)
	x.c.id.AgentID, x.c.id.SessionID = agentID, sessionID
	return x
}

// WithOnBehalfOf returns a context that records the principal (usually a
// human) on whose behalf the agent acts.
func WithOnBehalfOf(ctx context.Context, principal string) context.Context {
	x := withCaller(ctx)
	x.c.id.OnBehalfOf = principal
	return x
}

// WithCredential returns a context that carries the agent's credential (an
// API key, token or JWT) for Guard and outgoing calls to present.
func WithCredential(ctx context.Context, credential string) context.Context {
	x := withCaller(ctx)
	x.c.cred = secret(credential)
	return x
}

// WithCaller sets identity and credential at once (an empty credential
// keeps the one already carried); servers use it per request.
func WithCaller(ctx context.Context, id Identity, credential string) context.Context {
	x := withCaller(ctx)
	x.c.id = id
	if credential != "" {
		x.c.cred = secret(credential)
	}
	return x
}

// WithDecision is WithCaller that also carries the Decision that let the
// call through, all in one context value: middleware sets it per request
// and handlers read it back with DecisionFrom.
func WithDecision(ctx context.Context, id Identity, credential string, d Decision) context.Context {
	x := withCaller(ctx)
	x.c.id = id
	if credential != "" {
		x.c.cred = secret(credential)
	}
	x.c.decision, x.c.hasDecision = d, true
	return x
}

// DecisionFrom returns the Decision carried by ctx (see WithDecision).
func DecisionFrom(ctx context.Context) (Decision, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok || !c.hasDecision {
		return Decision{}, false
	}
	return c.decision, true
}

// IdentityFrom returns the identity carried by ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok || c.id == (Identity{}) {
		return Identity{}, false
	}
	return c.id, true
}

// CredentialFrom returns the credential carried by ctx.
func CredentialFrom(ctx context.Context) (string, bool) {
	c, ok := ctx.Value(callerKey{}).(*caller)
	if !ok || c.cred == "" {
		return "", false
	}
	return string(c.cred), true
}

// secret keeps a credential out of fmt and slog output, should a context
// value ever be printed.
type secret string

func (secret) String() string   { return "[redacted]" }
func (secret) GoString() string { return "[redacted]" }
