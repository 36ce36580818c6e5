package advise_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/advise"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store/memory"
)

const live = `
default: deny
rules:
  - {id: no-prod-delete, effect: deny, tools: [delete], when: ['attr.env = "prod"']}
  - {id: no-admin, effect: deny, tools: ["admin.*"]}
  - {id: big-pay, effect: needs_approval, tools: [pay], when: ["attr.amount > 100"]}
  - {id: read-all, effect: allow, tools: ["read_*"]}
  - {id: pay-bots, effect: allow, agents: ["bot-*"], tools: [pay]}
  - {id: write-any, effect: allow, tools: [write]}
  - {id: delete-dev, effect: allow, tools: [delete]}
`

// history makes a known trail through a real client with the live
// policy.
func history(t *testing.T) []agenttrust.AuditRecord {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var recs []agenttrust.AuditRecord
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			r.Attributes = slices.Clone(r.Attributes)
			recs = append(recs, r)
		}
		return nil
	})
	clock := testkit.NewClock()
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(testkit.Policy(t, live, "yaml")), agenttrust.WithClock(clock.Now),
		agenttrust.WithRandom(testkit.NewRandom()), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	must.NoError(t, err)
	defer c.Close()
	must.NoError(t, c.Revoke(ctx, "bot-9"))
	check := func(agent, tool string, attrs map[string]any) {
		clock.Advance(1e9)
		c.Check(ctx, agenttrust.Request{AgentID: agent, Tool: tool, Resource: "r/1", Attributes: attrs})
	}
	for range 3 {
		check("bot-1", "read_file", nil)
	}
	check("bot-2", "read_db", nil)
	check("bot-2", "read_db", nil)
	check("bot-1", "pay", map[string]any{"amount": 20})
	check("bot-1", "pay", map[string]any{"amount": 500})
	check("bot-3", "delete", map[string]any{"env": "prod"})
	check("bot-3", "delete", map[string]any{"env": "dev"})
	check("bot-4", "export", nil)
	check("bot-9", "read_file", nil) // revoked: says nothing of the rules
	must.NoError(t, c.SyncAudit(ctx))
	mu.Lock()
	defer mu.Unlock()
	return recs
}

