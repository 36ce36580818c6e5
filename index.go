package agenttrust

import (
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
type index[T any] struct {
	byAgent    map[string]*toolIndex[T]
	byAgentSeg map[string]*toolIndex[T]
	any        toolIndex[T]
}

type toolIndex[T any] struct {
	byTool    map[string][]entry[T]
	byToolSeg map[string][]entry[T]
	any       []entry[T]
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
				ti.any = append(ti.any, e)
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

func putEntry[T any](m *map[string][]entry[T], k string, e entry[T]) {
	if *m == nil {
		*m = map[string][]entry[T]{}
	}
	(*m)[k] = append((*m)[k], e)
}

func (x *index[T]) finish(less func(a, b T) bool) {
	sortEntries := func(es []entry[T]) {
		sort.SliceStable(es, func(i, j int) bool { return less(es[i].item, es[j].item) })
	}
	sortTool := func(ti *toolIndex[T]) {
		for _, es := range ti.byTool {
			sortEntries(es)
		}
		for _, es := range ti.byToolSeg {
			sortEntries(es)
		}
		sortEntries(ti.any)
	}
	for _, ti := range x.byAgent {
		sortTool(ti)
	}
	for _, ti := range x.byAgentSeg {
		sortTool(ti)
	}
	sortTool(&x.any)
}

// maxBuckets is the most candidate lists a lookup yields: three agent keys
// times three tool keys.
const maxBuckets = 9

// candidates fills out with the non-empty candidate lists for (agent,
// tool) and returns how many. Within a list, entries come in precedence
// order. No closures, no allocation: this is on every check.
func (x *index[T]) candidates(agent, tool string, out *[maxBuckets][]entry[T]) int {
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

func (ti *toolIndex[T]) candidates(tool, toolSeg string, out *[maxBuckets][]entry[T], n int) int {
	if ti == nil {
		return n
	}
	if ti.byTool != nil {
		if es := ti.byTool[tool]; len(es) > 0 {
			out[n] = es
			n++
		}
	}
	if toolSeg != "" && ti.byToolSeg != nil {
		if es := ti.byToolSeg[toolSeg]; len(es) > 0 {
			out[n] = es
			n++
		}
	}
	if len(ti.any) > 0 {
		out[n] = ti.any
		n++
	}
	return n
}
