package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
)

// What a record keeps of a request is less than the policy saw: values
// redacted (a secret attribute, a credential pasted into text), values
// made storable (invalid UTF-8 and NUL become U+FFFD), attributes too
// large to keep (the record holds only a mark), a resource cut to the
// record's bound and no remote address at all. A condition on any of
// them, and a resource pattern when the resource may have been cut, is
// opaque: replay cannot tell whether it holds. It never guesses: the new
// outcome of a record is reported only when it is the same whatever the
// opaque conditions say, and the record counts as unknown otherwise.
//
// With a Policy that is decided exactly, with two evaluations: under a
// policy where the rules with an opaque condition never match (low), and
// one where their opaque conditions always hold (high). Every way the
// opaque conditions could come out makes a set of matching rules between
// the two, and the decision is the highest ranking rule of the set; when
// low and high give the same answer, the rule that decides under low
// outranks everything high adds, and so every way gives that answer.

// opaqueMarks are what a record holds instead of a value: a redacted
// value, a redacted credential inside text, a value that could not be
// encoded, and U+FFFD, which stands for bytes that were not storable.
var opaqueMarks = [...]string{"[redacted]", "[redacted credential]", "[unencodable]", "\uFFFD"}

// OpaqueText reports whether s, text from an audit record, holds one of
// the marks a record keeps instead of what the request sent (a redacted
// value or credential, an unencodable value, U+FFFD for bytes that were
// not storable): a value replay, and advice, cannot read.
func OpaqueText(s string) bool {
	if !strings.Contains(s, "[") && !strings.Contains(s, "\uFFFD") {
		return false
	}
	for _, m := range opaqueMarks {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// truncatedName is the one attribute of a record whose attributes were
// too large to keep: the record holds {"_truncated":true} instead, and
// every attribute the request had is lost, absent ones included. No
// request can send an attribute of this name, so the mark is never a
// request's own.
const truncatedName = "_truncated"

// truncated reports whether m, a record's decoded attributes, is the
// mark of attributes that were not kept.
func truncated(m map[string]any) bool {
	v, ok := m[truncatedName]
	return ok && len(m) == 1 && v == true
}

// clipLen is the bound of a resource in a record (maxFieldLen in package
// agenttrust). A valid request's resource is bounded before it is
// normalised to NFC, which can lengthen it; the record then keeps it cut
// on a character boundary, without a mark, so a resource of clipLen -
// utf8.UTFMax + 1 bytes or more may be the start of a longer one.
const clipLen = 1024

// clipped reports whether a record's resource may have been cut.
func clipped(resource string) bool { return len(resource) > clipLen-utf8.UTFMax }

// A record keeps an integer as its digits, but the request may have held
// it as a Go integer (a library caller, a Guard struct field), which a
// condition reads exactly, or as text (a json.Number, as the HTTP API
// passes it), which a condition judges only where the exact reading and
// the nearest float64 agree. Past 2^53 the two can differ, so replay
// decides such a record both ways.

// goIntegers replaces each top-level attribute of m that is an integer
// past 2^53 in magnitude, as text, with the Go integer it may have been,
// and appends its name to names. Only the top level: conditions do not
// read inside objects and lists.
func goIntegers(m map[string]any, names []string) []string {
	for k, v := range m {
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			continue
		}
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			if i > 1<<53 || i < -1<<53 {
				m[k] = i
				names = append(names, k)
			}
		} else if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
			m[k] = u
			names = append(names, k)
		}
	}
	return names
}

// describeInts names the attributes goIntegers found.
func describeInts(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "attr." + n
	}
	return strings.Join(parts, ", ")
}

// errOpaqueNames marks a record whose attribute names themselves were
// redacted: which attribute is which cannot be told.
var errOpaqueNames = errors.New("an attribute name was redacted")

// decodeAttrs decodes a record's attributes into m (cleared first) and
// appends to opaque the names of those whose value the record does not
// keep; those are left out of m. Numbers stay json.Number, as the
// conditions read them exactly.
func decodeAttrs(raw json.RawMessage, m map[string]any, opaque []string, rd *bytes.Reader) ([]string, error) {
	clear(m)
	if len(raw) == 0 {
		return opaque, nil
	}
	rd.Reset(raw)
	dec := json.NewDecoder(rd)
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return opaque, fmt.Errorf("attributes: %w", err)
	}
	for k, v := range m {
		if OpaqueText(k) {
			return opaque, errOpaqueNames
		}
		if opaqueValue(v) {
			opaque = append(opaque, k)
			delete(m, k)
		}
	}
	return opaque, nil
}

