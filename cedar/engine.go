package cedar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// Annotation keys the engine reads. Any other annotation is refused, so
// that a misspelt @effect cannot turn a needs-approval policy into a plain
// permit.
const (
	annID        = "id"
	annReason    = "reason"
	annEffect    = "effect"
	annApprovers = "approvers"

	effectNeedsApproval = "needs_approval"
)

// Reasons for policies that give none; the built-in rule engine gives the
// same, so a decision reads alike whichever engine made it.
const (
	reasonDefaultDeny = "no rule allows this action"
	reasonRuleDeny    = "denied by policy"
	reasonRuleAllow   = "allowed by policy"
	reasonRuleApprove = "needs approval by policy"
	reasonUnevaluable = "condition cannot be evaluated"
)

// maxReasonLen bounds an @reason annotation.
const maxReasonLen = 1024

// Engine is an agenttrust.PolicyEngine deciding with a Cedar policy set
// (see the package documentation for the mapping). It is immutable once
// made and safe for concurrent use; the zero Engine has no policy and
// denies everything.
type Engine struct {
	list  ordered
	rules []rule
	index map[cedar.PolicyID]int
	// names holds the attribute names the policies read, by folded form
	// (see readNames); nil when they read none.
	names map[string]readName
	// compared holds the attribute paths the policies compare with a
	// value of known type, and that type (see comparedTypes).
	compared []comparedPath
	// ipText says a policy calls ip() on a request value (see
	// ipOfRequest).
	ipText bool
	// tenant caches the parent set of the last tenant's agents.
	tenant atomic.Pointer[tenantParents]
}

// ordered is the policy set in file order, for cedar.Authorize.
type ordered struct {
	policies []*cedar.Policy
	ids      []cedar.PolicyID
}

// All yields the policies in file order under their ids, so cedar-go
// evaluates them in that order.
func (o *ordered) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for i, p := range o.policies {
			if !yield(o.ids[i], p) {
				return
			}
		}
	}
}

var _ agenttrust.PolicyEngine = (*Engine)(nil)

// rule is what the engine knows of one policy besides its condition.
type rule struct {
	id        cedar.PolicyID
	effect    agenttrust.Effect
	rank      int // precedence: forbid 3, needs_approval 2, permit 1
	reason    string
	approvers []string
}

// LoadFile reads a Cedar policy file (at most agenttrust.MaxPolicySize
// bytes) and makes an Engine of it. Errors are *agenttrust.PolicyError
// values naming the file, matching agenttrust.ErrInvalidPolicy.
func LoadFile(path string) (*Engine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("agenttrust: load cedar policy: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, agenttrust.MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("agenttrust: load cedar policy: %w", err)
	}
	return parse(path, src)
}

// Parse makes an Engine of a Cedar policy document; name is used in
// errors and Cedar positions, and may be empty. A document that does not
// parse, a policy with an unknown, misplaced or malformed annotation, and
// duplicate ids are errors, every one reported (joined), as
// *agenttrust.PolicyError values; nothing is half-loaded.
func Parse(name string, src []byte) (*Engine, error) { return parse(name, src) }

func parse(file string, src []byte) (*Engine, error) {
	docErr := func(format string, args ...any) error {
		return &agenttrust.PolicyError{File: file, Index: -1, Msg: fmt.Sprintf(format, args...)}
	}
	if len(src) > agenttrust.MaxPolicySize {
		return nil, docErr("larger than %d bytes", agenttrust.MaxPolicySize)
	}
	if !utf8.Valid(src) {
		return nil, docErr("not valid UTF-8")
	}
	list, err := parseCedar(file, src)
	if err != nil {
		// cedar-go's parser names no file: "<input>:2:22".
		return nil, docErr("%s", strings.ReplaceAll(err.Error(), "<input>:", "line "))
	}
	e := &Engine{
		list:  ordered{policies: list, ids: make([]cedar.PolicyID, len(list))},
		rules: make([]rule, len(list)), index: make(map[cedar.PolicyID]int, len(list)),
	}
	var errs []error
	for i, p := range list {
		r, perrs := compileRule(file, i, p)
		errs = append(errs, perrs...)
		if what := deadEntityRef(p); what != "" {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i,
				Msg: what + ": requests hold only Agent, Action, Resource and Tenant entities, without attributes or tags, so it could never hold"})
		} else if what := wrongSlot(p); what != "" {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i,
				Msg: what + ": the principal is an Agent whose only parent is its Tenant, the action an Action and the resource a Resource, neither with parents, so it could never hold"})
		}
		if name := deadContextHas(p); name != "" {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i,
				Msg: fmt.Sprintf("context has %q is always false: the request's attributes are in context.attr (write context.attr has %s)", name, name)})
		}
		if ip := mappedIP(p); ip != "" {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i,
				Msg: fmt.Sprintf("ip(%q) is an IPv4-mapped IPv6 address: a request's address reaches the policy unmapped (10.0.0.1, never ::ffff:10.0.0.1), so it would never match; write it as IPv4", ip)})
		}
		if what := unmatchableText(p); what != "" {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i,
				Msg: what + " is not valid UTF-8 in Unicode NFC without invisible characters: no request holds such text (a resource is normalised to NFC, anything else is refused), so it would never match; write it in NFC"})
		}
		if _, dup := e.index[r.id]; dup {
			errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(r.id), Index: i, Msg: "duplicate id"})
		}
		e.rules[i] = r
		e.list.ids[i] = r.id
		e.index[r.id] = i
	}
	compared, cerrs := comparedTypes(file, list, e.list.ids)
	if errs = append(errs, cerrs...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	e.names = readNames(list)
	e.compared = compared
	e.ipText = ipOfRequest(list)
	return e, nil
}

