package agenttrust

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/redact"
	"github.com/agenttrust/agenttrust/internal/strictjson"
)

// PolicyEngine decides the policy phase of a check. The built-in
// implementation is the rule engine returned by NewRuleEngine; others (a
// Cedar adapter, the remote engine) plug in with WithPolicyEngine.
//
// Evaluate must not retain in or anything it points to after returning. An
// error makes the check deny with ErrPolicyEngine. Checks call Evaluate
// concurrently: an engine must be safe for concurrent use.
type PolicyEngine interface {
	Evaluate(ctx context.Context, in *PolicyInput) (PolicyResult, error)
}

// PolicyEngineFunc adapts a function to PolicyEngine. It is safe for
// concurrent use if the function is. A nil PolicyEngineFunc panics when
// called, as a nil function does.
type PolicyEngineFunc func(ctx context.Context, in *PolicyInput) (PolicyResult, error)

// Evaluate calls f.
func (f PolicyEngineFunc) Evaluate(ctx context.Context, in *PolicyInput) (PolicyResult, error) {
	return f(ctx, in)
}

// PolicyInput is what a policy decides on: the request with its tool and
// resource normalised to NFC, plus what the check established about it.
// The client fills it for each check; the zero PolicyInput is no request.
type PolicyInput struct {
	Tenant     string
	AgentID    string
	Tool       string
	Resource   string
	SessionID  string
	OnBehalfOf string
	RemoteAddr netip.Addr
	Attributes map[string]any
	HopIDs     []string
	Time       time.Time
}

// PolicyResult is a policy's answer. The zero PolicyResult denies, with no
// rule and no reason.
type PolicyResult struct {
	Effect Effect
	Rule   string
	Reason string
	// Approvers limits who may grant a NeedsApproval result (globs); empty
	// means any principal other than the requesting agent.
	Approvers []string
	// ApprovalTimeout, when positive and shorter than the client's
	// pending TTL, bounds how long a NeedsApproval result's approval
	// stays pending.
	ApprovalTimeout time.Duration
}

// Policy is a rule set: rules, rate limits and the default effect for a
// request no rule matches. It is loaded from JSON or YAML or built as a Go
// value; NewRuleEngine validates it.
//
// Precedence: a matching deny rule beats a matching needs_approval rule,
// which beats a matching allow rule; with no match the Default applies
// (Deny unless set). Among rules of the same effect the first in the list
// names the decision. The zero Policy has no rule or limit and denies
// everything. WithPolicy and NewRuleEngine compile what they need:
// changing a Policy afterwards changes nothing they decide, and a Policy
// may be shared once made.
type Policy struct {
	Default Effect  `json:"default,omitempty" yaml:"default,omitempty"`
	Rules   []Rule  `json:"rules" yaml:"rules"`
	Limits  []Limit `json:"limits,omitempty" yaml:"limits,omitempty"`
	// Attributes declares the types of request attributes, per tool. A
	// request that breaks a declaration is refused with ErrInvalidRequest
	// before any rule is consulted, and a condition comparing a declared
	// attribute with another type does not validate.
	Attributes []AttributeSpec `json:"attributes,omitempty" yaml:"attributes,omitempty"`
	// ToolModes sets a tool's mode by its name or a glob, after the rules
	// have decided: "deny" denies every request to it; "ask" makes what
	// the rules allow need approval; "auto" allows what the rules would
	// hold for approval, without asking. Nothing turns a deny of the rules
	// into anything else. Of the keys that match a tool, its exact name
	// wins, then the longest glob; at equal length the stricter mode. The
	// decision then names the key as its rule, "tool_mode:" + key.
	ToolModes map[string]string `json:"tool_modes,omitempty" yaml:"tool_modes,omitempty"`
}

// AttributeSpec declares one request attribute: for the tools it names
// (globs; empty means every tool), attribute Name, when present, must be
// of Type ("number", "string" or "boolean", as conditions read them: a
// finite number of a Go numeric type or a json.Number; a valid NFC string
// without invisible characters; a bool). With Required it must be present.
// The zero AttributeSpec is refused: it names no attribute.
type AttributeSpec struct {
	Tools    []string `json:"tools,omitempty" yaml:"tools,omitempty"`
	Name     string   `json:"name" yaml:"name"`
	Type     string   `json:"type" yaml:"type"`
	Required bool     `json:"required,omitempty" yaml:"required,omitempty"`
}