// opaqueValue reports whether v, or anything inside it, is not what the
// request held.
func opaqueValue(v any) bool {
	switch x := v.(type) {
	case string:
		return OpaqueText(x)
	case map[string]any:
		for k, e := range x {
			if OpaqueText(k) || opaqueValue(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if opaqueValue(e) {
				return true
			}
		}
	}
	return false
}

// ipName stands for the remote address among the opaque names: no record
// keeps it. resourceName stands for a resource the record may have cut:
// the rules that read it are its patterns and its conditions. No
// attribute can have these names (attribute names start with a letter or
// '_').
const (
	ipName       = "#ip"
	resourceName = "#resource"
)

// planner decides records against a Policy, the opaque parts included.
// It is shared by the workers and immutable.
type planner struct {
	policy agenttrust.Policy
	base   agenttrust.PolicyEngine
	// refs are the attribute names some condition or declaration of the
	// policy reads, ipName when a condition reads the address, and
	// resourceName when a rule reads the resource: the only opaque names
	// that can matter.
	refs map[string]bool
	// attrs are the attribute names among refs, sorted: those a record
	// whose attributes were truncated does not keep.
	attrs []string
	// ruleRefs[i] are those read by rule i.
	ruleRefs [][]string
	// folded are the attribute names among refs by their case folding
	// (cond.AppendFolded).
	folded map[string][]string

	coarseOnce   sync.Once
	coarseBounds *bounds
}

func newPlanner(p *agenttrust.Policy) (*planner, error) {
	base, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		return nil, err
	}
	pl := &planner{policy: *p, base: base, refs: map[string]bool{}}
	pl.policy.Limits = nil // no part of the policy phase
	pl.ruleRefs = make([][]string, len(p.Rules))
	for i, r := range p.Rules {
		if len(r.Resources) > 0 {
			pl.refs[resourceName] = true
			pl.ruleRefs[i] = append(pl.ruleRefs[i], resourceName)
		}
		for _, w := range r.When {
			c, err := cond.Parse(w)
			if err != nil {
				return nil, err // NewRuleEngine accepted it: cannot happen
			}
			if n := condRef(&c); n != "" {
				pl.refs[n] = true
				pl.ruleRefs[i] = append(pl.ruleRefs[i], n)
			}
		}
	}
	for _, a := range p.Attributes {
		pl.refs[a.Name] = true
	}
	for n := range pl.refs {
		if n != ipName && n != resourceName {
			pl.attrs = append(pl.attrs, n)
		}
	}
	slices.Sort(pl.attrs)
	pl.folded = map[string][]string{}
	for _, n := range pl.attrs {
		k := string(cond.AppendFolded(nil, n))
		pl.folded[k] = append(pl.folded[k], n)
	}
	return pl, nil
}

// condRef names what c reads that a record may not keep, or "".
func condRef(c *cond.Cond) string {
	switch c.Field {
	case cond.FieldIP:
		return ipName
	case cond.FieldResource:
		return resourceName
	case cond.FieldAttr:
		return c.Attr
	}
	return ""
}

// bounds is the pair of policies for one set of opaque names.
type bounds struct {
	low, high agenttrust.PolicyEngine
	// specs are the tool patterns of the attribute declarations left
	// out, on opaque attributes: a value of the wrong type would have
	// been refused, so only a deny is sure.
	specs [][]cond.Pattern
	err   error
}

// bounds compiles the pair for the opaque names (sorted, each read by
// the policy).
func (pl *planner) bounds(names []string) *bounds {
	opaque := func(n string) bool { _, ok := slices.BinarySearch(names, n); return ok }
	low, high := pl.policy, pl.policy
	low.Rules, high.Rules, low.Attributes = nil, nil, nil
	b := &bounds{}
	for _, a := range pl.policy.Attributes {
		if !opaque(a.Name) {
			low.Attributes = append(low.Attributes, a)
			continue
		}
		var pats []cond.Pattern
		for _, t := range a.Tools {
			p, err := cond.ParseNamePattern(t)
			if err != nil {
				b.err = err
				return b
			}
			pats = append(pats, p)
		}
		b.specs = append(b.specs, pats)
	}
	high.Attributes = low.Attributes
	for i, r := range pl.policy.Rules {
		if !slices.ContainsFunc(pl.ruleRefs[i], opaque) {
			low.Rules = append(low.Rules, r)
			high.Rules = append(high.Rules, r)
			continue
		}
		h := r
		h.When = nil
		if opaque(resourceName) {
			h.Resources = nil // any resource
		}
		for _, w := range r.When {
			c, _ := cond.Parse(w)
			if n := condRef(&c); n == "" || !opaque(n) {
				h.When = append(h.When, w)
			}
		}
		high.Rules = append(high.Rules, h)
	}
	if b.low, b.err = agenttrust.NewRuleEngine(&low); b.err == nil {
		b.high, b.err = agenttrust.NewRuleEngine(&high)
	}
	return b
}

