package agenttrust

import (
	"slices"
	"sort"

	"github.com/agenttrust/agenttrust/internal/cond"
)

// index finds the items that may apply to an (agent, tool) pair without
// scanning the others. Each pattern files its item under one of three keys
// per dimension:
//
//   - exact: a pattern without '*' is looked up by the request's value;
//   - segment: a pattern whose text up to its first delimiter ('.', ':' or
//     '/') holds no '*', such as "payments.*" or "mailbox:alice/*", is
//     looked up by the request value's own first segment ("payments.");
//   - wildcard: anything else ("*", "team-*", an empty list) is scanned.
//
// Entries filed under a segment or wildcard key re-check their patterns at
// match time. A lookup probes at most three maps per dimension, however
// many items there are.
//
// A long list of items that share their agent and tool keys (per-account
// rules of one agent, say) is split once more by resource (see resIndex),
// so that it too costs a lookup rather than a scan.
type index[T any] struct {
	byAgent    map[string]*toolIndex[T]
	byAgentSeg map[string]*toolIndex[T]
	any        toolIndex[T]
}

type toolIndex[T any] struct {
	byTool    map[string]*list[T]
	byToolSeg map[string]*list[T]
	any       list[T]
}

// list is the items filed under one agent key and one tool key, in
// precedence order.
type list[T any] struct {
	es  []entry[T]
	res *resIndex[T] // nil: scan es
}

// minResIndex is the length from which finish splits a list by resource:
// below it a scan costs less than the lookups.
const minResIndex = 16

// resIndex splits a list by its items' resource patterns, each sub-list
// in the list's order: a literal pattern files its item under its text,
// a pattern with a literal prefix before its first '*' under that prefix,
// and an item with no resources or a pattern starting with '*' goes in
// any. A resource is looked up by its own text and by its prefix of each
// length in lens: one probe per distinct prefix length, whatever the
// number of items. Entries re-check their resources at match time.
type resIndex[T any] struct {
	exact  map[string][]entry[T]
	prefix map[string][]entry[T]
	lens   []int // the distinct lengths of the keys of prefix, ascending
	any    []entry[T]
}

type entry[T any] struct {
	item       T
	checkAgent bool
	checkTool  bool
}

type keyKind uint8

const (
	keyExact keyKind = iota
	keySegment
	keyAny
)

type indexKey struct {
	v    string
	kind keyKind
}

// firstSegment returns s up to and including its first delimiter, or "".
func firstSegment(s string) string {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', ':', '/':
			return s[:i+1]
		}
	}
	return ""
}

func indexKeys(ps []cond.Pattern) []indexKey {
	if len(ps) == 0 {
		return []indexKey{{kind: keyAny}}
	}
	var ks []indexKey
	wild := false
	for _, p := range ps {
		if lit, ok := p.Literal(); ok {
			ks = append(ks, indexKey{lit, keyExact})
		} else if seg := p.LiteralSegment(); seg != "" {
			ks = append(ks, indexKey{seg, keySegment})
		} else {
			wild = true
		}
	}
	if wild {
		ks = append(ks, indexKey{kind: keyAny})
	}
	return ks
}

func (x *index[T]) add(item T, agents, tools []cond.Pattern) {
	for _, a := range indexKeys(agents) {
		ti := &x.any
		switch a.kind {
		case keyExact:
			ti = getTI(&x.byAgent, a.v)
		case keySegment:
			ti = getTI(&x.byAgentSeg, a.v)
		}
		for _, t := range indexKeys(tools) {
			e := entry[T]{item: item, checkAgent: a.kind != keyExact && len(agents) > 0, checkTool: t.kind != keyExact && len(tools) > 0}
			switch t.kind {
			case keyExact:
				putEntry(&ti.byTool, t.v, e)
			case keySegment:
				putEntry(&ti.byToolSeg, t.v, e)
			default:
				ti.any.es = append(ti.any.es, e)
			}
		}
	}
}