// Rule matches requests by agent, tool and resource globs and conditions.
// A nil Agents, Tools or Resources list (the field left out) matches any
// value; a list that is present but empty is refused, since it reads as
// "none" (so is an empty Approvers list, which would mean any approver).
// The zero Rule is refused: it has no ID.
type Rule struct {
	ID        string   `json:"id" yaml:"id"`
	Effect    Effect   `json:"effect" yaml:"effect"`
	Agents    []string `json:"agents,omitempty" yaml:"agents,omitempty"`
	Tools     []string `json:"tools,omitempty" yaml:"tools,omitempty"`
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
	// When lists conditions in the caveat grammar; all must hold.
	When      []string `json:"when,omitempty" yaml:"when,omitempty"`
	Reason    string   `json:"reason,omitempty" yaml:"reason,omitempty"`
	Approvers []string `json:"approvers,omitempty" yaml:"approvers,omitempty"`
	// ApprovalTimeout, on a needs_approval rule, is how long an approval
	// it opens stays pending ("90s", "10m"; at most 24h) when that is
	// shorter than the client's pending TTL: past it the approval lapses
	// and the request stays denied, so an unattended run asking for one
	// fails closed when nobody answers.
	ApprovalTimeout string `json:"approval_timeout,omitempty" yaml:"approval_timeout,omitempty"`
	// RememberUses and RememberFor, on a needs_approval rule, let an
	// approver remember an approval it opens (Client.ApproveAndRemember):
	// later requests like it are allowed without asking, at most
	// RememberUses times and for at most RememberFor ("1h"; up to 30
	// days), as the rule stands at each use: shortening RememberFor ends
	// grants older than it. A rule without them cannot be remembered.
	RememberUses int    `json:"remember_uses,omitempty" yaml:"remember_uses,omitempty"`
	RememberFor  string `json:"remember_for,omitempty" yaml:"remember_for,omitempty"`
}

// Limit is a token-bucket rate limit applied to each (agent, tool) pair it
// matches, separately. Rate is "N/s", "N/m" or "N/h"; Burst defaults to
// the per-second rate rounded up, at least 1. The zero Limit is refused:
// it has no ID and no Rate.
//
// Scope says where the bucket lives. "node" (or empty, the default): in
// the client, so each process sharing a store allows the rate on its
// own. "cluster": in the store (store.ClusterLimiter), so the rate holds
// across every node sharing it, at the cost of one store round trip per
// check the limit matches; Burst times the time per request must then be
// at most store.MaxRateWindow. A policy with a cluster limit is refused
// (a *PolicyError) by a client whose store does not hold such limits.
// As in a Rule, a nil Agents or Tools list matches any value and an empty
// one is refused.
type Limit struct {
	ID     string   `json:"id" yaml:"id"`
	Agents []string `json:"agents,omitempty" yaml:"agents,omitempty"`
	Tools  []string `json:"tools,omitempty" yaml:"tools,omitempty"`
	Rate   string   `json:"rate" yaml:"rate"`
	Burst  int      `json:"burst,omitempty" yaml:"burst,omitempty"`
	Scope  string   `json:"scope,omitempty" yaml:"scope,omitempty"`
}

// MaxPolicySize bounds a policy document.
const MaxPolicySize = 64 << 20

// LoadPolicyFile reads and validates a policy from a .json, .yaml or .yml
// file. Errors name the file and the rule.
func LoadPolicyFile(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: load policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("agenttrust: load policy: %w", err)
	}
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	p, err := parsePolicy(data, format, path)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ParsePolicy decodes and validates a policy document; format is "json" or
// "yaml". Unknown fields, duplicate ids, bad globs and conditions that do
// not parse are errors, reported together; nothing is half-loaded.
func ParsePolicy(data []byte, format string) (*Policy, error) {
	return parsePolicy(data, format, "")
}

