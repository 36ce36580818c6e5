package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/replay"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

// oldPolicy made the history; newPolicy is the proposal.
const oldPolicy = `
default: deny
rules:
  - id: read-all
    effect: allow
    tools: ["read_*"]
  - id: pay-small
    effect: allow
    tools: [pay]
    when: ["attr.amount < 100"]
  - id: pay-big
    effect: needs_approval
    tools: [pay]
    when: ["attr.amount >= 100"]
  - id: no-prod-delete
    effect: deny
    tools: [delete]
    when: ['attr.env = "prod"']
  - id: delete-dev
    effect: allow
    tools: [delete]
limits:
  - id: slow-export
    tools: [export]
    rate: 1/h
    burst: 1
`

// newPolicy narrows reads by resource and by a redacted attribute,
// lowers the payment threshold, denies deletes from one network (the
// address is never recorded) and allows exports.
const newPolicy = `
default: deny
rules:
  - id: secret-read
    effect: needs_approval
    tools: ["read_*"]
    when: ["attr.secret_level? > 3"]
  - id: read-public
    effect: allow
    tools: ["read_*"]
    resources: ["public/*"]
  - id: read-bots
    effect: allow
    tools: ["read_*"]
    agents: ["bot-1*"]
  - id: pay-small
    effect: allow
    tools: [pay]
    when: ["attr.amount < 50"]
  - id: pay-big
    effect: needs_approval
    tools: [pay]
    when: ["attr.amount >= 50"]
  - id: lab-delete
    effect: deny
    tools: [delete]
    when: ["ip in 10.0.0.0/8"]
  - id: no-prod-delete
    effect: deny
    tools: [delete]
    when: ['attr.env = "prod"']
  - id: delete-dev
    effect: allow
    tools: [delete]
  - id: export
    effect: allow
    tools: [export]
`

// history is an audit trail made by a real client, with the phase that
// decided each record as the generator arranged it ("" for the policy).
type history struct {
	recs   []agenttrust.AuditRecord
	phases []replay.Phase
}

// generate makes n checks of random requests through a client with
// oldPolicy: some agents suspended or revoked, some requests invalid,
// rate limited exports, approvals granted and consumed, attributes that
// are redacted in the record.
func generate(t *testing.T, n int, seed uint64) *history {
	t.Helper()
	ctx := context.Background()
	clock := testkit.NewClock()
	var mu sync.Mutex
	var recs []agenttrust.AuditRecord
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			r.Attributes = slices.Clone(r.Attributes)
			r.HopIDs = slices.Clone(r.HopIDs)
			recs = append(recs, r)
		}
		return nil
	})
	c, err := agenttrust.New(memory.New(),
		agenttrust.WithPolicy(testkit.Policy(t, oldPolicy, "yaml")), agenttrust.WithClock(clock.Now),
		agenttrust.WithRandom(testkit.NewRandom()),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}, Queue: 1 << 16}))
	must.NoError(t, err)
	defer c.Close()
	var phases []replay.Phase
	must.NoError(t, c.Suspend(ctx, "bot-13", "test"))
	must.NoError(t, c.Revoke(ctx, "bot-17"))
	phases = append(phases, replay.PhaseOperator, replay.PhaseOperator)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	exported := map[string]bool{}
	tools := []string{"read_file", "read_db", "pay", "delete", "export"}
	resources := []string{"public/a", "private/b", ""}
	for range n {
		clock.Advance(time.Millisecond)
		agent := fmt.Sprintf("bot-%d", rng.IntN(20))
		req := agenttrust.Request{
			AgentID: agent, Tool: tools[rng.IntN(len(tools))], Resource: resources[rng.IntN(len(resources))],
			RemoteAddr: netip.AddrFrom4([4]byte{byte(10 + rng.IntN(2)*182), 0, 0, 1}),
			Attributes: map[string]any{},
		}
		if rng.IntN(2) == 0 {
			req.Attributes["amount"] = rng.IntN(20) * 10
		}
		if rng.IntN(2) == 0 {
			req.Attributes["env"] = []string{"prod", "dev"}[rng.IntN(2)]
		}
		if rng.IntN(3) == 0 {
			req.Attributes["secret_level"] = rng.IntN(7) // redacted: its name holds "secret"
		}
		if rng.IntN(10) == 0 {
			req.Attributes["password"] = "hunter2"
		}
		phase := replay.Phase("")
		switch {
		case rng.IntN(25) == 0:
			req.AgentID = "" // refused: no agent
			phase = replay.PhaseValidation
		case agent == "bot-13" || agent == "bot-17":
			phase = replay.PhaseRevocation
		case req.Tool == "export" && exported[agent]:
			phase = replay.PhaseLimit
		case req.Tool == "export":
			exported[agent] = true
		}
		d, _ := c.Check(ctx, req)
		phases = append(phases, phase)
		if phase == "" && d.Effect == agenttrust.NeedsApproval && rng.IntN(2) == 0 {
			must.NoError(t, c.Approve(ctx, d.ApprovalID, "alice", ""))
			phases = append(phases, replay.PhaseOperator)
			d2, err := c.Check(ctx, req)
			must.NoError(t, err)
			must.Equal(t, agenttrust.Allow, d2.Effect)
			phases = append(phases, replay.PhaseApproval)
		}
	}
	must.NoError(t, c.SyncAudit(ctx))
	mu.Lock()
	defer mu.Unlock()
	must.Len(t, recs, len(phases))
	return &history{recs: recs, phases: phases}
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

