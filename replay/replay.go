package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// Config says what to replay the records against. Exactly one of Policy
// and Engine is set. The zero Config is refused: it names no policy.
type Config struct {
	// Policy is the proposed rule set. Replay reads its rules, so it can
	// tell exactly which records depend on what the audit does not keep
	// (see Report.Unknown). Its limits are not replayed: whether a rate
	// limit would have refused depends on timing the record does not
	// decide.
	Policy *agenttrust.Policy
	// Engine is any other proposed engine. Replay cannot see what it
	// reads, so every record with a redacted value, with attributes too
	// large to record or with a resource the record may have cut counts
	// as unknown, and it is given no remote address.
	Engine agenttrust.PolicyEngine
	// Examples bounds the examples kept for each change of effect and for
	// the unknown records (default 5; negative for none). The earliest
	// records in the order read are kept.
	Examples int
	// MaxAgents bounds the agents listed in the report (default 1,000),
	// those with the most changed or unknown records first.
	MaxAgents int
	// Workers is how many goroutines evaluate records (default
	// GOMAXPROCS).
	Workers int
}

// Report is what a replay found. A plain value; its JSON form is what
// `agenttrust policy replay --json` prints.
type Report struct {
	// Records is how many records were read.
	Records int64 `json:"records"`
	// Replayed is how many the policy had decided, and were decided again.
	Replayed int64 `json:"replayed"`
	// Same, Changed and Unknown split Replayed: the new outcome (effect
	// and rule) is the recorded one, another one, or cannot be told from
	// the record because it depends on what the record does not keep (a
	// redacted attribute, attributes too large to record, a resource cut
	// to the record's bound, the remote address). An unknown record is
	// never counted as allowed.
	Same    int64 `json:"same"`
	Changed int64 `json:"changed"`
	Unknown int64 `json:"unknown"`
	// Failed is how many replayed records the proposed engine failed on
	// (an error other than a condition it could not evaluate, a panic,
	// an invalid effect); they count as denied, as a live check does.
	Failed int64 `json:"failed"`
	// NotReplayable counts the records another phase decided, by phase:
	// their outcome stands whatever the policy.
	NotReplayable map[Phase]int64 `json:"not_replayable"`
	// Effects counts the replayed records whose effect changes, or that
	// turn unknown, by old and new effect; most first.
	Effects []EffectChange `json:"effects"`
	// Rules counts the changed records by old and new outcome (effect and
	// deciding rule); most first.
	Rules []RuleChange `json:"rules"`
	// Agents are the agents with changed or unknown records, most first,
	// at most Config.MaxAgents; AgentsOmitted counts those left out.
	Agents        []AgentChange `json:"agents"`
	AgentsOmitted int           `json:"agents_omitted,omitempty"`
	// Examples are records of each change of effect and unknown ones, at
	// most Config.Examples of each, in the order read.
	Examples []Example `json:"examples"`
}

// Unknown is the effect name a report gives a new outcome it cannot tell.
const Unknown = "unknown"

// EffectChange counts records going from one effect to another (or to
// Unknown).
type EffectChange struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int64  `json:"count"`
}

// RuleChange counts records whose outcome changes from one effect and
// rule to another. An empty rule is the policy's default.
type RuleChange struct {
	FromEffect string `json:"from_effect"`
	FromRule   string `json:"from_rule"`
	ToEffect   string `json:"to_effect"`
	ToRule     string `json:"to_rule"`
	Count      int64  `json:"count"`
}

// AgentChange counts the changed and unknown records of one agent.
type AgentChange struct {
	Agent   string `json:"agent"`
	Changed int64  `json:"changed"`
	Unknown int64  `json:"unknown"`
}

// Example is one replayed record whose outcome changes or is unknown.
type Example struct {
	// N is the record's position in the order read, from 0.
	N          int64                 `json:"n"`
	ID         agenttrust.DecisionID `json:"id"`
	Chain      string                `json:"chain"`
	Seq        uint64                `json:"seq"`
	Time       time.Time             `json:"time"`
	AgentID    string                `json:"agent_id"`
	Tool       string                `json:"tool"`
	Resource   string                `json:"resource,omitempty"`
	FromEffect string                `json:"from_effect"`
	FromRule   string                `json:"from_rule,omitempty"`
	ToEffect   string                `json:"to_effect"`
	ToRule     string                `json:"to_rule,omitempty"`
	// Why says what an unknown outcome depends on.
	Why string `json:"why,omitempty"`
}