func parsePolicy(data []byte, format, file string) (*Policy, error) {
	docErr := func(msg string, args ...any) error {
		return &PolicyError{File: file, Index: -1, Msg: fmt.Sprintf(msg, args...)}
	}
	if len(data) > MaxPolicySize {
		return nil, docErr("larger than %d bytes", MaxPolicySize)
	}
	var p Policy
	switch format {
	case "json":
		// As strict as the API bodies: keys match exactly; unknown,
		// duplicate and differently cased keys, missing required keys
		// (rules; a rule's id and effect; a limit's id and rate),
		// invalid UTF-8 and trailing data are refused.
		if err := strictjson.Decode(data, policySchema, &p, false); err != nil {
			return nil, docErr("%v", err)
		}
	case "yaml", "yml":
		if err := plainYAML(data); err != nil {
			return nil, docErr("%v", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			return nil, docErr("%v", yamlProblemLine(data, err))
		}
		var extra any
		if err := dec.Decode(&extra); err != io.EOF {
			return nil, docErr("more than one YAML document")
		}
	default:
		return nil, docErr("unknown format %q (want json or yaml)", format)
	}
	if _, err := compilePolicy(&p, file); err != nil {
		return nil, err
	}
	return &p, nil
}

// plainYAML refuses the YAML that means something other than it reads: a
// merge key (<<), under which one copy of a key silently wins; an anchor
// or alias, a value written elsewhere; an explicit tag (!!binary turns
// base64 into a tool name); a null list entry or map key, which the
// decoder drops without a word (tools: [~] would allow every tool, when:
// [~] lose its condition), where JSON's [null] is refused; a null field
// (tools: ~, or a template's blank "tools:"), which the decoder reads as
// a field left out: on a rule that means any tool, agent or resource,
// the widest reading of what was likely meant as none. A document
// that does not parse is left to the decoder, which says where.
func plainYAML(data []byte) error {
	var root yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&root) != nil {
		return nil
	}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		switch {
		case n.Kind == yaml.AliasNode || n.Anchor != "":
			return fmt.Errorf("line %d: YAML anchors and aliases are not allowed in a policy", n.Line)
		case n.Tag == "!!merge":
			return fmt.Errorf("line %d: YAML merge keys (<<) are not allowed in a policy", n.Line)
		case n.Style&yaml.TaggedStyle != 0:
			return fmt.Errorf("line %d: YAML tags (%s) are not allowed in a policy", n.Line, n.Tag)
		}
		for i, c := range n.Content {
			if c.Kind == yaml.ScalarNode && c.Tag == "!!null" {
				switch {
				case n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode && i%2 == 0:
					return fmt.Errorf("line %d: a null list entry or map key is not allowed in a policy (quote it to mean the text %q)", c.Line, c.Value)
				case n.Kind == yaml.MappingNode:
					return fmt.Errorf("line %d: %s has a null value, which is not allowed in a policy: leave the field out to mean any, or quote the value to mean the text %q", c.Line, n.Content[i-1].Value, c.Value)
				}
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(&root)
}

// yamlProblemLine corrects the line of a YAML syntax error. The YAML
// parser names the line where the construct around the problem began (a
// document's top-level mapping begins on line 1), not the line of the
// problem itself. The problem line is found as the shortest prefix of
// whole lines, from the named one on, that fails with the same message:
// the parser reads in order, so no shorter prefix does. It takes a few
// parses (a binary search), and only when the document is invalid.
// Other errors (unknown fields, wrong types) already name their line.
func yamlProblemLine(data []byte, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return err
	}
	rest, ok := strings.CutPrefix(err.Error(), "yaml: line ")
	if !ok {
		return err
	}
	num, msg, ok := strings.Cut(rest, ": ")
	from, aerr := strconv.Atoi(num)
	if !ok || aerr != nil || from < 1 {
		return err
	}
	// ends[k-1] is the end of line k, its newline included.
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	fails := func(k int) bool {
		var n yaml.Node
		perr := yaml.NewDecoder(bytes.NewReader(data[:ends[k-1]])).Decode(&n)
		if perr == nil {
			return false
		}
		_, m, _ := strings.Cut(strings.TrimPrefix(perr.Error(), "yaml: line "), ": ")
		return m == msg
	}
	lo, hi := from, len(ends)
	if lo > hi || !fails(hi) {
		return err
	}
	for lo < hi {
		if mid := lo + (hi-lo)/2; fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == from {
		return err
	}
	return fmt.Errorf("yaml: line %d: %s", lo, msg)
}

// policySchema is what a JSON policy document must look like.
var policySchema = strictjson.SchemaOf(reflect.TypeFor[Policy]()).RefuseOmittedNulls()

// ruleEngine is the built-in PolicyEngine: an immutable, indexed
// compilation of a Policy.
type ruleEngine struct {
	compiled *compiled
}

var _ PolicyEngine = (*ruleEngine)(nil)

// NewRuleEngine validates and compiles p into the built-in PolicyEngine,
// the one WithPolicy uses. p is not retained. Evaluation cost does not
// grow with the number of rules that cannot match the request's agent
// and tool, nor, among the rules of one agent and tool, with the number
// whose resource patterns have a literal start the request's resource
// does not share (such as "acct-7/*"), and it allocates nothing unless it
// fails or its result names approvers (a copy of the rule's list). It
// fails when a deny or needs_approval rule that would decide the request
// has a condition that cannot be evaluated on it: the result is a Deny
// naming that rule and the error matches ErrUnevaluable. The engine is
// safe for concurrent use.
func NewRuleEngine(p *Policy) (PolicyEngine, error) {
	c, err := compilePolicy(p, "")
	if err != nil {
		return nil, err
	}
	return &ruleEngine{compiled: c}, nil
}

// Evaluate implements PolicyEngine. The result is the caller's: its
// Approvers are a copy, not the rule's list, which a caller (an engine
// wrapping this one) could otherwise rewrite for every later request.
func (e *ruleEngine) Evaluate(_ context.Context, in *PolicyInput) (PolicyResult, error) {
	res, err := e.compiled.evaluate(in)
	res.Approvers = slices.Clone(res.Approvers)
	return res, err
}

type compiled struct {
	def    Effect
	rules  index[*compiledRule]
	limits index[*compiledLimit]
	nLimit int
	attrs  []compiledAttr
	// cluster is the first limit of cluster scope and its position in
	// the policy, for the error of a store that cannot hold it; nil when
	// every limit is node-local.
	cluster    *compiledLimit
	clusterIdx int
	// modes are the tool modes, best match first; nil without any.
	modes []toolMode
	// byID finds a rule by its id.
	byID map[string]*compiledRule
}

type compiledAttr struct {
	tools    []cond.Pattern // nil: every tool
	name     string
	typ      string
	required bool
}

type compiledRule struct {
	order     int
	rank      int // precedence: deny 3, needs_approval 2, allow 1
	id        string
	effect    Effect
	agents    []cond.Pattern // nil: any
	tools     []cond.Pattern
	resources []cond.Pattern
	when      []cond.Cond
	reason    string
	approvers []string
	timeout   time.Duration
	// rememberUses and rememberFor bound a remembered approval; zero: it
	// cannot be remembered.
	rememberUses int
	rememberFor  time.Duration
}

type compiledLimit struct {
	order  int
	id     string
	agents []cond.Pattern
	tools  []cond.Pattern
	limit  rate.Limit
	burst  int
	// cluster: the bucket is kept in the store, as a GCRA state whose
	// time per request is interval.
	cluster  bool
	interval time.Duration
}

func rankOf(e Effect) int {
	switch e {
	case Deny:
		return 3
	case NeedsApproval:
		return 2
	case Allow:
		return 1
	}
	return 0
}

// Default reasons for rules that give none.
const (
	reasonDefaultDeny = "no rule allows this action"
	reasonRuleDeny    = "denied by policy"
	reasonRuleAllow   = "allowed by policy"
	reasonRuleApprove = "needs approval by policy"
	reasonUnevaluable = "condition cannot be evaluated"
	reasonAttrType    = "attribute breaks its declared type"
)

func compilePolicy(p *Policy, file string) (*compiled, error) {
	var errs []error
	fail := func(id string, i int, format string, args ...any) {
		errs = append(errs, &PolicyError{File: file, Rule: id, Index: i, Msg: fmt.Sprintf(format, args...)})
	}
	if p == nil {
		return nil, &PolicyError{File: file, Index: -1, Msg: "nil policy"}
	}
	if p.Default > NeedsApproval {
		errs = append(errs, &PolicyError{File: file, Index: -1, Msg: "invalid default effect"})
	}
	c := &compiled{def: p.Default, byID: map[string]*compiledRule{}}
	seen := map[string]bool{}
	// The type each attribute is compared with, by its first use: a
	// policy comparing one attribute with two types has a rule that can
	// never match, or a deny rule that fails closed on every request.
	type attrUse struct{ typ, cond, rule string }
	attrTypes := map[string]attrUse{}
	for i := range p.Attributes {
		a := &p.Attributes[i]
		bad := func(format string, args ...any) {
			errs = append(errs, &PolicyError{File: file, Index: -1, Msg: fmt.Sprintf("attributes[%d] (%s): ", i, a.Name) + fmt.Sprintf(format, args...)})
		}
		if !cond.ValidAttrName(a.Name) {
			bad("bad attribute name (letters, digits, '_' and '-', starting with a letter or '_')")
		}
		switch a.Type {
		case "number", "string", "boolean":
		default:
			bad("type %q: want number, string or boolean", a.Type)
		}
		ca := compiledAttr{name: a.Name, typ: a.Type, required: a.Required}
		for _, t := range a.Tools {
			pat, err := cond.ParseNamePattern(t)
			if err != nil {
				bad("tools: %v", err)
				continue
			}
			ca.tools = append(ca.tools, pat)
		}
		if prev, ok := attrTypes[a.Name]; ok && prev.typ != a.Type {
			bad("declared a %s and a %s", prev.typ, a.Type)
		}
		attrTypes[a.Name] = attrUse{typ: a.Type, cond: "declared " + a.Type, rule: "attributes"}
		c.attrs = append(c.attrs, ca)
	}
	patterns := func(id string, i int, field string, in []string) []cond.Pattern {
		if in != nil && len(in) == 0 {
			// Written as a placeholder or generated from nothing, it reads
			// as "none" but would match every value.
			fail(id, i, "%s: an empty list would match every value; omit %s to mean any", field, field)
			return nil
		}
		if len(in) == 0 {
			return nil
		}
		parse := cond.ParseNamePattern
		if field == "resources" {
			parse = cond.ParseResourcePattern
		}
		out := make([]cond.Pattern, 0, len(in))
		for _, s := range in {
			pat, err := parse(s)
			if err != nil {
				fail(id, i, "%s: %v", field, err)
				continue
			}
			out = append(out, pat)
		}
		return out
	}
	checkID := func(kind, id string, i int) {
		switch {
		case id == "":
			fail("", i, "%s has no id", kind)
		case !validRuleID(id):
			fail(id, i, "%s id must be 1-128 letters, digits, '.', '_', ':' or '-'", kind)
		case seen[id]:
			fail(id, i, "duplicate id")
		}
		seen[id] = true
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		checkID("rule", r.ID, i)
		if r.Effect > NeedsApproval {
			fail(r.ID, i, "invalid effect")
		}
		cr := &compiledRule{
			order: i, rank: rankOf(r.Effect), id: r.ID, effect: r.Effect,
			agents:    patterns(r.ID, i, "agents", r.Agents),
			tools:     patterns(r.ID, i, "tools", r.Tools),
			resources: patterns(r.ID, i, "resources", r.Resources),
			reason:    r.Reason,
			approvers: append([]string(nil), r.Approvers...),
		}
		for _, w := range r.When {
			cd, err := cond.Parse(w)
			if err != nil {
				fail(r.ID, i, "when: %v", err)
				continue
			}
			if cd.Field == cond.FieldExpires {
				fail(r.ID, i, "when: %q: expires is a caveat, not a policy condition", w)
				continue
			}
			if typ := cd.AttrType(); typ != "" {
				if prev, ok := attrTypes[cd.Attr]; ok && prev.typ != typ {
					fail(r.ID, i, "when: %q compares attr.%s with a %s, but %q (rule %q) compares it with a %s: a request's value can only ever be one of them", w, cd.Attr, typ, prev.cond, prev.rule, prev.typ)
				} else if !ok {
					attrTypes[cd.Attr] = attrUse{typ: typ, cond: w, rule: r.ID}
				}
			}
			cr.when = append(cr.when, cd)
		}
		if r.Approvers != nil && len(r.Approvers) == 0 {
			fail(r.ID, i, "approvers: an empty list would let any approver grant it; omit approvers to mean that")
		}
		for _, a := range r.Approvers {
			if _, err := cond.ParsePattern(a); err != nil {
				fail(r.ID, i, "approvers: %v", err)
			}
		}
		if len(r.Approvers) > 0 && r.Effect != NeedsApproval {
			fail(r.ID, i, "approvers are only meaningful on a needs_approval rule")
		}
		if r.ApprovalTimeout != "" {
			d, err := time.ParseDuration(r.ApprovalTimeout)
			switch {
			case r.Effect != NeedsApproval:
				fail(r.ID, i, "approval_timeout is only meaningful on a needs_approval rule")
			case err != nil || d <= 0 || d > maxApprovalTimeout:
				fail(r.ID, i, "approval_timeout %q: want a duration from 1s to 24h, such as 90s or 10m", r.ApprovalTimeout)
			default:
				cr.timeout = d
			}
		}
		compileRemember(r, cr, func(format string, args ...any) { fail(r.ID, i, format, args...) })
		if cr.reason == "" {
			cr.reason = map[Effect]string{Deny: reasonRuleDeny, Allow: reasonRuleAllow, NeedsApproval: reasonRuleApprove}[r.Effect]
		}
		c.rules.add(cr, cr.agents, cr.tools)
		c.byID[cr.id] = cr
	}
	nCluster := 0
	for i := range p.Limits {
		l := &p.Limits[i]
		checkID("limit", l.ID, len(p.Rules)+i)
		lim, err := parseRate(l.Rate)
		if err != nil {
			fail(l.ID, len(p.Rules)+i, "%v", err)
		}
		if l.Burst < 0 {
			fail(l.ID, len(p.Rules)+i, "negative burst")
		}
		burst := l.Burst
		if burst == 0 {
			burst = max(1, int(float64(lim)+0.999999))
		}
		cl := &compiledLimit{
			order: i, id: l.ID, limit: lim, burst: burst,
			agents: patterns(l.ID, len(p.Rules)+i, "agents", l.Agents),
			tools:  patterns(l.ID, len(p.Rules)+i, "tools", l.Tools),
		}
		if err := cl.scope(l.Scope); err != nil {
			fail(l.ID, len(p.Rules)+i, "%v", err)
		}
		if cl.cluster {
			if c.cluster == nil {
				c.cluster, c.clusterIdx = cl, len(p.Rules)+i
			}
			if nCluster++; nCluster == maxClusterLimits+1 {
				fail(l.ID, len(p.Rules)+i, "more than %d limits of scope cluster", maxClusterLimits)
			}
		}
		c.limits.add(cl, cl.agents, cl.tools)
	}
	modes, err := compileModes(p.ToolModes)
	if err != nil {
		errs = append(errs, &PolicyError{File: file, Index: -1, Msg: err.Error()})
	}
	c.modes = modes
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.rules.finish(func(a, b *compiledRule) bool {
		if a.rank != b.rank {
			return a.rank > b.rank
		}
		return a.order < b.order
	}, func(r *compiledRule) []cond.Pattern { return r.resources })
	c.limits.finish(func(a, b *compiledLimit) bool { return a.order < b.order }, nil)
	c.nLimit = len(p.Limits)
	return c, nil
}

func validRuleID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-' || b == ':') {
			return false
		}
	}
	return true
}

