// Package advise reads an audit trail against the live policy and says
// where the policy grants more than the agents use: the grants no
// decision used in the window read, the rules that decided nothing, the
// tools each agent may call but never did, and a narrower policy, as a
// diff, that allows nothing the live policy denies and every call the
// trail shows the live policy allowing by the same rule.
//
// # What the proposal changes
//
// Only allow rules: one that decided nothing is removed, and one that did
// has its agents and tools narrowed to those it was seen deciding for
// (kept as they were past MaxNames distinct values). Deny and
// needs_approval rules, resources, conditions and the default stay as
// they are: removing or narrowing any of those could let through what the
// live policy stops. A narrowed rule lists only exact names its live
// patterns match, so whatever the proposal allows, the live policy
// allows, and every call the trail records as allowed by a rule that the
// live policy still allows by that rule is allowed by the same rule under
// the proposal (the tests replay the trail against it to check).
//
// # Which records count
//
// A trail read over weeks spans policy edits, and an edit may keep a
// rule's id while changing what it matches, or its effect. So a record
// counts toward a rule only when the live policy, evaluated on the
// request the record keeps (agent, tool, resource, attributes, session,
// hops, time), decides it by that same rule. When the record lacks what
// the policy reads (a redacted attribute; the remote address, which no
// record keeps) it counts when the live rule's agents, tools and
// resources match it and its effect is the one recorded. A record
// decided by an older version of a rule the live policy no longer
// matches it with says nothing of the live rule: it is not counted in
// Rules, and its names never enter the proposal.
//
// # Command line
//
//	agenttrust policy advise --since 30d [--json]
//
// reads the tenant's audit and its stored policy through the server's
// API.
package advise

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/replay"
)

// Config tunes Run. The zero Config is ready to use.
type Config struct {
	// MaxNames bounds the agents or tools a narrowed rule lists (default
	// 50): a rule used by more keeps its patterns for that field.
	MaxNames int
	// MaxPairs bounds the (agent, tool) pairs examined for Uncalled
	// (default 200,000); Report.UncalledTruncated says when it was
	// reached.
	MaxPairs int
	// MaxAgents bounds the distinct agents and tools tracked (default
	// 100,000 each); what is kept of their names for Uncalled is bounded
	// in bytes too, so a trail of one-off names cannot exhaust memory.
	MaxAgents int
}

// Report is what Run found. A plain value.
type Report struct {
	// Records is how many records were read; Decided how many the policy
	// decided (the others, such as revocations, rate limits and operator
	// actions, say nothing of the rules).
	Records int64 `json:"records"`
	Decided int64 `json:"decided"`
	// From and To are the times of the first and last record read.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Rules says how much each rule of the policy decided, in the
	// policy's order: the records the live policy decides by it (see
	// "Which records count").
	Rules []RuleUse `json:"rules"`
	// UnusedGrants are the allow and needs_approval rules that decided
	// nothing in the trail read.
	UnusedGrants []string `json:"unused_grants"`
	// NeverMatched are the rules of any effect that decided nothing.
	NeverMatched []string `json:"never_matched"`
	// Uncalled lists, per agent seen, the tools seen in the trail that
	// the policy lets that agent call (with no attributes and any
	// resource seen with the tool) but that it never called.
	// UncalledTruncated says it is incomplete: MaxPairs was reached, or
	// the trail named more agents, tools and resources than advise keeps
	// (about 16 MiB of them).
	Uncalled          []AgentTools `json:"uncalled"`
	UncalledTruncated bool         `json:"uncalled_truncated,omitempty"`
	// Proposal is the narrower policy, and Diff the change from the live
	// one, as a line diff of their YAML ("" when there is nothing to
	// narrow).
	Proposal *agenttrust.Policy `json:"proposal"`
	Diff     string             `json:"diff"`
}