// ipOfRequest reports whether a policy calls ip() on anything but a
// string literal: on text of the request, ip(context.attr.host). Cedar
// reads ::ffff:7f00:1 as an IPv6 address, not loopback and in no IPv4
// range, while a tool dialing it reaches 127.0.0.1; so the engine then
// refuses requests holding such text (see mappedText).
func ipOfRequest(list []*cedar.Policy) bool {
	found := ""
	visit := func(n xast.IsNode) bool {
		if c, ok := n.(xast.NodeTypeExtensionCall); ok && c.Name == "ip" {
			for _, a := range c.Args {
				if v, ok := a.(xast.NodeValue); !ok || !isString(v.Value) {
					found = "ip"
				}
			}
		}
		return found == ""
	}
	for _, p := range list {
		if findInConditions((*xast.Policy)(p.AST()), visit, &found) != "" {
			return true
		}
	}
	return false
}

func isString(v types.Value) bool {
	_, ok := v.(types.String)
	return ok
}

// comparedPath is an attribute path (under context.attr, nested names
// after it) that a policy compares with a value of type typ, or, when
// elems is set, whose set's elements it compares with values of type typ.
type comparedPath struct {
	path  []string
	typ   string
	elems bool
	// tools are the tools the policy's action scope names; nil: every
	// tool. Another tool may send the name with another type.
	tools []string
}