func parseRate(s string) (rate.Limit, error) {
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("rate %q: want N/s, N/m or N/h", s)
	}
	v, err := strconv.ParseFloat(n, 64)
	if err != nil || !(v > 0) || v > 1e9 { // !(v > 0): NaN too
		return 0, fmt.Errorf("rate %q: want a positive number before the '/'", s)
	}
	switch unit {
	case "s":
		return rate.Limit(v), nil
	case "m":
		return rate.Limit(v / 60), nil
	case "h":
		return rate.Limit(v / 3600), nil
	}
	return 0, fmt.Errorf("rate %q: unit must be s, m or h", s)
}

func (c *compiled) evaluate(in *PolicyInput) (PolicyResult, error) {
	req := Request{
		AgentID: in.AgentID, Tool: in.Tool, Resource: in.Resource, SessionID: in.SessionID,
		OnBehalfOf: in.OnBehalfOf, RemoteAddr: in.RemoteAddr, Attributes: in.Attributes,
	}
	env := requestEnv(in.Tenant, &req, nil, in.HopIDs, in.Time)
	var res PolicyResult
	err := c.evaluateEnv(&env, &res)
	return res, err
}

// evaluateEnv decides on a prepared condition environment.
//
// A rule whose conditions cannot all be evaluated on the request (see
// cond.Unknown) never allows: an allow rule does not match. A deny or
// needs_approval rule competes as if it matched; if it is the one that
// decides, the result is a Deny naming it, with an error matching
// ErrUnevaluable. Otherwise the rule that decides outranks it, so the
// outcome is the same whatever its conditions would have said.
//
// The result is filled in *res, not returned: on the hot path a result
// returned by value is copied at every level.
func (c *compiled) evaluateEnv(env *cond.Env, res *PolicyResult) error {
	err := c.evaluateRules(env, res)
	if c.modes != nil && err == nil {
		*res = applyMode(c.modes, env.Tool, *res)
	}
	return err
}