// RuleUse is how much one rule decided.
type RuleUse struct {
	ID       string    `json:"id"`
	Effect   string    `json:"effect"`
	Decided  int64     `json:"decided"`
	LastUsed time.Time `json:"last_used,omitzero"`
	// Agents and Tools are how many distinct ones it decided for.
	Agents int `json:"agents"`
	Tools  int `json:"tools"`
}

// AgentTools names tools one agent may call but did not.
type AgentTools struct {
	Agent string   `json:"agent"`
	Tools []string `json:"tools"`
}

// decidedByPolicy reports whether a rule of the policy decided r, as far
// as advice goes: besides what replay re-decides, a consumed approval
// names the needs_approval rule that asked for it, which was used.
func decidedByPolicy(r *agenttrust.AuditRecord) bool {
	ph := replay.PhaseOf(r)
	return ph == "" || ph == replay.PhaseApproval
}

type ruleStat struct {
	rule  *agenttrust.Rule // as in the live policy
	order int              // its place in the live policy
	// agentPats, toolPats and resPats are the live rule's patterns; nil
	// matches anything.
	agentPats, toolPats, resPats []cond.Pattern

	decided int64
	last    time.Time
	agents  map[string]bool
	tools   map[string]bool
	over    [2]bool // more agents, tools than tracked
}