// bruteForce is what replay must find, worked out the slow way: each
// record's phase from the generator, and for a replayed record every
// value its redacted attributes and its remote address could have had
// (values on each side of every threshold of newPolicy), evaluated with
// the proposed engine one by one. The outcome is known when they all
// agree.
func bruteForce(t testing.TB, h *history, p *agenttrust.Policy) *replay.Report {
	return bruteForceAt(t, len(h.recs), func(i int) (agenttrust.AuditRecord, replay.Phase) { return h.recs[i], h.phases[i] }, p)
}

// bruteForceAt is bruteForce over n records given one by one.
func bruteForceAt(t testing.TB, n int, at func(int) (agenttrust.AuditRecord, replay.Phase), p *agenttrust.Policy) *replay.Report {
	t.Helper()
	e, err := agenttrust.NewRuleEngine(p)
	must.NoError(t, err)
	domain := []any{json.Number("0"), json.Number("2"), json.Number("3"), json.Number("4"), json.Number("49"),
		json.Number("50"), json.Number("99"), json.Number("100"), "prod", "dev", "hunter2", true, false}
	addrs := []netip.Addr{{}, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.1")}
	type none struct{}
	var absent any = none{}
	// reads are the attributes p reads.
	var reads []string
	for _, r := range p.Rules {
		for _, w := range r.When {
			if n, ok := strings.CutPrefix(strings.Fields(w)[0], "attr."); ok && !slices.Contains(reads, strings.TrimSuffix(n, "?")) {
				reads = append(reads, strings.TrimSuffix(n, "?"))
			}
		}
	}
	for _, a := range p.Attributes {
		if !slices.Contains(reads, a.Name) {
			reads = append(reads, a.Name)
		}
	}
	type oc struct {
		eff  agenttrust.Effect
		rule string
	}
	eval := func(in *agenttrust.PolicyInput) oc {
		res, err := e.Evaluate(context.Background(), in)
		if err != nil {
			must.True(t, errors.Is(err, agenttrust.ErrUnevaluable) || errors.Is(err, agenttrust.ErrInvalidRequest), err)
			return oc{agenttrust.Deny, res.Rule}
		}
		return oc{res.Effect, res.Rule}
	}
	rep := &replay.Report{NotReplayable: map[replay.Phase]int64{}}
	effects := map[[2]string]int64{}
	rules := map[[4]string]int64{}
	agents := map[string]*replay.AgentChange{}
	for i := range n {
		r, phase := at(i)
		rep.Records++
		if phase != "" {
			rep.NotReplayable[phase]++
			continue
		}
		rep.Replayed++
		attrs := map[string]any{}
		if len(r.Attributes) > 0 {
			d := json.NewDecoder(strings.NewReader(string(r.Attributes)))
			d.UseNumber()
			must.NoError(t, d.Decode(&attrs))
		}
		var hidden []string
		for k, v := range attrs {
			if v == "[redacted]" {
				hidden = append(hidden, k)
			}
		}
		values := domain
		if len(attrs) == 1 && attrs["_truncated"] == true {
			// Attributes too large to record: each one the policy reads
			// may have been anything, or absent.
			clear(attrs)
			hidden, values = reads, append(slices.Clone(domain), absent)
		}
		var seen []oc
		var try func(k int)
		try = func(k int) {
			if k == len(hidden) {
				for _, a := range addrs {
					in := agenttrust.PolicyInput{Tenant: r.Tenant, AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
						SessionID: r.SessionID, OnBehalfOf: r.OnBehalfOf, Attributes: attrs, HopIDs: r.HopIDs, Time: r.Time, RemoteAddr: a}
					if o := eval(&in); !slices.Contains(seen, o) {
						seen = append(seen, o)
					}
				}
				return
			}
			for _, v := range values {
				if v == absent {
					delete(attrs, hidden[k])
				} else {
					attrs[hidden[k]] = v
				}
				try(k + 1)
			}
		}
		try(0)
		agent := agents[r.AgentID]
		if agent == nil {
			agent = &replay.AgentChange{Agent: r.AgentID}
		}
		switch {
		case len(seen) > 1:
			rep.Unknown++
			effects[[2]string{r.Effect.String(), replay.Unknown}]++
			agent.Unknown++
		case seen[0] == oc{r.Effect, r.Rule}:
			rep.Same++
			continue
		default:
			rep.Changed++
			if seen[0].eff != r.Effect {
				effects[[2]string{r.Effect.String(), seen[0].eff.String()}]++
			}
			rules[[4]string{r.Effect.String(), r.Rule, seen[0].eff.String(), seen[0].rule}]++
			agent.Changed++
		}
		agents[r.AgentID] = agent
	}
	for k, v := range effects {
		rep.Effects = append(rep.Effects, replay.EffectChange{From: k[0], To: k[1], Count: v})
	}
	for k, v := range rules {
		rep.Rules = append(rep.Rules, replay.RuleChange{FromEffect: k[0], FromRule: k[1], ToEffect: k[2], ToRule: k[3], Count: v})
	}
	for _, a := range agents {
		rep.Agents = append(rep.Agents, *a)
	}
	return rep
}

// TestMatchesBruteForce replays a generated history against newPolicy
// and compares every count with the brute-force re-evaluation.
func TestMatchesBruteForce(t *testing.T) {
	h := generate(t, 4000, 1)
	p := testkit.Policy(t, newPolicy, "yaml")
	want := bruteForce(t, h, p)
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			got, err := replay.Run(context.Background(), all(h.recs), replay.Config{Policy: p, Workers: workers, Examples: 2})
			must.NoError(t, err)
			expect.Equal(t, want.Records, got.Records)
			expect.Equal(t, want.NotReplayable, got.NotReplayable)
			expect.Equal(t, want.Replayed, got.Replayed)
			expect.Equal(t, want.Same, got.Same)
			expect.Equal(t, want.Changed, got.Changed)
			expect.Equal(t, want.Unknown, got.Unknown)
			expect.Zero(t, got.Failed)
			expect.ElementsMatch(t, want.Effects, got.Effects)
			expect.ElementsMatch(t, want.Rules, got.Rules)
			expect.ElementsMatch(t, want.Agents, got.Agents)
			// The history exercises every kind of answer.
			for _, n := range []int64{got.Same, got.Changed, got.Unknown} {
				expect.Positive(t, n)
			}
			for _, ph := range []replay.Phase{replay.PhaseValidation, replay.PhaseRevocation, replay.PhaseLimit, replay.PhaseApproval, replay.PhaseOperator} {
				expect.Positive(t, got.NotReplayable[ph], ph)
			}
			expect.NotEmpty(t, got.Examples)
			expect.True(t, slices.IsSortedFunc(got.Examples, func(a, b replay.Example) int { return int(a.N - b.N) }))
		})
	}
}

