package agenttrust

import "context"

type identityKey struct{}
type credentialKey struct{}

// Identity is who is acting, as carried in a context.
type Identity struct {
	AgentID    string
	SessionID  string
	OnBehalfOf string
}

// WithAgent returns a context that carries the acting agent and session.
// Guard and the middleware read it to fill Request.AgentID and SessionID.
func WithAgent(ctx context.Context, agentID, sessionID string) context.Context {
	id, _ := IdentityFrom(ctx)
	id.AgentID, id.SessionID = agentID, sessionID
	return context.WithValue(ctx, identityKey{}, id)
}

// WithOnBehalfOf returns a context that records the principal (usually a
// human) on whose behalf the agent acts.
func WithOnBehalfOf(ctx context.Context, principal string) context.Context {
	id, _ := IdentityFrom(ctx)
	id.OnBehalfOf = principal
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity carried by ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// WithCredential returns a context that carries the agent's credential (an
// API key, token or JWT) for Guard and outgoing calls to present.
func WithCredential(ctx context.Context, credential string) context.Context {
	return context.WithValue(ctx, credentialKey{}, secret(credential))
}

// CredentialFrom returns the credential carried by ctx.
func CredentialFrom(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(credentialKey{}).(secret)
	return string(s), ok
}

// secret keeps a credential out of fmt and slog output, should a context
// value ever be printed.
type secret string

func (secret) String() string   { return "[redacted]" }
func (secret) GoString() string { return "[redacted]" }
