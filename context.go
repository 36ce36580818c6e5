package agenttrust

import (
	"context"
	"fmt"
)

// callerKey finds the innermost callerNode in a context.
type callerKey struct{}

// callerNode is a context node that carries a caller: who is acting, with
// which credential, and the Decision that let the call through. It is a
// *callerCtx, which stores all of it, or a *decisionCtx, which derives
// what it does not store from its parent.
type callerNode interface {
	identity() Identity
	credential() secret
	decision() (Decision, bool)
}

var (
	_ callerNode = (*callerCtx)(nil)
	_ callerNode = (*decisionCtx)(nil)
)

// nodeOf returns the innermost callerNode of ctx, or nil.
func nodeOf(ctx context.Context) callerNode {
	n, _ := ctx.Value(callerKey{}).(callerNode)
	return n
}

type caller struct {
	id          Identity
	cred        secret
	decision    Decision
	hasDecision bool
}

// Identity is who is acting, as carried in a context. The zero Identity
// names nobody. A plain value.
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
		return x
	}
	return x.Context.Value(key)
}

func (x *callerCtx) String() string { return fmt.Sprintf("%v.WithValue(agenttrust caller)", x.Context) }

func (x *callerCtx) identity() Identity         { return x.c.id }
func (x *callerCtx) credential() secret         { return x.c.cred }
func (x *callerCtx) decision() (Decision, bool) { return x.c.decision, x.c.hasDecision }

// withCaller returns a child of ctx holding a copy of the caller ctx
// already carries, for the caller to change.
func withCaller(ctx context.Context) *callerCtx {
	if ctx == nil {
		panic("agenttrust: nil context")
	}
	x := &callerCtx{Context: ctx}
	if n := nodeOf(ctx); n != nil {
		x.c.id, x.c.cred = n.identity(), n.credential()
		x.c.decision, x.c.hasDecision = n.decision()
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

// WithDecision returns, for middleware, a child of ctx that carries the
// Decision d that let a call through and the credential it was made with
// (empty keeps the one ctx carries); handlers read it back with
// DecisionFrom. The identity it carries is the one ctx carries with the
// agent set to d.AgentID (when not empty): the agent the credential named.
func WithDecision(ctx context.Context, credential string, d Decision) context.Context {
	if ctx == nil {
		panic("agenttrust: nil context")
	}
	return &decisionCtx{Context: ctx, cred: secret(credential), d: d}
}

// decisionCtx is the node WithDecision makes: smaller than a
// callerCtx, because the identity is derived from the Decision and the
// parent rather than copied.
type decisionCtx struct {
	context.Context
	cred secret
	d    Decision
}

func (x *decisionCtx) Value(key any) any {
	if key == (callerKey{}) {
		return x
	}
	return x.Context.Value(key)
}

func (x *decisionCtx) String() string {
	return fmt.Sprintf("%v.WithValue(agenttrust decision)", x.Context)
}

func (x *decisionCtx) identity() Identity {
	id, _ := IdentityFrom(x.Context)
	if x.d.AgentID != "" {
		id.AgentID = x.d.AgentID
	}
	return id
}

func (x *decisionCtx) credential() secret {
	if x.cred == "" {
		if n := nodeOf(x.Context); n != nil {
			return n.credential()
		}
	}
	return x.cred
}

func (x *decisionCtx) decision() (Decision, bool) { return x.d, true }

// DecisionFrom returns the Decision carried by ctx (see WithDecision).
func DecisionFrom(ctx context.Context) (Decision, bool) {
	if n := nodeOf(ctx); n != nil {
		return n.decision()
	}
	return Decision{}, false
}

// IdentityFrom returns the identity carried by ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	var id Identity
	if n := nodeOf(ctx); n != nil {
		id = n.identity()
	}
	return id, id != Identity{}
}

// CredentialFrom returns the credential carried by ctx.
func CredentialFrom(ctx context.Context) (string, bool) {
	var cred secret
	if n := nodeOf(ctx); n != nil {
		cred = n.credential()
	}
	return string(cred), cred != ""
}

// secret keeps a credential out of fmt and slog output, should a context
// value ever be printed.
type secret string

func (secret) String() string   { return "[redacted]" }
func (secret) GoString() string { return "[redacted]" }