// TestSamePolicyChangesNothing replays a history against the policy that
// made it: every record the policy decided comes out the same, which
// holds only if the records are decoded as the policy saw them and every
// other phase is told apart.
func TestSamePolicyChangesNothing(t *testing.T) {
	h := generate(t, 3000, 2)
	got, err := replay.Run(context.Background(), all(h.recs), replay.Config{Policy: testkit.Policy(t, oldPolicy, "yaml")})
	must.NoError(t, err)
	expect.Zero(t, got.Changed, "%+v", got.Examples)
	expect.Zero(t, got.Unknown)
	expect.Equal(t, got.Replayed, got.Same)
	expect.Positive(t, got.Replayed)
}

// rec is a record the policy decided, for the tables below.
func rec(agent, tool, resource string, eff agenttrust.Effect, rule, attrs string) agenttrust.AuditRecord {
	return agenttrust.AuditRecord{Chain: "n/t", Seq: 1, Time: time.Unix(1e9, 0).UTC(), AgentID: agent, Tool: tool,
		Resource: resource, Effect: eff, Rule: rule, Attributes: json.RawMessage(attrs)}
}

// TestKnownAnswers decides single records with answers worked out by
// hand, the attacks on the unknown among them: a value the record does
// not keep must never let replay claim an allow.
func TestKnownAnswers(t *testing.T) {
	const proposal = `
default: deny
rules:
  - id: block-high
    effect: deny
    tools: [read]
    when: ["attr.secret_level? > 3"]
  - id: lab
    effect: allow
    tools: [lab]
    when: ["ip in 10.0.0.0/8"]
  - id: read
    effect: allow
    tools: [read]
  - id: pay
    effect: needs_approval
    tools: [pay]
    when: ["attr.amount >= 50"]
  - id: pay-small
    effect: allow
    tools: [pay]
  - id: keys
    effect: deny
    tools: [fetch]
    resources: ["files/**/id_rsa"]
  - id: fetch
    effect: allow
    tools: [fetch]
`
	p := testkit.Policy(t, proposal, "yaml")
	// A resource of 1,021 bytes or more may be the start of a longer one:
	// the record cuts on a character boundary at most 1,024 bytes in, and
	// a character takes at most 4. One of 1,020 bytes is whole.
	atBound, underBound := "files/"+strings.Repeat("a", 1021-len("files/")), "files/"+strings.Repeat("a", 1020-len("files/"))
	allow, deny, ask := agenttrust.Allow, agenttrust.Deny, agenttrust.NeedsApproval
	for name, tc := range map[string]struct {
		r        agenttrust.AuditRecord
		to, rule string // to "" means not replayed
	}{
		"same":                  {rec("a", "read", "", allow, "read", ""), "allow", "read"},
		"rule renamed":          {rec("a", "read", "", allow, "old-read", ""), "allow", "read"},
		"deny to allow":         {rec("a", "read", "", deny, "", `{"secret_level":1}`), "allow", "read"},
		"allow to deny":         {rec("a", "read", "", allow, "read", `{"secret_level":5}`), "deny", "block-high"},
		"allow to approval":     {rec("a", "pay", "", allow, "p", `{"amount":70}`), "needs_approval", "pay"},
		"decimal kept exactly":  {rec("a", "pay", "", allow, "pay-small", `{"amount":49.99999999}`), "allow", "pay-small"},
		"default deny":          {rec("a", "write", "", allow, "w", ""), "deny", ""},
		"redacted, optional":    {rec("a", "read", "", allow, "read", `{"secret_level":"[redacted]"}`), replay.Unknown, ""},
		"credential in text":    {rec("a", "read", "", allow, "read", `{"secret_level":"x [redacted credential]"}`), replay.Unknown, ""},
		"unstorable text":       {rec("a", "read", "", allow, "read", `{"secret_level":"a\ufffd"}`), replay.Unknown, ""},
		"redacted, unused":      {rec("a", "pay", "", allow, "pay-small", `{"password":"[redacted]","amount":3}`), "allow", "pay-small"},
		"address not recorded":  {rec("a", "lab", "", allow, "lab", ""), replay.Unknown, ""},
		"address cannot matter": {rec("a", "read", "", allow, "read", ""), "allow", "read"},
		"redacted name":         {rec("a", "read", "", allow, "read", `{"[redacted credential]":1}`), replay.Unknown, ""},
		"pending approval":      {rec("a", "pay", "", ask, "pay", `{"amount":70}`), "needs_approval", "pay"},
		"truncated, read":       {rec("a", "pay", "", allow, "pay-small", `{"_truncated":true}`), replay.Unknown, ""},
		"truncated, re-encoded": {rec("a", "read", "", allow, "read", `{ "_truncated": true }`), replay.Unknown, ""},
		"truncated, unread":     {rec("a", "fetch", "files/a", allow, "fetch", `{"_truncated":true}`), "allow", "fetch"},
		"not the mark":          {rec("a", "pay", "", allow, "pay-small", `{"_truncated":true,"amount":3}`), "allow", "pay-small"},
		"resource at bound":     {rec("a", "fetch", atBound, allow, "fetch", ""), replay.Unknown, ""},
		"resource under bound":  {rec("a", "fetch", underBound, allow, "fetch", ""), "allow", "fetch"},
		"resource unread":       {rec("a", "read", atBound, allow, "read", ""), "allow", "read"},
		"consumed approval":     {agenttrust.AuditRecord{Tool: "pay", Effect: allow, Rule: "pay", ApprovalID: "apr_1", Reason: "approved by bob"}, "", ""},
		"rate limited":          {agenttrust.AuditRecord{Tool: "pay", Effect: deny, Rule: "lim", Reason: "rate limit exceeded"}, "", ""},
		"revoked":               {agenttrust.AuditRecord{Tool: "read", Effect: deny, Reason: "agent revoked"}, "", ""},
		"breaker":               {agenttrust.AuditRecord{Tool: "read", Effect: deny, Rule: "agenttrust.breaker", Reason: "runaway breaker: x"}, "", ""},
		"operator":              {agenttrust.AuditRecord{Tool: "agenttrust.revoke", Effect: allow}, "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := replay.Run(context.Background(), all([]agenttrust.AuditRecord{tc.r}), replay.Config{Policy: p})
			must.NoError(t, err)
			if tc.to == "" {
				expect.Zero(t, got.Replayed)
				expect.Len(t, got.NotReplayable, 1)
				return
			}
			must.EqualValues(t, 1, got.Replayed)
			switch {
			case tc.to == replay.Unknown:
				expect.EqualValues(t, 1, got.Unknown)
				must.Len(t, got.Examples, 1)
				expect.NotEmpty(t, got.Examples[0].Why)
			case tc.to == tc.r.Effect.String() && tc.rule == tc.r.Rule:
				expect.EqualValues(t, 1, got.Same)
			default:
				expect.EqualValues(t, 1, got.Changed)
				must.Len(t, got.Rules, 1)
				expect.Equal(t, replay.RuleChange{FromEffect: tc.r.Effect.String(), FromRule: tc.r.Rule, ToEffect: tc.to, ToRule: tc.rule, Count: 1}, got.Rules[0])
			}
		})
	}
}