// comparedTypes collects the attribute paths the policies compare with
// == or != against a side of known type (a literal, an extension call
// such as decimal("1.5"), a context field such as context.agent), and
// those a literal set of one type tests with contains; the sets whose
// elements contains, containsAny, containsAll or == compares with
// elements of one type; and the fields of a record compared with a
// record literal, field by field. Cedar finds values of two types
// unequal without an error, so a forbid comparing context.attr.amount
// == 5000 would be skipped for the string "5000", and one comparing an
// address for a list holding it, while the tool reads the forbidden
// value; the rule engine cannot evaluate such a condition. Evaluate
// refuses a request for a tool the policy's action scope names (any
// tool, when it names none) holding another type there. Refused here:
// a path compared with two types, as the rule engine refuses an
// attribute compared with two types (every value would slip past one
// of the comparisons), and a comparison with an entity (principal, an
// entity literal), since attributes are never entities.
func comparedTypes(file string, list []*cedar.Policy, ids []cedar.PolicyID) ([]comparedPath, []error) {
	var out []comparedPath
	var errs []error
	typeOf := map[string]string{} // path joined with NUL -> its type
	seen := map[string]bool{}     // the same, with the tools
	for i, p := range list {
		tools := actionTools((*xast.Policy)(p.AST()))
		addPath := func(path []string, typ string, elems bool) {
			if path == nil || typ == "" {
				return
			}
			k := strings.Join(path, "\x00")
			what := "context.attr." + strings.Join(path, ".")
			if elems {
				k += "\x00[]"
				what = "the elements of " + what
			}
			if typ == "Entity" {
				// convert makes no entity of an attribute: never equal.
				errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(ids[i]), Index: i,
					Msg: what + " compared with an entity: a request's attributes are never entities, so it could never be equal (compare with context.agent, context.tool or context.resource, which are strings)"})
				return
			}
			if t, ok := typeOf[k]; ok && t != typ {
				errs = append(errs, &agenttrust.PolicyError{File: file, Rule: string(ids[i]), Index: i,
					Msg: fmt.Sprintf("%s compared with a %s and a %s: one of the comparisons would be false for any value", what, t, typ)})
				return
			}
			typeOf[k] = typ
			if k += "\x00\x00" + strings.Join(tools, "\x00"); tools == nil {
				k += "*"
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, comparedPath{path: path, typ: typ, elems: elems, tools: tools})
			}
		}
		add := func(n xast.IsNode, typ string, elems bool) { addPath(attrPath(n), typ, elems) }
		// compare records path == other: its type, its elements' type,
		// and, for a record literal, each field's, compared in turn.
		var compare func(path []string, other xast.IsNode)
		compare = func(path []string, other xast.IsNode) {
			if path == nil {
				return
			}
			addPath(path, staticType(other), false)
			addPath(path, elementType(other), true)
			field := func(k string, n xast.IsNode) {
				compare(append(path[:len(path):len(path)], k), n)
			}
			switch x := other.(type) {
			case xast.NodeTypeRecord:
				for _, el := range x.Elements {
					field(string(el.Key), el.Value)
				}
			case xast.NodeValue:
				if r, ok := x.Value.(types.Record); ok {
					for k, v := range r.All() {
						field(string(k), xast.NodeValue{Value: v})
					}
				}
			}
		}
		both := func(l, r xast.IsNode) {
			compare(attrPath(l), r)
			compare(attrPath(r), l)
		}
		visit := func(n xast.IsNode) bool {
			switch n := n.(type) {
			case xast.NodeTypeEquals:
				both(n.Left, n.Right)
			case xast.NodeTypeNotEquals:
				both(n.Left, n.Right)
			case xast.NodeTypeContains:
				add(n.Right, elementType(n.Left), false)
				add(n.Left, staticType(n.Right), true)
			case xast.NodeTypeContainsAny:
				add(n.Left, elementType(n.Right), true)
				add(n.Right, elementType(n.Left), true)
			case xast.NodeTypeContainsAll:
				add(n.Left, elementType(n.Right), true)
				add(n.Right, elementType(n.Left), true)
			}
			return true
		}
		for _, c := range (*xast.Policy)(p.AST()).Conditions {
			xast.Inspect(xast.NewNode(c.Body), visit)
		}
	}
	return out, errs
}

// actionTools returns the tools a policy's action scope names (actions
// have no groups, so action in Action::"x" names x), or nil for a scope
// that names none, which every tool meets.
func actionTools(a *xast.Policy) []string {
	switch s := a.Action.(type) {
	case xast.ScopeTypeEq:
		return []string{string(s.Entity.ID)}
	case xast.ScopeTypeIn:
		return []string{string(s.Entity.ID)}
	case xast.ScopeTypeInSet:
		tools := make([]string, 0, len(s.Entities))
		for _, e := range s.Entities {
			tools = append(tools, string(e.ID))
		}
		return tools
	}
	return nil
}

// attrPath returns the names of an access chain context.attr.a.b... as
// [a b ...], or nil for anything else.
func attrPath(n xast.IsNode) []string {
	var rev []string
	for {
		switch x := n.(type) {
		case xast.NodeTypeAccess:
			rev = append(rev, string(x.Value))
			n = x.Arg
			continue
		case xast.NodeTypeVariable:
			if x.Name != "context" || len(rev) < 2 || rev[len(rev)-1] != "attr" {
				return nil
			}
			path := make([]string, 0, len(rev)-1)
			for i := len(rev) - 2; i >= 0; i-- {
				path = append(path, rev[i])
			}
			return path
		}
		return nil
	}
}

// staticType returns the Cedar type of what n always evaluates to, when
// the policy says it (a literal, an extension constructor, arithmetic, a
// context field of fixed type), or "".
func staticType(n xast.IsNode) string {
	switch x := n.(type) {
	case xast.NodeTypeVariable:
		if x.Name != "context" {
			return "Entity" // principal, action, resource
		}
	case xast.NodeValue:
		return valueType(x.Value)
	case xast.NodeTypeSet:
		return "Set"
	case xast.NodeTypeRecord:
		return "Record"
	case xast.NodeTypeNegate, xast.NodeTypeAdd, xast.NodeTypeSub, xast.NodeTypeMult:
		return "Long"
	case xast.NodeTypeExtensionCall:
		switch x.Name {
		case "ip":
			return "ipaddr"
		case "decimal":
			return "decimal"
		case "datetime":
			return "datetime"
		case "duration":
			return "duration"
		}
	case xast.NodeTypeAccess:
		if v, ok := x.Arg.(xast.NodeTypeVariable); ok && v.Name == "context" {
			switch x.Value {
			case "tenant", "agent", "tool", "resource", "session", "on_behalf_of":
				return "String"
			case "hops":
				return "Set"
			case "ip":
				return "ipaddr"
			case "time":
				return "datetime"
			}
		}
	}
	return ""
}