// evaluateRules is the rules' decision, before any tool mode.
func (c *compiled) evaluateRules(env *cond.Env, res *PolicyResult) error {
	for i := range c.attrs {
		if err := c.attrs[i].check(env); err != nil {
			*res = PolicyResult{Effect: Deny, Reason: reasonAttrType}
			return err
		}
	}
	var m ruleMatch
	c.match(&m, env)
	if cut, r, ok := bareResource(env.Resource); ok {
		// "/data/secret/" is the directory "/data/secret" to a file
		// system, and routers serve "/admin/", "/admin?x" and
		// "/admin;x" as "/admin": the deny and needs_approval rules of
		// the bare resource hold it too, and, when the cut left a
		// trailing slash ("/data/secret/?x", "https://h/?x"), those of
		// the resource with it, as a rule on a directory or a site's
		// root is written. Allow rules match only as written, so none
		// of these ever widens what is allowed.
		bare := *env
		m.strictOnly = true
		if cut != "" && cut != r {
			bare.Resource = cut
			c.match(&m, &bare)
		}
		bare.Resource = r
		c.match(&m, &bare)
	}
	best, bestUnknown := m.best, m.unknown
	if best == nil {
		*res = PolicyResult{Effect: c.def, Reason: reasonDefaultDeny}
		return nil
	}
	if bestUnknown {
		*res = PolicyResult{Effect: Deny, Rule: best.id, Reason: reasonUnevaluable}
		return best.unevaluable(env)
	}
	*res = PolicyResult{Effect: best.effect, Rule: best.id, Reason: best.reason, Approvers: best.approvers, ApprovalTimeout: best.timeout}
	return nil
}