// TestEngineRedactedIsUnknown: an engine replay cannot look into counts
// every record with a redacted value, truncated attributes or a resource
// at the record's bound as unknown, and its failures as denies.
func TestEngineRedactedIsUnknown(t *testing.T) {
	allowAll := agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
		return agenttrust.PolicyResult{Effect: agenttrust.Allow, Rule: "all"}, nil
	})
	recs := []agenttrust.AuditRecord{
		rec("a", "read", "", agenttrust.Deny, "", `{"token":"[redacted]"}`),
		rec("a", "read", "", agenttrust.Deny, "", `{"n":1}`),
		rec("a", "read", "", agenttrust.Deny, "", `{"_truncated":true}`),
		rec("a", "read", strings.Repeat("a", 1024), agenttrust.Deny, "", ""),
	}
	got, err := replay.Run(context.Background(), all(recs), replay.Config{Engine: allowAll})
	must.NoError(t, err)
	expect.EqualValues(t, 3, got.Unknown)
	expect.EqualValues(t, 1, got.Changed)

	panics := agenttrust.PolicyEngineFunc(func(context.Context, *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
		panic("boom")
	})
	got, err = replay.Run(context.Background(), all(recs[1:2]), replay.Config{Engine: panics})
	must.NoError(t, err)
	expect.EqualValues(t, 1, got.Failed)
	expect.EqualValues(t, 1, got.Same, "a failing engine denies")
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	p := testkit.Policy(t, oldPolicy, "yaml")
	_, err := replay.Run(ctx, all(nil), replay.Config{})
	expect.ErrorIs(t, err, agenttrust.ErrInvalidConfig)
	_, err = replay.Run(ctx, all(nil), replay.Config{Policy: p, Engine: agenttrust.PolicyEngineFunc(nil)})
	expect.ErrorIs(t, err, agenttrust.ErrInvalidConfig)
	_, err = replay.Run(ctx, all(nil), replay.Config{Policy: &agenttrust.Policy{Rules: []agenttrust.Rule{{}}}})
	expect.ErrorIs(t, err, agenttrust.ErrInvalidPolicy)

	boom := errors.New("boom")
	failing := func(yield func(agenttrust.AuditRecord, error) bool) {
		for range 2000 {
			if !yield(rec("a", "read", "", agenttrust.Allow, "read-all", ""), nil) {
				return
			}
		}
		yield(agenttrust.AuditRecord{}, boom)
	}
	_, err = replay.Run(ctx, failing, replay.Config{Policy: p})
	expect.ErrorIs(t, err, boom)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = replay.Run(cctx, failing, replay.Config{Policy: p})
	expect.ErrorIs(t, err, context.Canceled)
}