// Records reads the records matching q from an audit store, page by page
// in (chain, seq) order: a log of any size is read in pieces of at most
// pageSize records (1,000 when not positive). q.Limit and its paging
// fields are the reader's own.
func Records(ctx context.Context, s store.Audit, q store.AuditQuery, pageSize int) iter.Seq2[agenttrust.AuditRecord, error] {
	if pageSize <= 0 {
		pageSize = 1000
	}
	return func(yield func(agenttrust.AuditRecord, error) bool) {
		q.Limit, q.AfterChain, q.AfterSeq = pageSize, "", 0
		for {
			page, err := s.QueryAudit(ctx, q)
			if err != nil {
				yield(agenttrust.AuditRecord{}, err)
				return
			}
			for i := range page {
				if !yield(page[i], nil) {
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			last := &page[len(page)-1]
			q.AfterChain, q.AfterSeq = last.Chain, last.Seq
		}
	}
}

// batchSize is how many records go to a worker at once.
const batchSize = 512

type batch struct {
	first int64 // position of recs[0]
	recs  []agenttrust.AuditRecord
}

// Run re-evaluates every record of records against the proposed policy
// and reports what would change. Records are read once, in order, and
// not kept: memory does not grow with the log, only with the agents
// counted. An error of records, of ctx, or of cfg stops the run and is
// returned with no report.
func Run(ctx context.Context, records iter.Seq2[agenttrust.AuditRecord, error], cfg Config) (*Report, error) {
	if (cfg.Policy == nil) == (cfg.Engine == nil) {
		return nil, fmt.Errorf("%w: replay needs a policy or an engine, not both", agenttrust.ErrInvalidConfig)
	}
	var plan *planner
	if cfg.Policy != nil {
		var err error
		if plan, err = newPlanner(cfg.Policy); err != nil {
			return nil, err
		}
	}
	if cfg.Examples == 0 {
		cfg.Examples = 5
	}
	if cfg.MaxAgents <= 0 {
		cfg.MaxAgents = 1000
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *batch, workers)
	free := make(chan *batch, 2*workers)
	ws := make([]*worker, workers)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = newWorker(plan, cfg)
		wg.Go(func() {
			for b := range work {
				ws[i].run(ctx, b)
				select {
				case free <- b:
				default:
				}
			}
		})
	}
	var n int64
	var err error
	b := &batch{recs: make([]agenttrust.AuditRecord, 0, batchSize)}
	send := func() bool {
		select {
		case work <- b:
		case <-ctx.Done():
			return false
		}
		select {
		case b = <-free:
			clear(b.recs)
			b.recs = b.recs[:0]
		default:
			b = &batch{recs: make([]agenttrust.AuditRecord, 0, batchSize)}
		}
		b.first = n
		return true
	}
	for r, rerr := range records {
		if rerr != nil {
			err = fmt.Errorf("agenttrust: replay: reading the audit: %w", rerr)
			break
		}
		if ctx.Err() != nil {
			break
		}
		b.recs = append(b.recs, r)
		n++
		if len(b.recs) == batchSize && !send() {
			break
		}
	}
	if err == nil && len(b.recs) > 0 {
		send()
	}
	close(work)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return merge(ws, cfg), nil
}

// outcome is a decision as the report compares it.
type outcome struct {
	effect agenttrust.Effect
	rule   string
	failed bool
}

type transition struct{ from, to string }

type ruleKey struct {
	from, to outcome
}

// worker evaluates batches and keeps its own counts; Run merges them.
type worker struct {
	plan       *planner
	engine     agenttrust.PolicyEngine
	examples   int
	bounds     map[string]*bounds
	boundRules int // the rules of the policies in bounds
	names      []string
	opaque     []string
	wide       []string
	attrs      map[string]any
	rd         bytes.Reader
	in         agenttrust.PolicyInput

	records, replayed, same, changed, unknown, failed int64
	phases                                            map[Phase]int64
	effects                                           map[transition]int64
	rules                                             map[ruleKey]int64
	agents                                            map[string]*AgentChange
	agentsOver                                        bool
	kept                                              map[transition][]Example
}

// maxAgentsTracked bounds the agents one worker counts, so a log of
// millions of one-off agents cannot exhaust memory.
const maxAgentsTracked = 1 << 17

func newWorker(plan *planner, cfg Config) *worker {
	w := &worker{
		plan: plan, engine: cfg.Engine, examples: cfg.Examples,
		bounds: map[string]*bounds{}, attrs: map[string]any{},
		phases: map[Phase]int64{}, effects: map[transition]int64{}, rules: map[ruleKey]int64{},
		agents: map[string]*AgentChange{}, kept: map[transition][]Example{},
	}
	return w
}

func (w *worker) run(ctx context.Context, b *batch) {
	for i := range b.recs {
		if ctx.Err() != nil {
			return
		}
		w.one(ctx, b.first+int64(i), &b.recs[i])
	}
}

// one replays one record.
func (w *worker) one(ctx context.Context, n int64, r *agenttrust.AuditRecord) {
	w.records++
	if ph := PhaseOf(r); ph != "" {
		w.phases[ph]++
		return
	}
	w.replayed++
	old := outcome{effect: r.Effect, rule: r.Rule}
	var err error
	w.opaque, err = decodeAttrs(r.Attributes, w.attrs, w.opaque[:0], &w.rd)
	var (
		out outcome
		ok  bool
		why string
	)
	lost := err == nil && truncated(w.attrs)
	if lost {
		// Every attribute is lost, and the record holds only the mark.
		clear(w.attrs)
		if w.plan != nil {
			w.opaque = append(w.opaque, w.plan.attrs...)
		}
	}
	if clipped(r.Resource) {
		w.opaque = append(w.opaque, resourceName)
	}
	switch {
	case err != nil:
		why = err.Error()
	default:
		w.in = agenttrust.PolicyInput{
			Tenant: r.Tenant, AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
			SessionID: r.SessionID, OnBehalfOf: r.OnBehalfOf, Attributes: w.attrs,
			HopIDs: r.HopIDs, Time: r.Time,
		}
		out, ok, why = w.decide(ctx, lost)
		if w.wide = goIntegers(w.attrs, w.wide[:0]); ok && len(w.wide) > 0 {
			// The request may have held them as Go integers: decided
			// that way too, the record is known only when both agree.
			if alt, altOK, _ := w.decide(ctx, lost); !altOK || alt != out {
				slices.Sort(w.wide)
				ok, why = false, "depends on whether the request held "+describeInts(w.wide)+" as a Go integer or as text (past 2^53 conditions read them otherwise)"
			}
		}
		w.in = agenttrust.PolicyInput{}
	}
	if !ok {
		w.unknown++
		w.count(n, r, old, transition{old.effect.String(), Unknown}, outcome{}, why)
		return
	}
	if out.failed {
		w.failed++
	}
	if out.effect == old.effect && out.rule == old.rule ||
		out.effect == agenttrust.NeedsApproval && out.rule == old.rule && approvalRefused(r) {
		// The same rule asks for an approval again: the approval phase
		// decides it as it did.
		w.same++
		return
	}
	w.changed++
	w.rules[ruleKey{old, outcome{effect: out.effect, rule: out.rule}}]++
	t := transition{old.effect.String(), out.effect.String()}
	w.count(n, r, old, t, out, "")
}

// decide decides w.in, the record's request, against the proposal; ok
// is false when the answer depends on what the record does not keep.
func (w *worker) decide(ctx context.Context, lost bool) (out outcome, ok bool, why string) {
	switch {
	case w.plan != nil:
		return w.decidePolicy(ctx, &w.in, w.opaque, lost)
	case lost:
		return outcome{}, false, "depends on what the engine reads of the attributes (too large to record)"
	case len(w.opaque) > 0:
		return outcome{}, false, "depends on what the engine reads of " + describeNames(w.opaque, lost)
	}
	return w.evaluate(ctx, w.engine, &w.in), true, ""
}

// count notes a changed or unknown record: its effect change, its agent,
// and an example.
func (w *worker) count(n int64, r *agenttrust.AuditRecord, old outcome, t transition, out outcome, why string) {
	if t.from != t.to {
		w.effects[t]++
	}
	a := w.agents[r.AgentID]
	if a == nil {
		if len(w.agents) >= maxAgentsTracked {
			w.agentsOver = true
		} else {
			a = &AgentChange{Agent: r.AgentID}
			w.agents[r.AgentID] = a
		}
	}
	if a != nil {
		if why != "" {
			a.Unknown++
		} else {
			a.Changed++
		}
	}
	if w.examples < 0 || len(w.kept[t]) >= w.examples {
		return
	}
	ex := Example{
		N: n, ID: r.ID, Chain: r.Chain, Seq: r.Seq, Time: r.Time, AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
		FromEffect: old.effect.String(), FromRule: old.rule, ToEffect: t.to, Why: why,
	}
	if why == "" {
		ex.ToRule = out.rule
	}
	w.kept[t] = append(w.kept[t], ex)
}

// evaluate asks e, as a live check would: an error or a panic denies.
// An error saying a condition cannot be evaluated on the request, or that
// the request breaks a declared attribute type, is a decision of the
// policy, as it is live; any other is a failure of the engine.
func (w *worker) evaluate(ctx context.Context, e agenttrust.PolicyEngine, in *agenttrust.PolicyInput) (out outcome) {
	defer func() {
		if recover() != nil {
			out = outcome{effect: agenttrust.Deny, failed: true}
		}
	}()
	res, err := e.Evaluate(ctx, in)
	switch {
	case err != nil && (errors.Is(err, agenttrust.ErrUnevaluable) || errors.Is(err, agenttrust.ErrInvalidRequest)):
		return outcome{effect: agenttrust.Deny, rule: res.Rule}
	case err != nil || res.Effect > agenttrust.NeedsApproval:
		return outcome{effect: agenttrust.Deny, failed: true}
	}
	return outcome{effect: res.Effect, rule: res.Rule}
}

// merge adds up the workers' counts into the report.
func merge(ws []*worker, cfg Config) *Report {
	rep := &Report{NotReplayable: map[Phase]int64{}}
	effects := map[transition]int64{}
	rules := map[ruleKey]int64{}
	agents := map[string]*AgentChange{}
	kept := map[transition][]Example{}
	over := false
	for _, w := range ws {
		rep.Records += w.records
		rep.Replayed += w.replayed
		rep.Same += w.same
		rep.Changed += w.changed
		rep.Unknown += w.unknown
		rep.Failed += w.failed
		for k, v := range w.phases {
			rep.NotReplayable[k] += v
		}
		for k, v := range w.effects {
			effects[k] += v
		}
		for k, v := range w.rules {
			rules[k] += v
		}
		for k, v := range w.agents {
			if a := agents[k]; a != nil {
				a.Changed += v.Changed
				a.Unknown += v.Unknown
			} else {
				agents[k] = v
			}
		}
		over = over || w.agentsOver
		for k, v := range w.kept {
			kept[k] = append(kept[k], v...)
		}
	}
	for k, v := range effects {
		rep.Effects = append(rep.Effects, EffectChange{From: k.from, To: k.to, Count: v})
	}
	sort.Slice(rep.Effects, func(i, j int) bool {
		a, b := rep.Effects[i], rep.Effects[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.From+"\x00"+a.To < b.From+"\x00"+b.To
	})
	for k, v := range rules {
		rep.Rules = append(rep.Rules, RuleChange{
			FromEffect: k.from.effect.String(), FromRule: k.from.rule,
			ToEffect: k.to.effect.String(), ToRule: k.to.rule, Count: v,
		})
	}
	sort.Slice(rep.Rules, func(i, j int) bool {
		a, b := rep.Rules[i], rep.Rules[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.key() < b.key()
	})
	for _, a := range agents {
		rep.Agents = append(rep.Agents, *a)
	}
	sort.Slice(rep.Agents, func(i, j int) bool {
		a, b := rep.Agents[i], rep.Agents[j]
		if a.Changed+a.Unknown != b.Changed+b.Unknown {
			return a.Changed+a.Unknown > b.Changed+b.Unknown
		}
		return a.Agent < b.Agent
	})
	if len(rep.Agents) > cfg.MaxAgents {
		rep.AgentsOmitted = len(rep.Agents) - cfg.MaxAgents
		rep.Agents = rep.Agents[:cfg.MaxAgents]
	}
	if over {
		// Some agents were not counted at all: say so, without a number.
		rep.AgentsOmitted = max(rep.AgentsOmitted, 1)
	}
	for _, v := range kept {
		slices.SortFunc(v, func(a, b Example) int { return int(a.N - b.N) })
		rep.Examples = append(rep.Examples, v[:min(len(v), cfg.Examples)]...)
	}
	slices.SortFunc(rep.Examples, func(a, b Example) int { return int(a.N - b.N) })
	return rep
}

func (c RuleChange) key() string {
	return c.FromEffect + "\x00" + c.FromRule + "\x00" + c.ToEffect + "\x00" + c.ToRule
}