// match scans the rules that may match env into m.
func (c *compiled) match(m *ruleMatch, env *cond.Env) {
	var buckets [maxBuckets]*list[*compiledRule]
	n := c.rules.candidates(env.Agent, env.Tool, &buckets)
	for _, l := range buckets[:n] {
		x := l.res
		if x == nil {
			m.scan(l.es, env)
			continue
		}
		// A list split by resource: the sub-lists that may match it.
		m.scan(x.exact[env.Resource], env)
		for _, k := range x.lens {
			if k > len(env.Resource) {
				break
			}
			m.scan(x.prefix[env.Resource[:k]], env)
		}
		m.scan(x.any, env)
	}
}

// bareResource returns resource as a router or file system may read it,
// when that differs (ok): bare, without a query or fragment (from the
// first "?" or "#"), without path parameters (";" to the end of each
// segment) and without trailing slashes (unless one is all that is
// left); and cut, the resource with only the first two removed, or ""
// when there were none. A resource with none of these costs one pass.
func bareResource(resource string) (cut, bare string, ok bool) {
	r := resource
	if hasCutChars(r) {
		if j := strings.IndexAny(r, "?#"); j >= 0 {
			r = r[:j]
		}
		if strings.IndexByte(r, ';') >= 0 {
			var b strings.Builder
			b.Grow(len(r))
			for i, seg := range strings.Split(r, "/") {
				if i > 0 {
					b.WriteByte('/')
				}
				seg, _, _ = strings.Cut(seg, ";")
				b.WriteString(seg)
			}
			r = b.String()
		}
		if r != resource {
			cut = r
		}
	}
	for len(r) > 1 && r[len(r)-1] == '/' {
		r = r[:len(r)-1]
	}
	if r == resource || r == "" {
		return "", "", false
	}
	return cut, r, true
}