func all(recs []agenttrust.AuditRecord) iter.Seq2[agenttrust.AuditRecord, error] {
	return func(yield func(agenttrust.AuditRecord, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// TestKnownHistory checks every answer on a trail worked out by hand.
func TestKnownHistory(t *testing.T) {
	recs := history(t)
	p := testkit.Policy(t, live, "yaml")
	rep := advised(t, recs, p, advise.Config{})
	expect.EqualValues(t, 12, rep.Records) // the revocation, 11 checks
	expect.EqualValues(t, 10, rep.Decided)
	decided := map[string]int64{}
	for _, u := range rep.Rules {
		decided[u.ID] = u.Decided
	}
	expect.Equal(t, map[string]int64{"no-prod-delete": 1, "no-admin": 0, "big-pay": 1, "read-all": 5, "pay-bots": 1, "write-any": 0, "delete-dev": 1}, decided)
	expect.Equal(t, []string{"write-any"}, rep.UnusedGrants)
	expect.Equal(t, []string{"no-admin", "write-any"}, rep.NeverMatched)
	expect.Equal(t, []advise.AgentTools{
		{Agent: "bot-1", Tools: []string{"read_db"}},
		{Agent: "bot-2", Tools: []string{"read_file"}},
		{Agent: "bot-3", Tools: []string{"read_db", "read_file"}},
		{Agent: "bot-4", Tools: []string{"read_db", "read_file"}},
	}, rep.Uncalled)

	want := testkit.Policy(t, `
default: deny
rules:
  - {id: no-prod-delete, effect: deny, tools: [delete], when: ['attr.env = "prod"']}
  - {id: no-admin, effect: deny, tools: ["admin.*"]}
  - {id: big-pay, effect: needs_approval, tools: [pay], when: ["attr.amount > 100"]}
  - {id: read-all, effect: allow, agents: [bot-1, bot-2], tools: [read_db, read_file]}
  - {id: pay-bots, effect: allow, agents: [bot-1], tools: [pay]}
  - {id: delete-dev, effect: allow, agents: [bot-3], tools: [delete]}
`, "yaml")
	expect.Equal(t, want, rep.Proposal)
	for _, line := range []string{"-        - write", "+        - bot-1", "+        - read_db", "-        - read_*"} {
		expect.Contains(t, rep.Diff, line+"\n")
	}
	// The diff's "+" and " " lines are the proposal.
	var kept []string
	for _, l := range strings.Split(strings.TrimSuffix(rep.Diff, "\n"), "\n") {
		if !strings.HasPrefix(l, "-") {
			kept = append(kept, l[1:])
		}
	}
	back, err := agenttrust.ParsePolicy([]byte(strings.Join(kept, "\n")), "yaml")
	must.NoError(t, err)
	expect.Equal(t, want, back)
}

// TestProposalNarrowsAndKeepsHistory: replayed against the proposal,
// every call the trail shows allowed is still allowed by the same rule;
// and over a grid of requests, whatever the proposal allows the live
// policy allows, while some of what the live policy allows it does not.
func TestProposalNarrowsAndKeepsHistory(t *testing.T) {
	recs := history(t)
	p := testkit.Policy(t, live, "yaml")
	rep := advised(t, recs, p, advise.Config{})
	got, err := replay.Run(context.Background(), all(recs), replay.Config{Policy: rep.Proposal})
	must.NoError(t, err)
	expect.Zero(t, got.Changed, "%+v", got.Examples)
	expect.Zero(t, got.Unknown)

	liveE, err := agenttrust.NewRuleEngine(p)
	must.NoError(t, err)
	propE, err := agenttrust.NewRuleEngine(rep.Proposal)
	must.NoError(t, err)
	narrower := 0
	for _, agent := range []string{"bot-1", "bot-2", "bot-3", "bot-4", "bot-7", "alice"} {
		for _, tool := range []string{"read_file", "read_db", "read_x", "pay", "delete", "write", "export", "admin.x"} {
			for _, attrs := range []map[string]any{nil, {"amount": 20}, {"amount": 500}, {"env": "prod"}, {"env": "dev"}} {
				in := agenttrust.PolicyInput{AgentID: agent, Tool: tool, Resource: "r/1", Attributes: attrs}
				l, _ := liveE.Evaluate(context.Background(), &in)
				pr, _ := propE.Evaluate(context.Background(), &in)
				if pr.Effect == agenttrust.Allow {
					must.Equal(t, agenttrust.Allow, l.Effect, "%s %s %v: the proposal allows what the live policy does not", agent, tool, attrs)
				}
				if l.Effect != pr.Effect {
					narrower++
				}
			}
		}
	}
	expect.Positive(t, narrower)
}

func TestRunErrors(t *testing.T) {
	_, err := advise.Run(context.Background(), all(nil), nil, advise.Config{})
	expect.ErrorIs(t, err, agenttrust.ErrInvalidConfig)
	boom := fmt.Errorf("boom")
	_, err = advise.Run(context.Background(), func(yield func(agenttrust.AuditRecord, error) bool) { yield(agenttrust.AuditRecord{}, boom) },
		testkit.Policy(t, live, "yaml"), advise.Config{})
	expect.ErrorIs(t, err, boom)
	rep := advised(t, nil, testkit.Policy(t, live, "yaml"), advise.Config{})
	expect.Len(t, rep.UnusedGrants, 5) // nothing used: every allow and needs_approval rule
	expect.Empty(t, rep.Uncalled)
}

// sinkFunc adapts a function to agenttrust.AuditSink.
type sinkFunc func(ctx context.Context, recs []agenttrust.AuditRecord) error

func (f sinkFunc) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return f(ctx, recs)
}