// Run reads records once and advises on p, the live policy. An error of
// records or ctx stops it.
func Run(ctx context.Context, records iter.Seq2[agenttrust.AuditRecord, error], p *agenttrust.Policy, cfg Config) (*Report, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: advise needs the live policy", agenttrust.ErrInvalidConfig)
	}
	engine, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		return nil, err
	}
	if cfg.MaxNames <= 0 {
		cfg.MaxNames = 50
	}
	if cfg.MaxPairs <= 0 {
		cfg.MaxPairs = 200_000
	}
	if cfg.MaxAgents <= 0 {
		cfg.MaxAgents = 100_000
	}
	stats := map[string]*ruleStat{}
	for i := range p.Rules {
		st, err := newRuleStat(&p.Rules[i], i)
		if err != nil {
			return nil, err
		}
		stats[p.Rules[i].ID] = st
	}
	at := attributor{engine: engine, stats: stats, partial: readsUnrecorded(p), attrs: map[string]any{}}
	called := map[string]map[string]bool{} // agent -> tools it called
	resources := map[string]map[string]bool{}
	kept := budget(maxKeptBytes)
	rep := &Report{}
	for r, err := range records {
		if err != nil {
			return nil, fmt.Errorf("agenttrust: advise: reading the audit: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Records++
		if rep.From.IsZero() || r.Time.Before(rep.From) {
			rep.From = r.Time
		}
		if r.Time.After(rep.To) {
			rep.To = r.Time
		}
		if !decidedByPolicy(&r) {
			continue
		}
		rep.Decided++
		if t := called[r.AgentID]; t != nil || len(called) < cfg.MaxAgents && kept.take(r.AgentID) {
			if t == nil {
				t = map[string]bool{}
				called[r.AgentID] = t
			}
			if !t[r.Tool] && len(t) < cfg.MaxAgents && kept.take(r.Tool) {
				t[r.Tool] = true
			}
		}
		if rs := resources[r.Tool]; rs != nil || len(resources) < cfg.MaxAgents && kept.take(r.Tool) {
			if rs == nil {
				rs = map[string]bool{}
				resources[r.Tool] = rs
			}
			if !rs[r.Resource] && len(rs) < cfg.MaxNames && kept.take(r.Resource) {
				rs[r.Resource] = true
			}
		}
		st := stats[r.Rule]
		if st == nil || !at.counts(ctx, &r, st) {
			continue // the default, a rule the policy no longer has, or one it changed
		}
		st.decided++
		if r.Time.After(st.last) {
			st.last = r.Time
		}
		if len(st.agents) <= cfg.MaxNames {
			st.agents[r.AgentID] = true
		} else if !st.agents[r.AgentID] {
			st.over[0] = true
		}
		if len(st.tools) <= cfg.MaxNames {
			st.tools[r.Tool] = true
		} else if !st.tools[r.Tool] {
			st.over[1] = true
		}
	}
	rep.UnusedGrants, rep.NeverMatched = []string{}, []string{}
	for _, r := range p.Rules {
		st := stats[r.ID]
		rep.Rules = append(rep.Rules, RuleUse{ID: r.ID, Effect: r.Effect.String(), Decided: st.decided, LastUsed: st.last, Agents: len(st.agents), Tools: len(st.tools)})
		if st.decided == 0 {
			rep.NeverMatched = append(rep.NeverMatched, r.ID)
			if r.Effect != agenttrust.Deny {
				rep.UnusedGrants = append(rep.UnusedGrants, r.ID)
			}
		}
	}
	if err := uncalled(ctx, engine, called, resources, cfg, rep); err != nil {
		return nil, err
	}
	// Names left out: a tool may be missing, or listed though called.
	rep.UncalledTruncated = rep.UncalledTruncated || kept < 0
	rep.Proposal = narrow(p, stats, cfg)
	if rep.Diff, err = diff(p, rep.Proposal); err != nil {
		return nil, err
	}
	return rep, nil
}

// maxKeptBytes bounds what advise keeps of a trail to tell Uncalled (the
// tools each agent called, the resources seen with each tool), counting
// each name with what a map spends on it. The other bounds are on counts
// of names, and an agent picks its names: a month of checks each naming
// a new tool or a new resource of a kilobyte would otherwise be kept
// whole.
const maxKeptBytes = 16 << 20

// budget is what is left of maxKeptBytes; negative once a name did not
// fit, and then stays so.
type budget int64

// take reports whether s fits in what is left, and takes it.
func (b *budget) take(s string) bool {
	const perEntry = 64 // a map entry and a string header
	if *b < 0 {
		return false
	}
	if n := budget(len(s) + perEntry); n <= *b {
		*b -= n
		return true
	}
	*b = -1
	return false
}

// uncalled fills rep.Uncalled: for each agent seen and each tool seen,
// whether the policy allows the agent the tool though it never called it.
func uncalled(ctx context.Context, e agenttrust.PolicyEngine, called, resources map[string]map[string]bool, cfg Config, rep *Report) error {
	tools := slices.Sorted(maps.Keys(resources))
	pairs := 0
	rep.Uncalled = []AgentTools{}
	for _, agent := range slices.Sorted(maps.Keys(called)) {
		var may []string
		for _, tool := range tools {
			if called[agent][tool] {
				continue
			}
			if pairs++; pairs > cfg.MaxPairs {
				rep.UncalledTruncated = true
				break
			}
			for res := range resources[tool] {
				in := agenttrust.PolicyInput{AgentID: agent, Tool: tool, Resource: res}
				out, err := e.Evaluate(ctx, &in)
				if err == nil && out.Effect == agenttrust.Allow {
					may = append(may, tool)
					break
				}
				if err != nil && !errors.Is(err, agenttrust.ErrUnevaluable) && !errors.Is(err, agenttrust.ErrInvalidRequest) {
					return err
				}
			}
		}
		if len(may) > 0 {
			rep.Uncalled = append(rep.Uncalled, AgentTools{Agent: agent, Tools: may})
		}
		if rep.UncalledTruncated {
			break
		}
	}
	return nil
}

// newRuleStat compiles the live rule's patterns as the engine does.
func newRuleStat(r *agenttrust.Rule, order int) (*ruleStat, error) {
	st := &ruleStat{rule: r, order: order, agents: map[string]bool{}, tools: map[string]bool{}}
	var err error
	if st.agentPats, err = patterns(r.Agents, cond.ParseNamePattern); err != nil {
		return nil, err
	}
	if st.toolPats, err = patterns(r.Tools, cond.ParseNamePattern); err != nil {
		return nil, err
	}
	if st.resPats, err = patterns(r.Resources, cond.ParseResourcePattern); err != nil {
		return nil, err
	}
	return st, nil
}

func patterns(in []string, parse func(string) (cond.Pattern, error)) ([]cond.Pattern, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]cond.Pattern, 0, len(in))
	for _, s := range in {
		p, err := parse(s)
		if err != nil {
			return nil, err // NewRuleEngine accepted it: cannot happen
		}
		out = append(out, p)
	}
	return out, nil
}