// elementType returns the one type of the elements of a literal set, or
// "" when n is not one or its elements differ in type.
func elementType(n xast.IsNode) string {
	typ := ""
	one := func(t string) bool {
		if t == "" || typ != "" && t != typ {
			return false
		}
		typ = t
		return true
	}
	switch x := n.(type) {
	case xast.NodeTypeSet:
		for _, e := range x.Elements {
			if !one(staticType(e)) {
				return ""
			}
		}
	case xast.NodeValue:
		s, ok := x.Value.(types.Set)
		if !ok {
			return ""
		}
		for e := range s.All() {
			if !one(valueType(e)) {
				return ""
			}
		}
	}
	return typ
}

// valueType names the Cedar type of v.
func valueType(v types.Value) string {
	switch v.(type) {
	case types.String:
		return "String"
	case types.Long:
		return "Long"
	case types.Boolean:
		return "Boolean"
	case types.Decimal:
		return "decimal"
	case types.IPAddr:
		return "ipaddr"
	case types.Datetime:
		return "datetime"
	case types.Duration:
		return "duration"
	case types.Set:
		return "Set"
	case types.Record:
		return "Record"
	case types.EntityUID:
		return "Entity"
	}
	return ""
}

// readName is an attribute name the policies read: name is their
// spelling; many says they read it under more than one spelling, so that
// every request name of its folded form differs from one of them.
type readName struct {
	name string
	many bool
}