func getTI[T any](m *map[string]*toolIndex[T], k string) *toolIndex[T] {
	if *m == nil {
		*m = map[string]*toolIndex[T]{}
	}
	ti := (*m)[k]
	if ti == nil {
		ti = &toolIndex[T]{}
		(*m)[k] = ti
	}
	return ti
}

func putEntry[T any](m *map[string]*list[T], k string, e entry[T]) {
	if *m == nil {
		*m = map[string]*list[T]{}
	}
	l := (*m)[k]
	if l == nil {
		l = &list[T]{}
		(*m)[k] = l
	}
	l.es = append(l.es, e)
}

// finish sorts every list into precedence order (less) and splits the
// long ones by the resource patterns of their items (resources; nil for
// items that have none).
func (x *index[T]) finish(less func(a, b T) bool, resources func(T) []cond.Pattern) {
	finishList := func(l *list[T]) {
		sort.SliceStable(l.es, func(i, j int) bool { return less(l.es[i].item, l.es[j].item) })
		if resources != nil && len(l.es) >= minResIndex {
			l.res = newResIndex(l.es, resources)
		}
	}
	sortTool := func(ti *toolIndex[T]) {
		for _, l := range ti.byTool {
			finishList(l)
		}
		for _, l := range ti.byToolSeg {
			finishList(l)
		}
		finishList(&ti.any)
	}
	for _, ti := range x.byAgent {
		sortTool(ti)
	}
	for _, ti := range x.byAgentSeg {
		sortTool(ti)
	}
	sortTool(&x.any)
}

// newResIndex splits es by resource, or returns nil when that would not
// set most of them aside (when most items match any resource).
func newResIndex[T any](es []entry[T], resources func(T) []cond.Pattern) *resIndex[T] {
	x := &resIndex[T]{exact: map[string][]entry[T]{}, prefix: map[string][]entry[T]{}}
	for _, e := range es {
		rs := resources(e.item)
		if len(rs) == 0 {
			x.any = append(x.any, e)
			continue
		}
		for _, p := range rs {
			if lit, ok := p.Literal(); ok {
				x.exact[lit] = append(x.exact[lit], e)
			} else if pre := p.LiteralPrefix(); pre != "" {
				x.prefix[pre] = append(x.prefix[pre], e)
			} else {
				x.any = append(x.any, e)
				break // once in any is enough: it re-checks every pattern
			}
		}
	}
	if 2*len(x.any) > len(es) {
		return nil
	}
	for k := range x.prefix {
		x.lens = append(x.lens, len(k))
	}
	slices.Sort(x.lens)
	x.lens = slices.Compact(x.lens)
	return x
}

// maxBuckets is the most candidate lists a lookup yields: three agent keys
// times three tool keys.
const maxBuckets = 9

// candidates fills out with the non-empty candidate lists for (agent,
// tool) and returns how many. Within a list, entries come in precedence
// order. No closures, no allocation: this is on every check.
func (x *index[T]) candidates(agent, tool string, out *[maxBuckets]*list[T]) int {
	toolSeg := firstSegment(tool)
	n := 0
	if x.byAgent != nil {
		n = x.byAgent[agent].candidates(tool, toolSeg, out, n)
	}
	if x.byAgentSeg != nil {
		if seg := firstSegment(agent); seg != "" {
			n = x.byAgentSeg[seg].candidates(tool, toolSeg, out, n)
		}
	}
	return x.any.candidates(tool, toolSeg, out, n)
}

func (ti *toolIndex[T]) candidates(tool, toolSeg string, out *[maxBuckets]*list[T], n int) int {
	if ti == nil {
		return n
	}
	if ti.byTool != nil {
		if l := ti.byTool[tool]; l != nil {
			out[n] = l
			n++
		}
	}
	if toolSeg != "" && ti.byToolSeg != nil {
		if l := ti.byToolSeg[toolSeg]; l != nil {
			out[n] = l
			n++
		}
	}
	if len(ti.any.es) > 0 {
		out[n] = &ti.any
		n++
	}
	return n
}