// TestRecordsPages reads a store in small pages and gets every record
// once, in order.
func TestRecordsPages(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	for _, chain := range []string{"a", "b"} {
		var batch []agenttrust.AuditRecord
		for i := range 25 {
			batch = append(batch, agenttrust.AuditRecord{Chain: chain, Seq: uint64(i + 1), Time: time.Unix(int64(i), 0), AgentID: "x", Tool: "t"})
		}
		must.NoError(t, st.AppendAudit(ctx, batch))
	}
	var got []string
	for r, err := range replay.Records(ctx, st, store.AuditQuery{}, 7) {
		must.NoError(t, err)
		got = append(got, fmt.Sprintf("%s/%d", r.Chain, r.Seq))
	}
	must.Len(t, got, 50)
	expect.Equal(t, "a/1", got[0])
	expect.Equal(t, "b/25", got[49])
	expect.Len(t, slices.Compact(slices.Clone(got)), 50)
}

// TestPhasesFromClient makes a real client write the record of each
// phase replay must leave alone, and of the policy's own decisions, and
// checks that replay tells them apart.
func TestPhasesFromClient(t *testing.T) {
	ctx := context.Background()
	var recs []agenttrust.AuditRecord
	var mu sync.Mutex
	sink := sinkFunc(func(_ context.Context, rs []agenttrust.AuditRecord) error {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, rs...)
		return nil
	})
	clock := testkit.NewClock()
	c, err := agenttrust.New(memory.New(), testkit.Keys(),
		agenttrust.WithPolicy(testkit.Policy(t, oldPolicy, "yaml")), agenttrust.WithClock(clock.Now),
		agenttrust.WithRandom(testkit.NewRandom()), agenttrust.WithBreaker(agenttrust.BreakerConfig{MaxDenials: 3}),
		agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{sink}}))
	must.NoError(t, err)
	defer c.Close()
	check := func(req agenttrust.Request) agenttrust.Decision {
		d, _ := c.Check(ctx, req)
		return d
	}
	check(agenttrust.Request{AgentID: "a", Tool: "read_x"})                                              // policy: allow
	check(agenttrust.Request{AgentID: "a", Tool: "write"})                                               // policy: default deny
	d := check(agenttrust.Request{AgentID: "a", Tool: "pay", Attributes: map[string]any{"amount": 500}}) // policy: needs approval
	must.NoError(t, c.Approve(ctx, d.ApprovalID, "bob", ""))                                             // operator
	check(agenttrust.Request{AgentID: "a", Tool: "pay", Attributes: map[string]any{"amount": 500}})      // approval
	check(agenttrust.Request{Credential: "att_garbage", Tool: "read_x"})                                 // credential
	check(agenttrust.Request{AgentID: "v", Tool: ""})                                                    // validation (counted for v: the breaker counts a's denials)
	check(agenttrust.Request{AgentID: "c", Tool: "export"})                                              // policy: default deny
	check(agenttrust.Request{AgentID: "c", Tool: "export"})                                              // limit
	for range 3 {
		check(agenttrust.Request{AgentID: "b", Tool: "write"}) // policy, policy, breaker
	}
	check(agenttrust.Request{AgentID: "b", Tool: "read_x"}) // revocation: suspended by the breaker
	budgeted, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "a", Caveats: []string{"budget calls <= 1"}})
	must.NoError(t, err)
	check(agenttrust.Request{Credential: budgeted, Tool: "read_x"}) // policy: allow, spending the budget
	check(agenttrust.Request{Credential: budgeted, Tool: "read_x"}) // budget: exhausted
	must.NoError(t, c.SyncAudit(ctx))
	want := []replay.Phase{"", "", "", replay.PhaseOperator, replay.PhaseApproval, replay.PhaseCredential,
		replay.PhaseValidation, "", replay.PhaseLimit, "", "", replay.PhaseBreaker, replay.PhaseRevocation,
		replay.PhaseOperator, "", replay.PhaseBudget}
	mu.Lock()
	defer mu.Unlock()
	must.Len(t, recs, len(want))
	for i, r := range recs {
		got, err := replay.Run(ctx, all(recs[i:i+1]), replay.Config{Policy: testkit.Policy(t, oldPolicy, "yaml")})
		must.NoError(t, err)
		if want[i] == "" {
			expect.EqualValues(t, 1, got.Same, "record %d (%s %s: %s)", i, r.Tool, r.Effect, r.Reason)
			continue
		}
		expect.Equal(t, map[replay.Phase]int64{want[i]: 1}, got.NotReplayable, "record %d (%s %s: %s)", i, r.Tool, r.Effect, r.Reason)
	}
}

