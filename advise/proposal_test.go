package advise_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/advise"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store/memory"
)

// advised runs advise and holds its proposal to the package's promise
// (see checkProposal). Every test that makes a proposal makes it here.
// asked, when given, are the requests the trail's checks were asked in
// full, for a trail whose records lack part of them.
func advised(t *testing.T, recs []agenttrust.AuditRecord, live *agenttrust.Policy, cfg advise.Config, asked ...agenttrust.PolicyInput) *advise.Report {
	t.Helper()
	rep, err := advise.Run(context.Background(), all(recs), live, cfg)
	must.NoError(t, err)
	checkProposal(t, recs, asked, live, rep.Proposal)
	return rep
}

// checkProposal checks, by evaluating both engines, that:
//
//   - every request the proposal allows the live policy allows: the
//     recorded requests, and every combination of the agents, tools,
//     resources and attributes the trail and both policies name;
//   - every record the live policy allows by a rule, the proposal allows
//     by the same rule;
//   - every name a narrowed rule lists is carried by a record the live
//     policy decides by that rule (by a request of asked, when given:
//     those are the requests the records keep part of).
//
// It fails when it examined no request the proposal allows while the
// proposal has an allow rule, so it cannot pass by checking nothing.
func checkProposal(t *testing.T, recs []agenttrust.AuditRecord, asked []agenttrust.PolicyInput, live, prop *agenttrust.Policy) {
	t.Helper()
	ctx := context.Background()
	liveE, err := agenttrust.NewRuleEngine(live)
	must.NoError(t, err)
	propE, err := agenttrust.NewRuleEngine(prop)
	must.NoError(t, err)
	allowed := 0
	within := func(in *agenttrust.PolicyInput) {
		t.Helper()
		l, _ := liveE.Evaluate(ctx, in)
		pr, _ := propE.Evaluate(ctx, in)
		if pr.Effect != agenttrust.Allow {
			return
		}
		allowed++
		if l.Effect != agenttrust.Allow {
			t.Errorf("%s %s %s %v: the proposal allows (rule %s), the live policy does not (%v, rule %q)",
				in.AgentID, in.Tool, in.Resource, in.Attributes, pr.Rule, l.Effect, l.Rule)
		}
	}
	agents, tools, resources := names{}, names{}, names{}
	attrSets := []map[string]any{nil}
	backed := map[string]map[string]bool{} // rule -> agents and tools of the requests live decides by it
	back := func(in *agenttrust.PolicyInput) {
		l, _ := liveE.Evaluate(ctx, in)
		if l.Rule != "" {
			if backed[l.Rule] == nil {
				backed[l.Rule] = map[string]bool{}
			}
			backed[l.Rule]["agent "+in.AgentID] = true
			backed[l.Rule]["tool "+in.Tool] = true
		}
	}
	for i := range asked {
		within(&asked[i])
		back(&asked[i])
	}
	for i := range recs {
		r := &recs[i]
		if replay.PhaseOf(r) != "" && replay.PhaseOf(r) != replay.PhaseApproval {
			continue
		}
		in := recordInput(t, r)
		within(&in)
		agents.add(r.AgentID)
		tools.add(r.Tool)
		resources.add(r.Resource)
		if in.Attributes != nil {
			attrSets = append(attrSets, in.Attributes)
		}
		if asked == nil {
			back(&in)
		}
		l, _ := liveE.Evaluate(ctx, &in)
		if l.Effect == agenttrust.Allow && slices.ContainsFunc(prop.Rules, func(x agenttrust.Rule) bool { return x.ID == l.Rule }) {
			if pr, _ := propE.Evaluate(ctx, &in); pr.Effect != agenttrust.Allow || pr.Rule != l.Rule {
				t.Errorf("%s %s %s: the live policy allows by %s, the proposal says %v by %q", r.AgentID, r.Tool, r.Resource, l.Rule, pr.Effect, pr.Rule)
			}
		}
	}
	for _, p := range []*agenttrust.Policy{live, prop} {
		for _, r := range p.Rules {
			agents.add(r.Agents...)
			tools.add(r.Tools...)
			resources.add(r.Resources...) // literal ones match themselves; others are harmless
		}
	}
	for _, a := range agents {
		for _, tool := range tools {
			for _, res := range resources {
				for _, attrs := range attrSets {
					within(&agenttrust.PolicyInput{AgentID: a, Tool: tool, Resource: res, Attributes: attrs})
				}
			}
		}
	}
	hasAllow := false
	for _, n := range prop.Rules {
		if n.Effect != agenttrust.Allow {
			continue
		}
		hasAllow = true
		i := slices.IndexFunc(live.Rules, func(x agenttrust.Rule) bool { return x.ID == n.ID })
		must.True(t, i >= 0, "the proposal adds rule %s", n.ID)
		l := live.Rules[i]
		for field, got := range map[string][2][]string{"agent": {n.Agents, l.Agents}, "tool": {n.Tools, l.Tools}} {
			if slices.Equal(got[0], got[1]) {
				continue // not narrowed
			}
			for _, name := range got[0] {
				if !backed[n.ID][field+" "+name] {
					t.Errorf("rule %s lists %s %s, which no record the live policy decides by it carries", n.ID, field, name)
				}
			}
		}
	}
	if hasAllow && allowed == 0 {
		t.Errorf("checked no request the proposal allows")
	}
}