// readNames collects the attribute names the policies read, keyed by
// their folded form (foldKey): each name of an access (e.name, e["name"])
// or has test whose e is not a variable (principal, action, resource and
// context hold no request attribute under their own names; entities have
// no attributes), and each key of a record literal, which == compares
// with a request's record. A request attribute is only reached so: Cedar
// has no computed attribute names. The set may hold names that no
// request attribute meets (a record literal's own keys); it misses none.
func readNames(list []*cedar.Policy) map[string]readName {
	names := map[string]readName{}
	add := func(s types.String) {
		k := string(cond.AppendFolded(nil, string(s)))
		if r, ok := names[k]; !ok {
			names[k] = readName{name: string(s)}
		} else if r.name != string(s) {
			names[k] = readName{name: r.name, many: true}
		}
	}
	visit := func(n xast.IsNode) bool {
		switch n := n.(type) {
		case xast.NodeTypeAccess:
			if _, v := n.Arg.(xast.NodeTypeVariable); !v {
				add(n.Value)
			}
		case xast.NodeTypeHas:
			if _, v := n.Arg.(xast.NodeTypeVariable); !v {
				add(n.Value)
			}
		case xast.NodeTypeRecord:
			for _, el := range n.Elements {
				add(el.Key)
			}
		}
		return true
	}
	for _, p := range list {
		for _, c := range (*xast.Policy)(p.AST()).Conditions {
			xast.Inspect(xast.NewNode(c.Body), visit)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return names
}

// deadEntityRef names the first part of p that reads what no request
// holds, or returns "": an entity type other than the four of the
// mapping (in the scope, an entity literal or an is test), or has or
// hasTag on principal, action or resource, which have no attributes or
// tags. Either is always false, so a forbid written with it (a misspelt
// agent::"rogue", an imported principal in Team::"contractors",
// resource has classification) would quietly never deny, as a misspelt
// @effect would quietly allow. Reading an entity's attribute or tag is
// an error and fails closed, so it is left to Evaluate.
func deadEntityRef(p *cedar.Policy) string {
	known := func(t types.EntityType) bool {
		return t == typeAgent || t == typeAction || t == typeResource || t == typeTenant
	}
	a := (*xast.Policy)(p.AST())
	ids, typs := scopeEntities(a)
	for _, id := range ids {
		typs = append(typs, id.Type)
	}
	for _, t := range typs {
		if !known(t) {
			return fmt.Sprintf("entity type %s", t)
		}
	}
	entity := func(n xast.IsNode) bool {
		v, ok := n.(xast.NodeTypeVariable)
		return ok && v.Name != "context"
	}
	what := ""
	var value func(v types.Value)
	value = func(v types.Value) {
		switch v := v.(type) {
		case types.EntityUID:
			if !known(v.Type) {
				what = fmt.Sprintf("entity type %s", v.Type)
			}
		case types.Set:
			for e := range v.All() {
				value(e)
			}
		case types.Record:
			for _, e := range v.All() {
				value(e)
			}
		}
	}
	visit := func(n xast.IsNode) bool {
		switch n := n.(type) {
		case xast.NodeValue:
			value(n.Value)
		case xast.NodeTypeIs:
			if !known(n.EntityType) {
				what = fmt.Sprintf("entity type %s", n.EntityType)
			}
		case xast.NodeTypeIsIn:
			if !known(n.EntityType) {
				what = fmt.Sprintf("entity type %s", n.EntityType)
			}
		case xast.NodeTypeHas:
			if entity(n.Arg) {
				what = fmt.Sprintf("%s has %s", n.Arg.(xast.NodeTypeVariable).Name, n.Value)
			}
		case xast.NodeTypeHasTag:
			if entity(n.Left) {
				what = fmt.Sprintf("%s.hasTag", n.Left.(xast.NodeTypeVariable).Name)
			}
		}
		return what == ""
	}
	return findInConditions(a, visit, &what)
}

// wrongSlot names the first part of p that tests principal, action or
// resource against an entity of a type it never is or is never in
// (principal == Tenant::"globex", resource in Tenant::"acme", principal
// is Tenant), or returns "". Each is always false (!= always true), so a
// forbid written with it would quietly never deny, and a permit with !=
// or unless always allow. deadEntityRef refuses the unknown types.
func wrongSlot(p *cedar.Policy) string {
	// The type each variable is, and the types it is in (itself and,
	// for the principal, its tenant).
	is := map[types.String]types.EntityType{"principal": typeAgent, "action": typeAction, "resource": typeResource}
	in := func(v types.String, t types.EntityType) bool {
		return t == is[v] || v == "principal" && t == typeTenant
	}
	what := ""
	check := func(v types.String, op string, t types.EntityType) {
		if what != "" {
			return
		}
		if op == "in" && !in(v, t) || op != "in" && t != is[v] {
			what = fmt.Sprintf("%s %s %s", v, op, t)
		}
	}
	a := (*xast.Policy)(p.AST())
	for _, sc := range [...]struct {
		v types.String
		s xast.IsScopeNode
	}{{"principal", a.Principal}, {"action", a.Action}, {"resource", a.Resource}} {
		switch s := sc.s.(type) {
		case xast.ScopeTypeEq:
			check(sc.v, "==", s.Entity.Type)
		case xast.ScopeTypeIn:
			check(sc.v, "in", s.Entity.Type)
		case xast.ScopeTypeInSet:
			for _, e := range s.Entities {
				check(sc.v, "in", e.Type)
			}
		case xast.ScopeTypeIs:
			check(sc.v, "is", s.Type)
		case xast.ScopeTypeIsIn:
			check(sc.v, "is", s.Type)
			check(sc.v, "in", s.Entity.Type)
		}
	}
	if what != "" {
		return what
	}
	// variable returns the name of principal, action or resource, or "".
	variable := func(n xast.IsNode) types.String {
		if v, ok := n.(xast.NodeTypeVariable); ok && v.Name != "context" {
			return v.Name
		}
		return ""
	}
	// entities calls f with each entity literal n is or holds (a set).
	entities := func(n xast.IsNode, f func(types.EntityUID)) {
		switch x := n.(type) {
		case xast.NodeValue:
			switch v := x.Value.(type) {
			case types.EntityUID:
				f(v)
			case types.Set:
				for e := range v.All() {
					if u, ok := e.(types.EntityUID); ok {
						f(u)
					}
				}
			}
		case xast.NodeTypeSet:
			for _, e := range x.Elements {
				if v, ok := e.(xast.NodeValue); ok {
					if u, ok := v.Value.(types.EntityUID); ok {
						f(u)
					}
				}
			}
		}
	}
	eq := func(l, r xast.IsNode, op string) {
		if v := variable(l); v != "" {
			if x, ok := r.(xast.NodeValue); ok {
				if u, ok := x.Value.(types.EntityUID); ok {
					check(v, op, u.Type)
				}
			}
		}
	}
	visit := func(n xast.IsNode) bool {
		switch n := n.(type) {
		case xast.NodeTypeEquals:
			eq(n.Left, n.Right, "==")
			eq(n.Right, n.Left, "==")
		case xast.NodeTypeNotEquals:
			eq(n.Left, n.Right, "!=")
			eq(n.Right, n.Left, "!=")
		case xast.NodeTypeIn:
			if v := variable(n.Left); v != "" {
				entities(n.Right, func(u types.EntityUID) { check(v, "in", u.Type) })
			}
		case xast.NodeTypeIs:
			if v := variable(n.Left); v != "" {
				check(v, "is", n.EntityType)
			}
		case xast.NodeTypeIsIn:
			if v := variable(n.Left); v != "" {
				check(v, "is", n.EntityType)
				entities(n.Entity, func(u types.EntityUID) { check(v, "in", u.Type) })
			}
		}
		return what == ""
	}
	return findInConditions(a, visit, &what)
}

// scopeEntities returns the entities the scope of a names (==, in, in a
// set, is ... in) and the entity types its is tests name.
func scopeEntities(a *xast.Policy) (ids []types.EntityUID, typs []types.EntityType) {
	for _, s := range [...]xast.IsScopeNode{a.Principal, a.Action, a.Resource} {
		switch s := s.(type) {
		case xast.ScopeTypeEq:
			ids = append(ids, s.Entity)
		case xast.ScopeTypeIn:
			ids = append(ids, s.Entity)
		case xast.ScopeTypeInSet:
			ids = append(ids, s.Entities...)
		case xast.ScopeTypeIs:
			typs = append(typs, s.Type)
		case xast.ScopeTypeIsIn:
			typs = append(typs, s.Type)
			ids = append(ids, s.Entity)
		}
	}
	return ids, typs
}

// findInConditions walks the conditions of a with visit, which sets
// *found to what it finds, and returns *found once a condition set it.
func findInConditions(a *xast.Policy, visit func(xast.IsNode) bool, found *string) string {
	for _, c := range a.Conditions {
		if xast.Inspect(xast.NewNode(c.Body), visit); *found != "" {
			return *found
		}
	}
	return ""
}

// deadContextHas returns the name of the first has test on the context
// variable itself for a field the context never holds, or "". The
// request's attributes are in context.attr, while Cedar deployments
// commonly put them in the context: ported as written, context has
// blocked is always false, so a forbid guarded by it would quietly never
// deny, and a permit unless it would always allow. Reading such a field
// is an error and fails closed, so it is left to Evaluate.
func deadContextHas(p *cedar.Policy) string {
	found := ""
	visit := func(n xast.IsNode) bool {
		if h, ok := n.(xast.NodeTypeHas); ok {
			if v, ok := h.Arg.(xast.NodeTypeVariable); ok && v.Name == "context" && !contextField(string(h.Value)) {
				found = string(h.Value)
			}
		}
		return found == ""
	}
	return findInConditions((*xast.Policy)(p.AST()), visit, &found)
}

// mappedIP returns the first ip literal of p written as an IPv4-mapped
// IPv6 address or prefix (ip("::ffff:a00:0/104")), or "". The engine
// unmaps the caller's address, as the rule engine and the server do, so
// such a literal never equals or holds it: a forbid on it would let
// through the caller Cedar, given the mapped address as sent, denies.
// The rule engine unmaps its policies' addresses; a Cedar policy is
// refused instead.
func mappedIP(p *cedar.Policy) string {
	mapped := func(v types.Value) bool {
		a, ok := v.(types.IPAddr)
		return ok && netip.Prefix(a).Addr().Is4In6()
	}
	found := ""
	visit := func(n xast.IsNode) bool {
		switch n := n.(type) {
		case xast.NodeTypeExtensionCall:
			if n.Name != "ip" || len(n.Args) != 1 {
				break
			}
			if s, ok := n.Args[0].(xast.NodeValue); ok {
				if str, ok := s.Value.(types.String); ok {
					// A literal that does not parse errs when evaluated.
					if a, err := types.ParseIPAddr(string(str)); err == nil && mapped(a) {
						found = string(str)
					}
				}
			}
		case xast.NodeValue:
			if mapped(n.Value) {
				found = n.Value.(types.IPAddr).String()
			}
		}
		return found == ""
	}
	return findInConditions((*xast.Policy)(p.AST()), visit, &found)
}

// unmatchableText names the first text of p that no request can equal
// ("a string", "an entity id", "a like pattern", "an attribute name"),
// or returns "". Every request string reaches Cedar valid UTF-8 in NFC
// without invisible characters: Check normalises the resource to NFC
// and the engine refuses anything else. A policy naming text in another
// form, such as a resource in NFD as macOS writes file names, would
// never match it: a forbid on it would let through the very request
// Cedar, given it as sent, denies. The rule engine normalises its
// policies to NFC; a Cedar policy is refused instead.
func unmatchableText(p *cedar.Policy) string {
	a := (*xast.Policy)(p.AST())
	ids, _ := scopeEntities(a)
	for _, id := range ids {
		if !normalString(string(id.ID)) {
			return "an entity id"
		}
	}
	what := ""
	visit := func(n xast.IsNode) bool {
		if what != "" {
			return false // Inspect goes on to the siblings
		}
		switch n := n.(type) {
		case xast.NodeValue:
			what = oddValue(n.Value)
		case xast.NodeTypeAccess:
			if !normalString(string(n.Value)) {
				what = "an attribute name"
			}
		case xast.NodeTypeHas:
			if !normalString(string(n.Value)) {
				what = "an attribute name"
			}
		case xast.NodeTypeRecord:
			for _, el := range n.Elements {
				if !normalString(string(el.Key)) {
					what = "an attribute name"
				}
			}
		case xast.NodeTypeLike:
			if !normalPattern(n.Value) {
				what = "a like pattern"
			}
		}
		return what == ""
	}
	return findInConditions(a, visit, &what)
}

// oddValue is unmatchableText for a literal value.
func oddValue(v types.Value) string {
	switch v := v.(type) {
	case types.String:
		if !normalString(string(v)) {
			return "a string"
		}
	case types.EntityUID:
		if !normalString(string(v.ID)) {
			return "an entity id"
		}
	case types.Set:
		for e := range v.All() {
			if w := oddValue(e); w != "" {
				return w
			}
		}
	case types.Record:
		for k, e := range v.All() {
			if !normalString(string(k)) {
				return "an attribute name"
			}
			if w := oddValue(e); w != "" {
				return w
			}
		}
	}
	return ""
}

// normalPattern reports whether every literal part of a like pattern is
// valid UTF-8 in NFC without invisible characters. cedar-go keeps the
// parts to itself; its JSON form lists them.
func normalPattern(p types.Pattern) bool {
	b, err := p.MarshalJSON()
	if err != nil {
		return false
	}
	var parts []any
	if err := json.Unmarshal(b, &parts); err != nil {
		return false
	}
	for _, part := range parts {
		if m, ok := part.(map[string]any); ok {
			if s, ok := m["Literal"].(string); !ok || !normalString(s) {
				return false
			}
		}
	}
	return true
}

// parseCedar runs cedar-go's parser, turning a panic in it into an
// error: a malformed file must never take the process down.
func parseCedar(file string, src []byte) (list cedar.PolicyList, err error) {
	defer func() {
		if r := recover(); r != nil {
			list, err = nil, fmt.Errorf("cedar parser failed: %v", r)
		}
	}()
	return cedar.NewPolicyListFromBytes(file, src)
}

// compileRule reads a policy's annotations. The id and approvers are
// checked by the built-in engine's own rules (through its public API), so
// that both engines accept the same ids and approver globs.
func compileRule(file string, i int, p *cedar.Policy) (rule, []error) {
	var errs []error
	fail := func(id string, format string, args ...any) {
		errs = append(errs, &agenttrust.PolicyError{File: file, Rule: id, Index: i, Msg: fmt.Sprintf(format, args...)})
	}
	r := rule{id: cedar.PolicyID(fmt.Sprintf("policy%d", i))}
	var effect string
	var approvers []string
	hasEffect, hasApprovers := false, false
	for _, a := range p.AST().Annotations {
		// cedar-go's parser refuses an annotation given twice.
		k, v := string(a.Key), string(a.Value)
		switch k {
		case annID:
			r.id = cedar.PolicyID(v)
		case annReason:
			if len(v) > maxReasonLen || strings.ContainsFunc(v, isControl) {
				fail("", "@reason: at most %d bytes, without control characters", maxReasonLen)
			}
			r.reason = v
		case annEffect:
			// A bare @effect reads as "": refused below, never taken
			// for no annotation, which would make a plain permit.
			effect, hasEffect = v, true
		case annApprovers:
			hasApprovers = true
			for _, s := range strings.Split(v, ",") {
				approvers = append(approvers, strings.TrimSpace(s))
			}
		default:
			fail("", "unknown annotation @%s (want @id, @reason, @effect or @approvers)", k)
		}
	}
	id := string(r.id)
	switch {
	case p.Effect() == cedar.Forbid && !hasEffect:
		r.effect, r.rank = agenttrust.Deny, 3
	case p.Effect() == cedar.Permit && hasEffect && effect == effectNeedsApproval:
		r.effect, r.rank = agenttrust.NeedsApproval, 2
	case p.Effect() == cedar.Permit && !hasEffect:
		r.effect, r.rank = agenttrust.Allow, 1
	case p.Effect() == cedar.Forbid:
		fail(id, "@effect(%q) on a forbid policy: only a permit policy may need approval", effect)
	default:
		fail(id, "@effect(%q): the only effect annotation is @effect(%q), on a permit policy", effect, effectNeedsApproval)
	}
	if hasApprovers && r.effect != agenttrust.NeedsApproval {
		fail(id, "@approvers is only meaningful on a permit policy with @effect(%q)", effectNeedsApproval)
		hasApprovers = false
	}
	if hasApprovers {
		r.approvers = approvers
	}
	if r.reason == "" {
		r.reason = map[agenttrust.Effect]string{agenttrust.Deny: reasonRuleDeny, agenttrust.Allow: reasonRuleAllow, agenttrust.NeedsApproval: reasonRuleApprove}[r.effect]
	}
	// The built-in engine judges the id and the approver globs.
	probe := agenttrust.Rule{ID: id, Effect: agenttrust.NeedsApproval, Approvers: r.approvers}
	if _, err := agenttrust.NewRuleEngine(&agenttrust.Policy{Rules: []agenttrust.Rule{probe}}); err != nil {
		for _, pe := range policyErrors(err) {
			fail(id, "%s", pe.Msg)
		}
	}
	return r, errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// policyErrors lists the *agenttrust.PolicyError values joined in err.
func policyErrors(err error) []*agenttrust.PolicyError {
	var out []*agenttrust.PolicyError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, policyErrors(e)...)
		}
		return out
	}
	var pe *agenttrust.PolicyError
	if errors.As(err, &pe) {
		return []*agenttrust.PolicyError{pe}
	}
	return []*agenttrust.PolicyError{{Index: -1, Msg: err.Error()}}
}