// declared reports whether a left-out declaration covers tool.
func (b *bounds) declared(tool string) bool {
	for _, pats := range b.specs {
		if pats == nil {
			return true
		}
		for i := range pats {
			if pats[i].Match(tool) {
				return true
			}
		}
	}
	return false
}

// maxBounds and maxBoundRules bound the pairs of policies a worker keeps
// compiled, one per set of opaque names met: in number, and in the rules
// they hold together, since each is a copy of the policy. An agent picks
// the set (any text it sends holding "[redacted]" is not kept), so past
// the bounds a record is decided with the pair for every name the policy
// reads (planner.coarse): an answer that is unknown more often, never a
// wrong one, and no policy compiled per record.
const (
	maxBounds     = 256
	maxBoundRules = 1 << 14
)

// coarse is the pair of policies for every name the policy reads,
// compiled once.
func (pl *planner) coarse() *bounds {
	pl.coarseOnce.Do(func() {
		var names []string
		for n := range pl.refs {
			names = append(names, n)
		}
		slices.Sort(names)
		pl.coarseBounds = pl.bounds(names)
	})
	return pl.coarseBounds
}

// decidePolicy decides in against the planner's policy, in.Attributes
// holding what the record keeps and opaque the names it does not (plus
// ipName); truncated says the attributes among them were lost to the
// bound on their size, not redacted. ok is false when the answer depends
// on what was not kept.
func (w *worker) decidePolicy(ctx context.Context, in *agenttrust.PolicyInput, opaque []string, truncated bool) (out outcome, ok bool, why string) {
	pl := w.plan
	names := w.names[:0]
	for _, n := range opaque {
		if pl.refs[n] {
			names = append(names, n)
			continue
		}
		// A name the policy reads in another case: live, it makes the
		// condition unknown, and with the value gone the record no
		// longer shows the name to the condition.
		var buf [64]byte
		names = append(names, pl.folded[string(cond.AppendFolded(buf[:0], n))]...)
	}
	if pl.refs[ipName] {
		names = append(names, ipName)
	}
	w.names = names
	if len(names) == 0 {
		return w.evaluate(ctx, pl.base, in), true, ""
	}
	slices.Sort(names)
	names = slices.Compact(names)
	key := strings.Join(names, "\x00")
	b, hit := w.bounds[key]
	if !hit {
		if cost := 2 * len(pl.policy.Rules); len(w.bounds) < maxBounds && w.boundRules+cost <= maxBoundRules {
			b = pl.bounds(slices.Clone(names))
			w.bounds[key] = b
			w.boundRules += cost
		} else {
			b = pl.coarse()
		}
	}
	if b.err != nil {
		return outcome{}, false, "the policy could not be split on " + describeNames(names, truncated) + ": " + b.err.Error()
	}
	lo := w.evaluate(ctx, b.low, in)
	hi := w.evaluate(ctx, b.high, in)
	if lo.effect != hi.effect || lo.rule != hi.rule {
		return outcome{}, false, "depends on " + describeNames(names, truncated)
	}
	if lo.effect != agenttrust.Deny && b.declared(in.Tool) {
		return outcome{}, false, "the declared type of " + describeNames(names, truncated) + " cannot be checked"
	}
	return lo, true, ""
}

// describeNames says which values the record lacks, its attributes
// truncated or redacted.
func describeNames(names []string, truncated bool) string {
	parts := make([]string, len(names))
	for i, n := range names {
		switch {
		case n == ipName:
			parts[i] = "the remote address (not recorded)"
		case n == resourceName:
			parts[i] = "the resource (at the record's bound of " + strconv.Itoa(clipLen) + " bytes: it may have been cut)"
		case truncated:
			parts[i] = "attr." + n + " (attributes too large to record)"
		default:
			parts[i] = "attr." + n + " (redacted)"
		}
	}
	return strings.Join(parts, ", ")
}