// FuzzRecord replays one record of arbitrary attributes and outcome: it
// never fails, its counts add up, and it is never less careful than the
// brute force: what the brute force cannot tell, replay does not claim
// to know, and what replay claims agrees with it.
func FuzzRecord(f *testing.F) {
	f.Add(`{"amount":70}`, "pay", "pay-small", uint8(1), "")
	f.Add(`{"amount":"[redacted]","secret_level":"[redacted]"}`, "pay", "", uint8(0), "")
	f.Add(`{"secret_level":"[redacted]"}`, "read_x", "read-all", uint8(1), "")
	f.Add(`{"env":"prod","x":[1,{"a":"[redacted credential]"}]}`, "delete", "", uint8(2), "rate limit exceeded")
	f.Add(`not json`, "read_x", "", uint8(1), "")
	f.Add(`{"_truncated":true}`, "pay", "pay-small", uint8(1), "")
	f.Add(`{"_truncated":true}`, "export", "export", uint8(1), "")
	p := testkit.Policy(f, newPolicy, "yaml")
	f.Fuzz(func(t *testing.T, attrs, tool, rule string, eff uint8, reason string) {
		r := rec("a", tool, "public/a", agenttrust.Effect(eff%3), rule, attrs)
		r.Reason = reason
		got, err := replay.Run(context.Background(), all([]agenttrust.AuditRecord{r}), replay.Config{Policy: p, Workers: 1})
		must.NoError(t, err)
		must.EqualValues(t, 1, got.Records)
		var notReplayed int64
		for _, n := range got.NotReplayable {
			notReplayed += n
		}
		must.Equal(t, got.Records, got.Replayed+notReplayed)
		must.Equal(t, got.Replayed, got.Same+got.Changed+got.Unknown)
		if got.Replayed == 0 || got.Unknown == 1 || !json.Valid([]byte(attrs)) || !strings.HasPrefix(attrs, "{") {
			return
		}
		var m map[string]any
		if json.Unmarshal([]byte(attrs), &m) != nil {
			return
		}
		want := bruteForceAt(t, 1, func(int) (agenttrust.AuditRecord, replay.Phase) { return r, "" }, p)
		must.Zero(t, want.Unknown, "replay claims an outcome the brute force cannot tell")
		must.Equal(t, want.Same, got.Same)
		must.Equal(t, want.Rules, got.Rules)
	})
}

// sinkFunc adapts a function to agenttrust.AuditSink.
type sinkFunc func(ctx context.Context, recs []agenttrust.AuditRecord) error

func (f sinkFunc) Write(ctx context.Context, recs []agenttrust.AuditRecord) error {
	return f(ctx, recs)
}