// hasCutChars reports whether resource holds a "?", "#" or ";", which
// bareResource cuts at. A loop, not strings.ContainsAny: that calls
// IndexRune once a byte on short text, a cost every check would pay.
func hasCutChars(resource string) bool {
	for i := 0; i < len(resource); i++ {
		switch resource[i] {
		case '?', '#', ';':
			return true
		}
	}
	return false
}

// ruleMatch is the rule that decides so far, and whether one of its
// conditions could not be evaluated. With strictOnly, allow rules are
// passed over.
type ruleMatch struct {
	best       *compiledRule
	unknown    bool
	strictOnly bool
}

// scan looks through es, in precedence order, for a rule that matches env
// and outranks m.best, and makes it m.best.
func (m *ruleMatch) scan(es []entry[*compiledRule], env *cond.Env) {
bucket:
	for i := range es {
		e := &es[i]
		r := e.item
		if m.best != nil && (r.rank < m.best.rank || r.rank == m.best.rank && r.order > m.best.order) {
			return // the rest of es ranks lower
		}
		if m.strictOnly && r.effect == Allow ||
			e.checkAgent && !matchAny(r.agents, env.Agent) ||
			e.checkTool && !matchAny(r.tools, env.Tool) ||
			r.resources != nil && !matchAny(r.resources, env.Resource) {
			continue
		}
		unknown := false
		for j := range r.when {
			switch r.when[j].Evaluate(env) {
			case cond.False:
				continue bucket
			case cond.Unknown:
				unknown = true
			}
		}
		if unknown && r.effect == Allow {
			continue
		}
		m.best, m.unknown = r, unknown
		return
	}
}