// names is a set of strings in the order first added.
type names []string

func (n *names) add(ss ...string) {
	for _, s := range ss {
		if !slices.Contains(*n, s) {
			*n = append(*n, s)
		}
	}
}

// recordInput is the request r keeps, as the policy reads it.
func recordInput(t *testing.T, r *agenttrust.AuditRecord) agenttrust.PolicyInput {
	t.Helper()
	in := agenttrust.PolicyInput{
		Tenant: r.Tenant, AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
		SessionID: r.SessionID, OnBehalfOf: r.OnBehalfOf, HopIDs: r.HopIDs, Time: r.Time,
	}
	if len(r.Attributes) > 0 {
		dec := json.NewDecoder(bytes.NewReader(r.Attributes))
		dec.UseNumber()
		must.NoError(t, dec.Decode(&in.Attributes))
	}
	return in
}

// edit is one version of the policy and the checks made under it.
type edit struct {
	policy string
	checks []agenttrust.Request
}

// trail makes the records of a client whose policy is saved, in turn,
// as each edit's, and returns them with the last policy, the live one.
func trail(t *testing.T, edits ...edit) ([]agenttrust.AuditRecord, *agenttrust.Policy) {
	t.Helper()
	return trailRedacting(t, nil, edits...)
}

// trailRedacting is trail with the values of the attributes named in
// redact kept out of the records.
func trailRedacting(t *testing.T, redact []string, edits ...edit) ([]agenttrust.AuditRecord, *agenttrust.Policy) {
	t.Helper()
	ctx := context.Background()
	var recs []agenttrust.AuditRecord // one client: the sink is called by one flusher
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		for _, r := range rs {
			r.Attributes = slices.Clone(r.Attributes)
			recs = append(recs, r)
		}
		return nil
	})
	clock := testkit.NewClock()
	c, err := agenttrust.New(memory.New(), agenttrust.WithClock(clock.Now), agenttrust.WithRandom(testkit.NewRandom()),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Redact: redact}))
	must.NoError(t, err)
	defer c.Close()
	for i, e := range edits {
		_, err := c.SavePolicy(ctx, []byte(e.policy), "yaml", int64(i))
		must.NoError(t, err)
		for _, req := range e.checks {
			clock.Advance(1e9)
			c.Check(ctx, req)
		}
	}
	must.NoError(t, c.SyncAudit(ctx))
	return recs, testkit.Policy(t, edits[len(edits)-1].policy, "yaml")
}

func req(agent, tool, resource string, attrs map[string]any) agenttrust.Request {
	return agenttrust.Request{AgentID: agent, Tool: tool, Resource: resource, Attributes: attrs}
}