// matchAny reports whether s matches one of ps; nil ps match anything.
func matchAny(ps []cond.Pattern, s string) bool {
	if ps == nil {
		return true
	}
	for i := range ps {
		if ps[i].Match(s) {
			return true
		}
	}
	return false
}

// matches reports whether the live rule's agents, tools and resources
// match the request.
func (st *ruleStat) matches(agent, tool, resource string) bool {
	return matchAny(st.agentPats, agent) && matchAny(st.toolPats, tool) && matchAny(st.resPats, resource)
}

// outranks reports whether st's rule names the decision over o's when
// both match: deny over needs_approval over allow, then the first.
func (st *ruleStat) outranks(o *ruleStat) bool {
	a, b := rank(st.rule.Effect), rank(o.rule.Effect)
	return a > b || a == b && st.order < o.order
}

func rank(e agenttrust.Effect) int {
	switch e {
	case agenttrust.Deny:
		return 3
	case agenttrust.NeedsApproval:
		return 2
	}
	return 1
}

// attributor decides whether a record counts toward the live rule it
// names.
type attributor struct {
	engine agenttrust.PolicyEngine
	stats  map[string]*ruleStat
	// partial: the live policy reads what no record keeps (the remote
	// address), so no record is the whole request it was asked.
	partial bool
	attrs   map[string]any
}

// counts reports whether r counts toward st's rule, the rule r names:
// the live policy decides r's request by it or, when r does not keep all
// the policy reads, the rule's patterns match r, its effect is the one
// recorded and no rule that outranks it matched r for certain.
func (a *attributor) counts(ctx context.Context, r *agenttrust.AuditRecord, st *ruleStat) bool {
	if !st.matches(r.AgentID, r.Tool, r.Resource) {
		return false
	}
	complete := a.decode(r.Attributes) && !a.partial
	in := agenttrust.PolicyInput{
		Tenant: r.Tenant, AgentID: r.AgentID, Tool: r.Tool, Resource: r.Resource,
		SessionID: r.SessionID, OnBehalfOf: r.OnBehalfOf, Attributes: a.attrs,
		HopIDs: r.HopIDs, Time: r.Time,
	}
	out, err := a.engine.Evaluate(ctx, &in)
	if out.Rule == st.rule.ID && (err == nil || errors.Is(err, agenttrust.ErrUnevaluable)) {
		return true
	}
	if complete {
		return false
	}
	if o := a.stats[out.Rule]; err == nil && o != nil && o.outranks(st) {
		return false // o matched with every condition known to hold
	}
	switch st.rule.Effect {
	case agenttrust.Allow:
		return r.Effect == agenttrust.Allow && r.ApprovalID == ""
	case agenttrust.NeedsApproval:
		return r.Effect == agenttrust.NeedsApproval || r.Effect == agenttrust.Allow && r.ApprovalID != "" || r.Effect == agenttrust.Deny
	default:
		return r.Effect == agenttrust.Deny
	}
}

