package agenttrust_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

type otherKey struct{}

// The caller context layers like context.WithValue: later calls change
// only what they set, other values and cancellation pass through, and
// printing it never shows the credential.
func TestCallerContext(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), otherKey{}, "kept"))
	ctx := agenttrust.WithAgent(parent, "a1", "s1")
	ctx = agenttrust.WithOnBehalfOf(ctx, "alice")
	ctx = agenttrust.WithCredential(ctx, "att_secret")
	d := agenttrust.Decision{Effect: agenttrust.Allow, Rule: "r1"}
	d.AgentID = "a2"
	withD := agenttrust.WithDecision(ctx, "", d)
	beside := agenttrust.WithDecision(ctx, "att_other", agenttrust.Decision{Effect: agenttrust.Allow, Rule: "r2", AgentID: "a4"})
	besideKeeps := agenttrust.WithDecision(ctx, "", agenttrust.Decision{Rule: "r3"})

	tests := []struct {
		name           string
		ctx            context.Context
		id             agenttrust.Identity
		cred           string
		hasDecision    bool
		wantDecisionID string
	}{
		{"agent", agenttrust.WithAgent(parent, "a1", "s1"), agenttrust.Identity{AgentID: "a1", SessionID: "s1"}, "", false, ""},
		{"layered", ctx, agenttrust.Identity{AgentID: "a1", SessionID: "s1", OnBehalfOf: "alice"}, "att_secret", false, ""},
		{"decision", withD, agenttrust.Identity{AgentID: "a2", SessionID: "s1", OnBehalfOf: "alice"}, "att_secret", true, "r1"},
		{"child of decision keeps it", agenttrust.WithAgent(withD, "a3", ""), agenttrust.Identity{AgentID: "a3", OnBehalfOf: "alice"}, "att_secret", true, "r1"},
		{"beside: agent from the decision, the rest from the parent", beside, agenttrust.Identity{AgentID: "a4", SessionID: "s1", OnBehalfOf: "alice"}, "att_other", true, "r2"},
		{"beside: no agent or credential keeps the parent's", besideKeeps, agenttrust.Identity{AgentID: "a1", SessionID: "s1", OnBehalfOf: "alice"}, "att_secret", true, "r3"},
		{"child of beside keeps it", agenttrust.WithOnBehalfOf(beside, "bob"), agenttrust.Identity{AgentID: "a4", SessionID: "s1", OnBehalfOf: "bob"}, "att_other", true, "r2"},
		{"beside on a bare context", func() context.Context {
			return agenttrust.WithDecision(parent, "att_x", agenttrust.Decision{Rule: "r4"})
		}(), agenttrust.Identity{}, "att_x", true, "r4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, _ := agenttrust.IdentityFrom(tt.ctx)
			if id != tt.id {
				t.Errorf("identity %+v, want %+v", id, tt.id)
			}
			cred, _ := agenttrust.CredentialFrom(tt.ctx)
			if cred != tt.cred {
				t.Errorf("credential %q, want %q", cred, tt.cred)
			}
			got, ok := agenttrust.DecisionFrom(tt.ctx)
			if ok != tt.hasDecision || got.Rule != tt.wantDecisionID {
				t.Errorf("decision %+v %v, want rule %q %v", got, ok, tt.wantDecisionID, tt.hasDecision)
			}
			if v := tt.ctx.Value(otherKey{}); v != "kept" {
				t.Errorf("other value %v", v)
			}
			if s := fmt.Sprint(tt.ctx); strings.Contains(s, "att_") {
				t.Errorf("printed context shows the credential: %s", s)
			}
		})
	}
	// The parent's context is untouched.
	if _, ok := agenttrust.IdentityFrom(parent); ok {
		t.Fatal("parent gained an identity")
	}

	// Cancellation, causes, AfterFunc and WithoutCancel see through it.
	testCancellation(t, withD, cancel)
}

// WithDecision costs one allocation: it runs once per request.
func TestWithDecisionAllocatesOnce(t *testing.T) {
	ctx := context.Background()
	d := agenttrust.Decision{Effect: agenttrust.Allow, Rule: "r1", AgentID: "a1"}
	var got context.Context
	if n := testing.AllocsPerRun(100, func() { got = agenttrust.WithDecision(ctx, "att_secret", d) }); n != 1 {
		t.Fatalf("%v allocations, want 1", n)
	}
	if dd, ok := agenttrust.DecisionFrom(got); !ok || dd.Rule != "r1" {
		t.Fatalf("DecisionFrom = %+v, %v", dd, ok)
	}
}

func testCancellation(t *testing.T, withD context.Context, cancel context.CancelCauseFunc) {
	t.Helper()
	child, stop := context.WithTimeout(withD, time.Hour)
	defer stop()
	fired := make(chan struct{})
	context.AfterFunc(withD, func() { close(fired) })
	cause := errors.New("stopped")
	cancel(cause)
	<-child.Done()
	<-fired
	if !errors.Is(context.Cause(child), cause) || !errors.Is(context.Cause(withD), cause) {
		t.Fatalf("cause %v / %v", context.Cause(child), context.Cause(withD))
	}
	if agenttrust.WithAgent(context.WithoutCancel(withD), "x", "").Err() != nil {
		t.Fatal("WithoutCancel lost")
	}
}