// The trail spans a policy edit that keeps a rule's id but changes what
// it matches or its effect. Advise must count toward the live rule only
// what the live policy decides by it: a name the old rule served must
// not come back into the proposal, and the request the edit stopped
// (attack) must stay stopped.
var policyEdits = []struct {
	name   string
	before string
	old    []agenttrust.Request // checked under before
	live   string
	now    []agenttrust.Request // checked under live
	attack agenttrust.Request   // the live policy denies it; so must the proposal
}{
	{
		name:   "tool removed",
		before: "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [bot-1], tools: [\"*\"]}\n",
		old:    []agenttrust.Request{req("bot-1", "drop_table", "db/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [bot-1], tools: [\"read_*\"]}\n",
		now:    []agenttrust.Request{req("bot-1", "read_file", "db/1", nil)},
		attack: req("bot-1", "drop_table", "db/1", nil),
	},
	{
		name:   "agent removed",
		before: "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [bot-1, bot-2], tools: [deploy]}\n",
		old:    []agenttrust.Request{req("bot-2", "deploy", "svc/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [bot-1, \"ci-*\"], tools: [deploy]}\n",
		now:    []agenttrust.Request{req("bot-1", "deploy", "svc/1", nil)},
		attack: req("bot-2", "deploy", "svc/1", nil),
	},
	{
		// Nothing widens, but the live rule never decided for bot-2 or
		// drop_table: the old records must not be its history.
		name:   "resource narrowed",
		before: "default: deny\nrules:\n  - {id: ops, effect: allow, tools: [\"*\"]}\n",
		old:    []agenttrust.Request{req("bot-2", "drop_table", "db/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, tools: [\"*\"], resources: [\"logs/*\"]}\n",
		now:    []agenttrust.Request{req("bot-1", "read_file", "logs/1", nil)},
		attack: req("bot-2", "drop_table", "db/1", nil),
	},
	{
		name:   "rule id reused for a different rule",
		before: "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [admin-1], tools: [\"*\"]}\n",
		old:    []agenttrust.Request{req("admin-1", "drop_table", "docs/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, tools: [\"read_*\"], resources: [\"docs/*\"]}\n",
		now:    []agenttrust.Request{req("bot-1", "read_file", "docs/1", nil)},
		attack: req("admin-1", "drop_table", "docs/1", nil),
	},
	{
		// Nothing widens: the deny rule stays. But the allow rule no
		// longer decides bot-2's call.
		name:   "outranked by a new deny rule",
		before: "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [\"bot-*\"], tools: [\"*\"]}\n",
		old:    []agenttrust.Request{req("bot-2", "drop_table", "db/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [\"bot-*\"], tools: [\"*\"]}\n  - {id: guard, effect: deny, agents: [bot-2]}\n",
		now:    []agenttrust.Request{req("bot-1", "read_file", "db/1", nil)},
		attack: req("bot-2", "drop_table", "db/1", nil),
	},
	{
		name:   "deny rule turned allow",
		before: "default: deny\nrules:\n  - {id: ops, effect: deny, agents: [bot-1], tools: [drop_table]}\n",
		old:    []agenttrust.Request{req("bot-1", "drop_table", "db/1", nil)},
		live:   "default: deny\nrules:\n  - {id: ops, effect: allow, agents: [bot-1], tools: [\"read_*\"]}\n",
		now:    []agenttrust.Request{req("bot-1", "read_file", "db/1", nil)},
		attack: req("bot-1", "drop_table", "db/1", nil),
	},
	{
		// The patterns still match bot-2's old call; only evaluating the
		// live policy on it tells that the rule no longer decides it.
		name:   "condition added",
		before: "default: deny\nrules:\n  - {id: pay, effect: allow, agents: [\"bot-*\"], tools: [pay]}\n",
		old:    []agenttrust.Request{req("bot-2", "pay", "acct/1", map[string]any{"amount": 500})},
		live:   "default: deny\nrules:\n  - {id: pay, effect: allow, agents: [\"bot-*\"], tools: [pay], when: [\"attr.amount <= 100\"]}\n",
		now:    []agenttrust.Request{req("bot-1", "pay", "acct/1", map[string]any{"amount": 20})},
		attack: req("bot-2", "pay", "acct/1", map[string]any{"amount": 500}),
	},
}

// TestAttackAdviseWidensAfterPolicyChange: for each edit, the proposal
// keeps the promise (checkProposal) and denies what the edit stopped,
// and the live rule is credited only with what it decided.
func TestAttackAdviseWidensAfterPolicyChange(t *testing.T) {
	for _, tt := range policyEdits {
		t.Run(tt.name, func(t *testing.T) {
			recs, live := trail(t, edit{tt.before, tt.old}, edit{tt.live, tt.now})
			rep := advised(t, recs, live, advise.Config{})
			t.Logf("diff:\n%s", rep.Diff)
			liveE, err := agenttrust.NewRuleEngine(live)
			must.NoError(t, err)
			propE, err := agenttrust.NewRuleEngine(rep.Proposal)
			must.NoError(t, err)
			in := agenttrust.PolicyInput{AgentID: tt.attack.AgentID, Tool: tt.attack.Tool, Resource: tt.attack.Resource, Attributes: tt.attack.Attributes}
			l, _ := liveE.Evaluate(context.Background(), &in)
			must.Equal(t, agenttrust.Deny, l.Effect, "the live policy must deny the attack")
			if pr, _ := propE.Evaluate(context.Background(), &in); pr.Effect == agenttrust.Allow {
				t.Errorf("the proposal allows %+v by %s", tt.attack, pr.Rule)
			}
			// The live rule decided each check made under it, and nothing
			// before.
			expect.EqualValues(t, len(tt.now), rep.Rules[0].Decided, "rule %s", rep.Rules[0].ID)
		})
	}
}

// TestProposalWithinLive holds every proposal advise makes, on every
// trail of these tests and with names bounded or not, to the promise.
func TestProposalWithinLive(t *testing.T) {
	type trailCase struct {
		name string
		recs []agenttrust.AuditRecord
		live *agenttrust.Policy
	}
	cases := []trailCase{{"known history", history(t), testkit.Policy(t, live, "yaml")}}
	for _, tt := range policyEdits {
		recs, p := trail(t, edit{tt.before, tt.old}, edit{tt.live, tt.now})
		cases = append(cases, trailCase{tt.name, recs, p})
		// The same edit undone and redone: the trail holds both versions twice.
		recs, p = trail(t, edit{tt.live, tt.now}, edit{tt.before, tt.old}, edit{tt.live, tt.now})
		cases = append(cases, trailCase{tt.name + ", redone", recs, p})
	}
	for _, c := range cases {
		for _, n := range []int{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/MaxNames=%d", c.name, n), func(t *testing.T) {
				advised(t, c.recs, c.live, advise.Config{MaxNames: n})
			})
		}
	}
}

// TestUnrecordedInputsStillCount: a record lacks what the live rule's
// condition reads (the remote address, a redacted attribute), so the
// live policy cannot be evaluated on it exactly. It still counts toward
// the rule it names when the live rule's patterns match it, its effect
// is the one recorded and no rule outranks it for certain; the older
// version's wider calls do not.
func TestUnrecordedInputsStillCount(t *testing.T) {
	const before = `
default: deny
rules:
  - {id: office, effect: allow, tools: ["*"], when: ["ip in 10.0.0.0/8"]}
  - {id: pay, effect: allow, tools: [pay], when: ['attr.region = "eu"']}
`
	const livePolicy = `
default: deny
rules:
  - {id: office, effect: allow, tools: ["read_*"], when: ["ip in 10.0.0.0/8"]}
  - {id: pay, effect: allow, agents: ["bot-*"], tools: [pay], when: ['attr.region = "eu"']}
  - {id: guard, effect: deny, agents: [bot-3]}
`
	from := func(r agenttrust.Request) agenttrust.Request {
		r.RemoteAddr = netip.MustParseAddr("10.1.2.3")
		return r
	}
	old := []agenttrust.Request{from(req("bot-1", "drop_table", "db/1", nil)), req("ops-1", "pay", "acct/1", map[string]any{"region": "eu"}),
		from(req("bot-3", "read_file", "db/1", nil))}
	now := []agenttrust.Request{from(req("bot-1", "read_file", "db/1", nil)), req("bot-2", "pay", "acct/1", map[string]any{"region": "eu"})}
	recs, p := trailRedacting(t, []string{"region"}, edit{before, old}, edit{livePolicy, now})
	for _, r := range recs {
		must.False(t, r.Rule == "pay" && !bytes.Contains(r.Attributes, []byte("[redacted]")), "region is kept: %s", r.Attributes)
	}
	var asked []agenttrust.PolicyInput
	for _, r := range slices.Concat(old, now) {
		asked = append(asked, agenttrust.PolicyInput{AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource, RemoteAddr: r.RemoteAddr, Attributes: r.Attributes})
	}
	rep := advised(t, recs, p, advise.Config{}, asked...)
	decided := map[string]int64{}
	for _, u := range rep.Rules {
		decided[u.ID] = u.Decided
	}
	expect.Equal(t, map[string]int64{"office": 1, "pay": 1, "guard": 0}, decided)
	want := testkit.Policy(t, `
default: deny
rules:
  - {id: office, effect: allow, agents: [bot-1], tools: [read_file], when: ["ip in 10.0.0.0/8"]}
  - {id: pay, effect: allow, agents: [bot-2], tools: [pay], when: ['attr.region = "eu"']}
  - {id: guard, effect: deny, agents: [bot-3]}
`, "yaml")
	expect.Equal(t, want, rep.Proposal)
}
