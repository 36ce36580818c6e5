package agenttrust_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// listCounting is a store that counts the approvals its listings return.
type listCounting struct {
	*memory.Store
	rows int
}

func (s *listCounting) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	as, err := s.Store.Approvals(ctx, f)
	s.rows += len(as)
	return as, err
}

// floodOpen is more approvals than one agent may hold open at once.
const floodOpen = 300

func floodRequest(agent string, i int) agenttrust.Request {
	return agenttrust.Request{AgentID: agent, Tool: "payments.charge", Resource: fmt.Sprintf("cust-%d", i)}
}

// openFlood has agent ask for floodOpen distinct approvals and returns
// the decisions.
func openFlood(t *testing.T, f *fixture, agent string) []agenttrust.Decision {
	t.Helper()
	out := make([]agenttrust.Decision, 0, floodOpen)
	for i := range floodOpen {
		d, _ := f.c.Check(context.Background(), floodRequest(agent, i))
		out = append(out, d)
	}
	return out
}

func livePending(t *testing.T, f *fixture, agent string) int {
	t.Helper()
	as, err := f.st.Approvals(context.Background(), store.ApprovalFilter{Tenant: agenttrust.DefaultTenant, AgentID: agent, Status: store.ApprovalPending})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range as {
		if a.ExpiresAt.After(f.clock.Now()) {
			n++
		}
	}
	return n
}

// TestAttackApprovalFlood: an agent cannot open pending approvals without
// limit (each is a stored row, a notification and a line in every
// approver's queue). Past its cap of open approvals a check that would
// open another is denied; the agent's open ones, other agents, and slots
// freed by a decision or a lapse are untouched.
func TestAttackApprovalFlood(t *testing.T) {
	const cap = agenttrust.MaxOpenApprovalsForTest
	t.Run("open approvals stay within the cap", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		openFlood(t, f, "mallory")
		if n := livePending(t, f, "mallory"); n > cap {
			t.Fatalf("one agent holds %d open approvals, cap %d", n, cap)
		}
	})
	t.Run("past the cap a check is denied", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		ds := openFlood(t, f, "mallory")
		last := ds[len(ds)-1]
		if last.Effect != agenttrust.Deny || last.ApprovalID != "" {
			t.Fatalf("check past the cap: %s approval %q, want a deny", last.Effect, last.ApprovalID)
		}
	})
	t.Run("another agent still asks", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		openFlood(t, f, "mallory")
		d, err := f.c.Check(context.Background(), floodRequest("billing-bot", 0))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
			t.Fatalf("other agent: %s %q %v", d.Effect, d.ApprovalID, err)
		}
	})
	t.Run("an open request keeps its approval", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		ds := openFlood(t, f, "mallory")
		d, err := f.c.Check(context.Background(), floodRequest("mallory", 0))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID != ds[0].ApprovalID {
			t.Fatalf("repeat of an open request: %s %q %v, want %q", d.Effect, d.ApprovalID, err, ds[0].ApprovalID)
		}
	})
	t.Run("a lapse frees the slots", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		openFlood(t, f, "mallory")
		f.clock.Advance(16 * time.Minute)
		d, err := f.c.Check(context.Background(), floodRequest("mallory", floodOpen))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
			t.Fatalf("after the lapse: %s %q %v", d.Effect, d.ApprovalID, err)
		}
	})
	t.Run("lapsed approvals are not read again", func(t *testing.T) {
		// The store keeps lapsed approvals pending for ever: a cap that
		// counted them there would read every one the agent ever let
		// lapse at each new ask.
		st := &listCounting{Store: memory.New()}
		clock := newTestClock()
		p, err := agenttrust.ParsePolicy([]byte(bindingPolicy), "yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := agenttrust.New(st, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for round := range 3 {
			for i := range floodOpen {
				c.Check(context.Background(), floodRequest("mallory", round*floodOpen+i))
			}
			clock.Advance(16 * time.Minute)
		}
		if st.rows != 0 {
			t.Errorf("opening approvals read %d listed approvals", st.rows)
		}
	})
	t.Run("a decision frees a slot", func(t *testing.T) {
		f := newFixture(t, bindingPolicy)
		ds := openFlood(t, f, "mallory")
		if err := f.c.DenyApproval(context.Background(), ds[0].ApprovalID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		d, err := f.c.Check(context.Background(), floodRequest("mallory", floodOpen))
		if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
			t.Fatalf("after a decision: %s %q %v", d.Effect, d.ApprovalID, err)
		}
	})
}
