// Package advise reads an audit trail against the live policy and says
// where the policy grants more than the agents use: the grants no
// decision used in the window read, the rules that decided nothing, the
// tools each agent may call but never did, and a narrower policy, as a
// diff, that would still have allowed every call the trail shows
// allowed.
//
// # What the proposal changes
//
// Only allow rules: one that decided nothing is removed, and one that did
// has its agents and tools narrowed to those it was seen deciding for
// (kept as they were past MaxNames distinct values). Deny and
// needs_approval rules, resources, conditions and the default stay as
// they are: removing or narrowing any of those could let through what the
// live policy stops. So whatever the proposal allows, the live policy
// allows, and every call the trail records as allowed by a rule is
// allowed by the same rule under the proposal (the tests replay the
// trail against it to check).
//
// # Command line
//
//	agenttrust policy advise --since 30d [--json]
//
// reads the tenant's audit and its stored policy through the server's
// API.
package advise

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/agenttrust/agenttrust"
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
	// 100,000 each), so a trail of one-off names cannot exhaust memory.
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
	// policy's order.
	Rules []RuleUse `json:"rules"`
	// UnusedGrants are the allow and needs_approval rules that decided
	// nothing in the trail read.
	UnusedGrants []string `json:"unused_grants"`
	// NeverMatched are the rules of any effect that decided nothing.
	NeverMatched []string `json:"never_matched"`
	// Uncalled lists, per agent seen, the tools seen in the trail that
	// the policy lets that agent call (with no attributes and any
	// resource seen with the tool) but that it never called.
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
	for _, r := range p.Rules {
		stats[r.ID] = &ruleStat{agents: map[string]bool{}, tools: map[string]bool{}}
	}
	called := map[string]map[string]bool{} // agent -> tools it called
	resources := map[string]map[string]bool{}
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
		if t := called[r.AgentID]; t != nil || len(called) < cfg.MaxAgents {
			if t == nil {
				t = map[string]bool{}
				called[r.AgentID] = t
			}
			if len(t) < cfg.MaxAgents {
				t[r.Tool] = true
			}
		}
		if rs := resources[r.Tool]; rs != nil || len(resources) < cfg.MaxAgents {
			if rs == nil {
				rs = map[string]bool{}
				resources[r.Tool] = rs
			}
			if len(rs) < cfg.MaxNames {
				rs[r.Resource] = true
			}
		}
		st := stats[r.Rule]
		if st == nil {
			continue // the default, or a rule the policy no longer has
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
	rep.Proposal = narrow(p, stats, cfg)
	if rep.Diff, err = diff(p, rep.Proposal); err != nil {
		return nil, err
	}
	return rep, nil
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

// narrow is the proposal: unused allow rules removed, used ones narrowed
// to the agents and tools they decided for.
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
			n.Agents = slices.Sorted(maps.Keys(st.agents))
		}
		if !st.over[1] && len(st.tools) <= cfg.MaxNames {
			n.Tools = slices.Sorted(maps.Keys(st.tools))
		}
		out.Rules = append(out.Rules, n)
	}
	if out.Rules == nil {
		out.Rules = []agenttrust.Rule{}
	}
	return &out
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
