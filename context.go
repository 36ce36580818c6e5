package agenttrust

import "context"

// callerKey holds a *caller: who is acting and with which credential, in
// one context value so that setting both costs one allocation pair.
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

func callerFrom(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey{}).(*caller); ok {
		return *c
	}
	return caller{}
}

// WithAgent returns a context that carries the acting agent and session.
// Guard and the middleware read it to fill Request.AgentID and SessionID.
func WithAgent(ctx context.Context, agentID, sessionID string) context.Context {
	c := callerFrom(ctx)
	c.id.AgentID, c.id.SessionID = agentID, sessionID
	return context.WithValue(ctx, callerKey{}, &c)
}

// WithOnBehalfOf returns a context that records the principal (usually a
// human) on whose behalf the agent acts.
func WithOnBehalfOf(ctx context.Context, principal string) context.Context {
	c := callerFrom(ctx)
	c.id.OnBehalfOf = principal
	return context.WithValue(ctx, callerKey{}, &c)
}

// WithCredential returns a context that carries the agent's credential (an
// API key, token or JWT) for Guard and outgoing calls to present.
func WithCredential(ctx context.Context, credential string) context.Context {
	c := callerFrom(ctx)
	c.cred = secret(credential)
	return context.WithValue(ctx, callerKey{}, &c)
}

// WithCaller sets identity and credential at once (an empty credential
// keeps the one already carried); servers use it per request.
func WithCaller(ctx context.Context, id Identity, credential string) context.Context {
	c := callerFrom(ctx)
	c.id = id
	if credential != "" {
		c.cred = secret(credential)
	}
	return context.WithValue(ctx, callerKey{}, &c)
}

// WithDecision is WithCaller that also carries the Decision that let the
// call through, all in one context value: middleware sets it per request
// and handlers read it back with DecisionFrom.
func WithDecision(ctx context.Context, id Identity, credential string, d Decision) context.Context {
	c := callerFrom(ctx)
	c.id = id
	if credential != "" {
		c.cred = secret(credential)
	}
	c.decision, c.hasDecision = d, true
	return context.WithValue(ctx, callerKey{}, &c)
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