// decode fills a.attrs with raw's attributes, leaving out those whose
// value the record does not keep, and reports whether it kept them all.
func (a *attributor) decode(raw []byte) bool {
	clear(a.attrs)
	if len(raw) == 0 {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // conditions read numbers exactly
	if err := dec.Decode(&a.attrs); err != nil {
		clear(a.attrs)
		return false
	}
	all := true
	for k, v := range a.attrs {
		if opaque(k) || opaque(v) {
			delete(a.attrs, k)
			all = false
		}
	}
	return all
}

// opaque reports whether v, or anything in it, is not what the request
// held.
func opaque(v any) bool {
	switch x := v.(type) {
	case string:
		return replay.OpaqueText(x)
	case map[string]any:
		for k, e := range x {
			if opaque(k) || opaque(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if opaque(e) {
				return true
			}
		}
	}
	return false
}

// readsUnrecorded reports whether a rule of p has a condition on what no
// record keeps: the remote address, or a budget.
func readsUnrecorded(p *agenttrust.Policy) bool {
	for _, r := range p.Rules {
		for _, w := range r.When {
			c, err := cond.Parse(w)
			if err != nil || c.Field == cond.FieldIP || c.Field == cond.FieldBudget {
				return true
			}
		}
	}
	return false
}

// narrow is the proposal: unused allow rules removed, used ones narrowed
// to the agents and tools they decided for, each an exact name the live
// rule's patterns match.
func narrow(p *agenttrust.Policy, stats map[string]*ruleStat, cfg Config) *agenttrust.Policy {
	out := *p
	out.Rules = nil
	for _, r := range p.Rules {
		st := stats[r.ID]
		if r.Effect != agenttrust.Allow {
			out.Rules = append(out.Rules, r)
			continue
		}
		if st.decided == 0 {
			continue
		}
		n := r
		if !st.over[0] && len(st.agents) <= cfg.MaxNames {
			if names, ok := exactNames(st.agents, st.agentPats); ok {
				n.Agents = names
			}
		}
		if !st.over[1] && len(st.tools) <= cfg.MaxNames {
			if names, ok := exactNames(st.tools, st.toolPats); ok {
				n.Tools = names
			}
		}
		if len(n.Agents) == 0 && len(r.Agents) > 0 || len(n.Tools) == 0 && len(r.Tools) > 0 {
			continue // none of the names it decided for is one it still matches
		}
		out.Rules = append(out.Rules, n)
	}
	if out.Rules == nil {
		out.Rules = []agenttrust.Rule{}
	}
	return &out
}

// exactNames are the names of seen that live matches, sorted, as
// patterns that match exactly themselves; false when one is not a name a
// pattern can spell exactly, and the live patterns should stay.
func exactNames(seen map[string]bool, live []cond.Pattern) ([]string, bool) {
	var out []string
	for _, s := range slices.Sorted(maps.Keys(seen)) {
		if !matchAny(live, s) {
			continue // cannot happen: counts checked it; never widen
		}
		p, err := cond.ParseNamePattern(s)
		if lit, ok := p.Literal(); err != nil || !ok || lit != s {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// diff is a line diff of the two policies' YAML: lines only in a with
// "-", only in b with "+", shared ones with " ". Empty when they are the
// same.
func diff(a, b *agenttrust.Policy) (string, error) {
	ya, err := yaml.Marshal(a)
	if err != nil {
		return "", err
	}
	yb, err := yaml.Marshal(b)
	if err != nil {
		return "", err
	}
	if string(ya) == string(yb) {
		return "", nil
	}
	x := strings.Split(strings.TrimSuffix(string(ya), "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(string(yb), "\n"), "\n")
	// Longest common subsequence, by dynamic programming: policies are
	// small; past a bound the diff is the whole of both.
	if len(x)*len(y) > 4<<20 {
		var sb strings.Builder
		for _, l := range x {
			sb.WriteString("-" + l + "\n")
		}
		for _, l := range y {
			sb.WriteString("+" + l + "\n")
		}
		return sb.String(), nil
	}
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var sb strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			sb.WriteString(" " + x[i] + "\n")
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			sb.WriteString("+" + y[j] + "\n")
			j++
		default:
			sb.WriteString("-" + x[i] + "\n")
			i++
		}
	}
	return sb.String(), nil
}