// check holds a request to the declaration when its tool is covered.
func (a *compiledAttr) check(env *cond.Env) error {
	if a.tools != nil && !matchAny(a.tools, env.Tool) {
		return nil
	}
	v, ok := env.Attr(a.name)
	switch {
	case !ok && a.required:
		return fmt.Errorf("%w: attribute %q is required", ErrInvalidRequest, a.name)
	case !ok:
		// Sent only under a name that differs in case, it is still the
		// attribute to a tool that decodes its arguments into a struct
		// (encoding/json matches names case-insensitively): its value
		// is held to the declaration all the same.
		if v, ok = env.CaseVariant(a.name); !ok {
			return nil
		}
	}
	if cond.ValueType(v) != a.typ {
		return fmt.Errorf("%w: attribute %q must be a %s", ErrInvalidRequest, a.name, a.typ)
	}
	return nil
}

// unevaluable builds the error for a rule with a condition that cannot be
// evaluated in env. It names the rule and the attribute, not the
// condition's operand: the policy's thresholds are not the agent's to see.
func (r *compiledRule) unevaluable(env *cond.Env) error {
	for j := range r.when {
		if why := r.when[j].Why(env); why != "" {
			return fmt.Errorf("%w: rule %q: %s", ErrUnevaluable, r.id, why)
		}
	}
	return fmt.Errorf("%w: rule %q", ErrUnevaluable, r.id)
}

func matchAny(ps []cond.Pattern, s string) bool {
	for i := range ps {
		if ps[i].Match(s) {
			return true
		}
	}
	return false
}

// evaluatePolicy is the policy phase. The built-in engine decides on the
// request's condition environment; another engine gets a PolicyInput.
// With an error, the result is the deny: its rule, if a rule decided,
// and the reason.
func (c *Client) evaluatePolicy(ctx context.Context, ps *policyState, req *Request, now time.Time, st *checkState, env *cond.Env, res *PolicyResult) error {
	if ps.compiled != nil {
		return ps.compiled.evaluateEnv(env, res) // a deny with its rule and reason on error
	}
	var err error
	*res, err = c.evaluateEngine(ctx, ps.engine, req, now, st)
	return err
}

// evaluateEngine asks an engine other than the built-in one.
func (c *Client) evaluateEngine(ctx context.Context, e PolicyEngine, req *Request, now time.Time, st *checkState) (PolicyResult, error) {
	in := &st.in
	*in = PolicyInput{
		Tenant: c.tenant, AgentID: req.AgentID, Tool: req.Tool, Resource: req.Resource,
		SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf, RemoteAddr: req.RemoteAddr,
		// A copy: the engine is the user's code, and st.cred.hops may be
		// the cached token's, which later checks read.
		Attributes: req.Attributes, HopIDs: slices.Clone(st.cred.hops), Time: now,
	}
	res, panicked, err := evaluate(ctx, e, in)
	*in = PolicyInput{} // the engine must not keep it; neither do we
	switch {
	case panicked:
		return PolicyResult{Reason: reasonPolicyPanic}, err
	case err != nil:
		return PolicyResult{Reason: reasonPolicyError}, fmt.Errorf("%w: %w", ErrPolicyEngine, err)
	case res.Effect > NeedsApproval:
		return PolicyResult{Reason: reasonPolicyError}, fmt.Errorf("%w: invalid effect %d", ErrPolicyEngine, res.Effect)
	case ctx.Err() != nil:
		// An engine that kept working past the check's context answers
		// a caller that gave up on the check: a failure, as a store's or
		// the remote engine's would be, never a late Allow.
		return PolicyResult{Reason: reasonPolicyError}, fmt.Errorf("%w: answered after the check's context ended: %w", ErrPolicyEngine, ctx.Err())
	}
	return res, nil
}

// evaluate calls a policy engine other than the built-in one, turning a
// panic into an error: a bug in the engine denies, and Check still
// records the decision and returns its pooled state.
func evaluate(ctx context.Context, e PolicyEngine, in *PolicyInput) (res PolicyResult, panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, panicked = PolicyResult{}, true
			err = fmt.Errorf("%w: engine panicked with %s", ErrPolicyEngine, panicText(p))
		}
	}()
	res, err = e.Evaluate(ctx, in)
	return res, false, err
}

// panicText describes a recovered panic value for an error or a log. It
// quotes the value only when it is an error or a string, clipped, and not
// when it looks like a credential: a callback may panic with its input,
// which holds the request's attributes.
func panicText(p any) string {
	var msg string
	switch v := p.(type) {
	case error:
		msg = v.Error()
	case string:
		msg = v
	default:
		return fmt.Sprintf("a value of type %T", p)
	}
	if redact.MayHold(msg) {
		return "a text withheld as it may hold a credential"
	}
	return strconv.Quote(storable(msg, maxPanicText))
}

// maxPanicText bounds the panic text an error quotes.
const maxPanicText = 200
