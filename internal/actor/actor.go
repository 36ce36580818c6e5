// Package actor carries, in a context, who performs an operator action
// (approve, deny, suspend, resume, revoke, create a key, save a policy):
// the server sets it from the authenticated principal of the request,
// and package agenttrust reads it into the action's audit record. It is
// internal so that the root package exports no second way to put a
// caller in a context; a library caller that sets nothing is recorded as
// an empty actor.
package actor

import "context"

// Actor is who performs an operator action. The zero Actor names nobody.
// A plain value; Credentials is not copied by With or From.
type Actor struct {
	AgentID string // the agent the credential names
	KeyID   string // the API key at the root of the credential
	// Credentials are the ids of the credential derived from KeyID that
	// the actor presented, oldest first: the token or JWT id, then its
	// delegation hops. None when it presented the key itself. What it
	// decides (an approval, a grant) ends when any of them is revoked.
	Credentials []string
}

// IsZero reports whether a names nobody.
func (a Actor) IsZero() bool { return a.AgentID == "" && a.KeyID == "" && len(a.Credentials) == 0 }

type key struct{}

// With returns a child of ctx that carries a.
func With(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, key{}, a)
}

// From returns the Actor ctx carries, or the zero Actor.
func From(ctx context.Context) Actor {
	a, _ := ctx.Value(key{}).(Actor)
	return a
}