// Evaluate implements agenttrust.PolicyEngine (see the package
// documentation for precedence and failures). A request that cannot be
// converted denies with a *RequestError; a forbid or needs-approval
// policy that cannot be evaluated and would decide denies naming it, with
// an *EvalError.
func (e *Engine) Evaluate(ctx context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
	if err := ctx.Err(); err != nil {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny}, err
	}
	if in == nil {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny}, &RequestError{Field: "request", Msg: "no request"}
	}
	req, ents, err := e.convert(in)
	if err != nil {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny, Reason: reasonRequest}, err
	}
	if len(e.rules) == 0 {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny, Reason: reasonDefaultDeny}, nil
	}
	_, diag := cedar.Authorize(&e.list, ents, req)
	best, bestErr := -1, -1
	better := func(i int) bool {
		if best < 0 {
			return true
		}
		a, b := &e.rules[i], &e.rules[best]
		return a.rank > b.rank || a.rank == b.rank && i < best
	}
	for _, r := range diag.Reasons {
		if i, ok := e.index[r.PolicyID]; ok && better(i) {
			best, bestErr = i, -1
		}
	}
	for k, d := range diag.Errors {
		i, ok := e.index[d.PolicyID]
		// A permit that cannot be evaluated does not match: it could
		// only allow. A forbid or needs_approval competes as if it
		// matched, and denies if it decides.
		if ok && e.rules[i].effect != agenttrust.Allow && better(i) {
			best, bestErr = i, k
		}
	}
	if best < 0 {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny, Reason: reasonDefaultDeny}, nil
	}
	r := &e.rules[best]
	if bestErr >= 0 {
		return agenttrust.PolicyResult{Effect: agenttrust.Deny, Rule: string(r.id), Reason: reasonUnevaluable},
			&EvalError{Rule: string(r.id), Detail: diag.Errors[bestErr].Message}
	}
	// The result is the caller's: a copy of the approvers, which a
	// wrapping engine editing one result would otherwise rewrite for
	// every later request.
	return agenttrust.PolicyResult{Effect: r.effect, Rule: string(r.id), Reason: r.reason, Approvers: slices.Clone(r.approvers)}, nil
}
