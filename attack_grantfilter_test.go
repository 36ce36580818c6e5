package agenttrust_test

import (
	"context"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// paddedGrants lists grants as a store comparing under a PAD SPACE or
// case-insensitive collation may: its agent and tool filters match more
// than the bytes asked for (here, any agent and any tool).
type paddedGrants struct{ *memory.Store }

func (s paddedGrants) Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]store.Grant, error) {
	return s.Store.Grants(ctx, tenant, "", "", now)
}

// TestAttackGrantStoreFilterTrusted: a check used whatever grants the
// store listed for its agent and tool, so a store whose comparison is
// looser than Go's (MySQL's " " = "" under PAD SPACE, a case-insensitive
// collation) could let another agent's remembered approval allow. The
// client compares a grant's agent and tool itself.
func TestAttackGrantStoreFilterTrusted(t *testing.T) {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(rememberPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	c, err := agenttrust.New(paddedGrants{memory.New()}, agenttrust.WithPolicy(p), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(newSeededRandom()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := held(t, c, pay("cust-1", 60))
	if _, err := c.ApproveAndRemember(ctx, id, "carol", "", store.Remember{Uses: 5, For: time.Hour, Resources: []string{"cust-*"}}); err != nil {
		t.Fatal(err)
	}
	other := pay("cust-1", 60)
	other.AgentID = "other-bot"
	held(t, c, other)
}
