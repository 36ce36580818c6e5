package cedar

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
	"golang.org/x/text/unicode/norm"
)

// Entity types of the mapping (see the package documentation and
// schema.cedarschema).
const (
	typeAgent    cedar.EntityType = "Agent"
	typeAction   cedar.EntityType = "Action"
	typeResource cedar.EntityType = "Resource"
	typeTenant   cedar.EntityType = "Tenant"
)

// Bounds on a request's nested attribute values.
const (
	maxDepth  = 16
	maxValues = 10_000
)

const reasonRequest = "request cannot be expressed in Cedar"

// RequestError reports a request Cedar cannot be asked about: a string
// that is not valid UTF-8 in NFC without invisible characters, a number
// Cedar cannot hold, a value of an unsupported type, nesting too deep,
// an attribute name that differs only in case from one a policy reads,
// a null under the name of one, a remote address with a zone, a value
// of another type than a policy compares it with, text a policy's ip()
// would read as an IPv4-mapped address. It
// matches agenttrust.ErrInvalidRequest.
// Field is "agent", "tool", "resource", "session", "on_behalf_of",
// "tenant", "hops", "ip" or the attribute's path ("attr.order.items");
// the value itself is not named.
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("agenttrust: cedar: request %s: %s", e.Field, e.Msg)
}

// Unwrap returns agenttrust.ErrInvalidRequest.
func (e *RequestError) Unwrap() error { return agenttrust.ErrInvalidRequest }

// EvalError reports that the forbid or needs-approval policy that decides
// a request cannot be evaluated on it (Cedar's evaluation error: a missing
// attribute, a type mismatch, an overflow). The request is denied naming
// Rule. It matches agenttrust.ErrUnevaluable. Detail is cedar-go's
// message, for logs: it may quote the policy's operands, which are not
// the agent's to see, so Error does not include it.
type EvalError struct {
	Rule   string
	Detail string
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("agenttrust: rule %q: condition cannot be evaluated", e.Rule)
}

// Unwrap returns agenttrust.ErrUnevaluable.
func (e *EvalError) Unwrap() error { return agenttrust.ErrUnevaluable }

// entities holds the one entity a request brings: its principal, whose
// parent is its tenant. Every other entity exists with no attributes and
// no parents.
type entities struct{ principal cedar.Entity }

func (g entities) Get(uid cedar.EntityUID) (cedar.Entity, bool) {
	if uid == g.principal.UID {
		return g.principal, true
	}
	return cedar.Entity{}, false
}

// convert maps a PolicyInput to a Cedar request and its entities.
func (e *Engine) convert(in *agenttrust.PolicyInput) (cedar.Request, cedar.EntityGetter, error) {
	for _, f := range [...]struct{ name, v string }{
		{"agent", in.AgentID}, {"tool", in.Tool}, {"resource", in.Resource},
		{"session", in.SessionID}, {"on_behalf_of", in.OnBehalfOf}, {"tenant", in.Tenant},
	} {
		if !normalString(f.v) {
			return cedar.Request{}, nil, &RequestError{Field: f.name, Msg: "not valid UTF-8 in Unicode NFC without invisible characters"}
		}
		if e.ipText && mappedText(f.v) {
			return cedar.Request{}, nil, &RequestError{Field: f.name, Msg: msgMappedText}
		}
	}
	c := &converter{names: e.names, ipText: e.ipText}
	hops := make([]cedar.Value, len(in.HopIDs))
	for i, h := range in.HopIDs {
		if !normalString(h) {
			return cedar.Request{}, nil, &RequestError{Field: "hops", Msg: "not valid UTF-8 in Unicode NFC without invisible characters"}
		}
		if e.ipText && mappedText(h) {
			return cedar.Request{}, nil, &RequestError{Field: "hops", Msg: msgMappedText}
		}
		hops[i] = cedar.String(h)
	}
	attrs := make(cedar.RecordMap, len(in.Attributes))
	for k, v := range in.Attributes {
		if err := c.put(attrs, "attr", k, v, 1); err != nil {
			return cedar.Request{}, nil, err
		}
	}
	if err := e.checkCompared(attrs, in.Tool); err != nil {
		return cedar.Request{}, nil, err
	}
	// Sized for every key, so that filling it never grows it.
	ctx := make(cedar.RecordMap, 10)
	ctx["tenant"] = cedar.String(in.Tenant)
	ctx["agent"] = cedar.String(in.AgentID)
	ctx["tool"] = cedar.String(in.Tool)
	ctx["resource"] = cedar.String(in.Resource)
	ctx["session"] = cedar.String(in.SessionID)
	ctx["on_behalf_of"] = cedar.String(in.OnBehalfOf)
	ctx["hops"] = cedar.NewSet(hops...)
	ctx["attr"] = cedar.NewRecord(attrs)
	if a := in.RemoteAddr.Unmap(); a.IsValid() {
		if a.Zone() != "" {
			// Cedar has no zones, and netip.PrefixFrom drops one:
			// fe80::1%wlan0 would be judged as fe80::1, another host
			// on another link. The rule engine judges it by no ip
			// condition; here the request is refused.
			return cedar.Request{}, nil, &RequestError{Field: "ip", Msg: "an address with a zone, which Cedar cannot hold"}
		}
		ctx["ip"] = cedar.IPAddr(netip.PrefixFrom(a, a.BitLen()))
	}
	if !in.Time.IsZero() {
		ctx["time"] = cedar.NewDatetime(in.Time)
	}
	principal := cedar.Entity{UID: cedar.NewEntityUID(typeAgent, cedar.String(in.AgentID))}
	if in.Tenant != "" {
		principal.Parents = e.tenantSet(in.Tenant)
	}
	req := cedar.Request{
		Principal: principal.UID,
		Action:    cedar.NewEntityUID(typeAction, cedar.String(in.Tool)),
		Resource:  cedar.NewEntityUID(typeResource, cedar.String(in.Resource)),
		Context:   cedar.NewRecord(ctx),
	}
	return req, entities{principal: principal}, nil
}

// contextField reports whether name is a field of a request's context
// (convert fills them; ip and time only when known).
func contextField(name string) bool {
	switch name {
	case "tenant", "agent", "tool", "resource", "session", "on_behalf_of", "hops", "attr", "ip", "time":
		return true
	}
	return false
}

// checkCompared refuses a request for tool whose value at a path the
// policies compare with == or != (see comparedTypes) has another type
// than the other side, or whose set there holds an element of another
// type than the policy compares its elements with: Cedar would find it
// unequal, and skip a forbid naming the value the tool reads it as (the
// string "5000" for 5000, a list holding the forbidden address). A path
// the request lacks, or that passes through a value other than a
// record, errs in Cedar and is left to it.
func (e *Engine) checkCompared(attrs cedar.RecordMap, tool string) error {
	for _, c := range e.compared {
		if c.tools != nil && !slices.Contains(c.tools, tool) {
			continue // the policy never applies to this tool
		}
		v, ok := attrs[cedar.String(c.path[0])]
		for _, name := range c.path[1:] {
			r, isRec := v.(types.Record)
			if !ok || !isRec {
				ok = false
				break
			}
			v, ok = r.Get(cedar.String(name))
		}
		if !ok {
			continue
		}
		if !c.elems {
			if t := valueType(v); t != c.typ {
				return &RequestError{Field: "attr." + strings.Join(c.path, "."),
					Msg: fmt.Sprintf("a %s where a policy compares it with a %s, which Cedar finds unequal without an error", t, c.typ)}
			}
			continue
		}
		set, isSet := v.(types.Set)
		if !isSet {
			continue // contains and the like err on it
		}
		for el := range set.All() {
			if t := valueType(el); t != c.typ {
				return &RequestError{Field: "attr." + strings.Join(c.path, "."),
					Msg: fmt.Sprintf("a set holding a %s where a policy compares its elements with a %s, which Cedar finds unequal without an error", t, c.typ)}
			}
		}
	}
	return nil
}

type converter struct {
	n      int
	names  map[string]readName // the engine's: the names its policies read
	ipText bool                // the engine's: a policy calls ip() on a request value
}

const msgMappedText = "an IPv4-mapped IPv6 address, which a policy's ip() would judge as IPv6 while a tool dialing it reaches the IPv4 address"

// mappedText reports whether Cedar's ip() reads s as an IPv4-mapped IPv6
// address or prefix (::ffff:7f00:1; cedar-go refuses the dotted form
// ::ffff:127.0.0.1). Cedar judges it as IPv6: not loopback, in no IPv4
// range, unequal to the IPv4 address. Go's net and the kernel's
// dual-stack sockets reach the IPv4 address, so a forbid on it would be
// skipped for the very host it names.
func mappedText(s string) bool {
	if !strings.Contains(s, ":") {
		return false
	}
	a, err := types.ParseIPAddr(s)
	return err == nil && netip.Prefix(a).Addr().Is4In6()
}

// put converts v and stores it under k in m; a nil value is left out, as
// if the attribute were absent (Cedar has no null), unless a policy reads
// its name: then it is refused. A name that differs
// only in case from one the policies read is refused, whatever its value:
// Cedar would find the policy's name missing (has is false, a forbid
// guarded by it is skipped) while a tool decoding its arguments into a
// struct (encoding/json matches field names case-insensitively) reads it
// as that name.
func (c *converter) put(m cedar.RecordMap, path, k string, v any, depth int) error {
	path += "." + k
	if !normalString(k) {
		return &RequestError{Field: path, Msg: "name is not valid UTF-8 in Unicode NFC without invisible characters"}
	}
	if c.names != nil {
		var buf [128]byte // agenttrust names are at most 128 bytes
		r, ok := c.names[string(cond.AppendFolded(buf[:0], k))]
		if ok && (r.many || r.name != k) {
			return &RequestError{Field: path, Msg: "name differs only in case from an attribute a policy reads"}
		}
		if ok && v == nil {
			// Left out, it would make "has" false and skip a forbid
			// guarded by it, while the tool still gets the null (a
			// JSON merge patch deletes the field). The rule engine
			// cannot evaluate a null either.
			return &RequestError{Field: path, Msg: "null, which Cedar cannot hold, under the name of an attribute a policy reads"}
		}
	}
	if v == nil {
		return nil
	}
	cv, err := c.value(path, v, depth)
	if err != nil {
		return err
	}
	m[cedar.String(k)] = cv
	return nil
}

func (c *converter) value(path string, v any, depth int) (cedar.Value, error) {
	if c.n++; c.n > maxValues {
		return nil, &RequestError{Field: "attr", Msg: fmt.Sprintf("more than %d values", maxValues)}
	}
	if depth > maxDepth {
		return nil, &RequestError{Field: path, Msg: fmt.Sprintf("nested deeper than %d", maxDepth)}
	}
	switch x := v.(type) {
	case string:
		if !normalString(x) {
			return nil, &RequestError{Field: path, Msg: "not valid UTF-8 in Unicode NFC without invisible characters"}
		}
		if c.ipText && mappedText(x) {
			return nil, &RequestError{Field: path, Msg: msgMappedText}
		}
		return cedar.String(x), nil
	case bool:
		return cedar.Boolean(x), nil
	case map[string]any:
		rec := make(cedar.RecordMap, len(x))
		for k, e := range x {
			if err := c.put(rec, path, k, e, depth+1); err != nil {
				return nil, err
			}
		}
		return cedar.NewRecord(rec), nil
	case []any:
		set := make([]cedar.Value, 0, len(x))
		for _, e := range x {
			if e == nil {
				return nil, &RequestError{Field: path, Msg: "a list holds null, which Cedar cannot hold"}
			}
			cv, err := c.value(path, e, depth+1)
			if err != nil {
				return nil, err
			}
			set = append(set, cv)
		}
		return cedar.NewSet(set...), nil
	}
	return number(path, v)
}

// number converts a Go or JSON number: an integer within int64 is a Long;
// another finite number is a decimal if it has at most four fractional
// digits, and refused otherwise (Cedar has no floating point). A
// json.Number is read exactly from its text; a float only where no other
// Long or decimal rounds onto it (see floatValue).
func number(path string, v any) (cedar.Value, error) {
	switch x := v.(type) {
	case int:
		return cedar.Long(x), nil
	case int8:
		return cedar.Long(x), nil
	case int16:
		return cedar.Long(x), nil
	case int32:
		return cedar.Long(x), nil
	case int64:
		return cedar.Long(x), nil
	case uint8:
		return cedar.Long(x), nil
	case uint16:
		return cedar.Long(x), nil
	case uint32:
		return cedar.Long(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, &RequestError{Field: path, Msg: msgLongRange}
		}
		return cedar.Long(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, &RequestError{Field: path, Msg: msgLongRange}
		}
		return cedar.Long(x), nil
	case float32:
		return floatValue(path, float64(x), 32)
	case float64:
		return floatValue(path, x, 64)
	case json.Number:
		return jsonNumber(path, string(x))
	}
	return nil, &RequestError{Field: path, Msg: fmt.Sprintf("a %T, which Cedar cannot hold (want a string, number, boolean, map[string]any or []any)", v)}
}

const (
	msgLongRange = "integer beyond Cedar's Long range"
	msgDecimal   = "fractional number with more than 4 decimal places or beyond Cedar's decimal range"
	// A reader of float64s (JavaScript, encoding/json into an any, the
	// MCP SDK) takes such text for another number than Cedar would.
	msgFloatReads = "number a float64 cannot hold: past 2^53 or more than 15 significant digits"
)

// jsonNumber converts the text of a JSON number exactly, never through a
// float64, which would round 5000.00000000000000001 onto the Long 5000:
// an integer within int64 (5e3, 5000.000 and -0 too) is a Long, a value
// with at most four fractional digits once trailing zeros are dropped
// and within Cedar's decimal range a decimal, and anything else is
// refused. So is a number a float64 cannot hold (an integer past 2^53
// that is not a float64, such as 9007199254740993; a fraction of more
// than 15 significant digits): the tool that acts on the request may
// read it as the nearest float64, another number than Cedar judged.
func jsonNumber(path, s string) (cedar.Value, error) {
	if !cond.IsJSONNumber(s) {
		return nil, &RequestError{Field: path, Msg: "not a finite JSON number"}
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var exp int64
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		// The syntax is checked, so the only error is range, where
		// ParseInt returns the nearest int32: far enough to refuse any
		// nonzero number, and zero stays zero.
		exp, _ = strconv.ParseInt(s[i+1:], 10, 32)
		s = s[:i]
	}
	whole, frac, _ := strings.Cut(s, ".")
	// The value is digits × 10^scale.
	digits := strings.TrimLeft(whole+frac, "0")
	scale := exp - int64(len(frac))
	n := len(digits)
	digits = strings.TrimRight(digits, "0")
	scale += int64(n - len(digits))
	if digits == "" {
		return cedar.Long(0), nil
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	switch {
	case scale >= 0:
		u, ok := magnitude(digits, scale, limit)
		if !ok {
			return nil, &RequestError{Field: path, Msg: msgLongRange}
		}
		if u > 1<<53 && uint64(float64(u)) != u {
			return nil, &RequestError{Field: path, Msg: msgFloatReads}
		}
		return cedar.Long(signed(u, neg)), nil
	case len(digits) > 15:
		return nil, &RequestError{Field: path, Msg: msgFloatReads}
	case scale >= -4:
		// In ten-thousandths, the unit of Cedar's decimal, whose range
		// is int64's.
		u, ok := magnitude(digits, 4+scale, limit)
		if !ok {
			return nil, &RequestError{Field: path, Msg: msgDecimal}
		}
		d, err := types.NewDecimal(signed(u, neg), -4)
		if err != nil {
			return nil, &RequestError{Field: path, Msg: msgDecimal}
		}
		return d, nil
	}
	return nil, &RequestError{Field: path, Msg: msgDecimal}
}

// magnitude returns the integer written as the decimal digits followed
// by zeros zeros, if it is at most limit.
func magnitude(digits string, zeros int64, limit uint64) (uint64, bool) {
	var u uint64
	for i := 0; i < len(digits); i++ {
		c := uint64(digits[i] - '0')
		if u > (limit-c)/10 {
			return 0, false
		}
		u = u*10 + c
	}
	for ; zeros > 0; zeros-- {
		if u > limit/10 {
			return 0, false
		}
		u *= 10
	}
	return u, true
}

// signed returns u, negated if neg; u is at most 2^63 when neg, and
// 2^63 negates to math.MinInt64.
func signed(u uint64, neg bool) int64 {
	if neg {
		return int64(-u)
	}
	return int64(u)
}

// floatValue converts a finite float32 (bits 32) or float64 (bits 64).
// A float holds one number exactly but is what every number near it
// rounds onto, so it converts only where it is the image of one Cedar
// value: a Long if integral and below 2^53 in magnitude (2^24 for a
// float32; beyond, 9007199254740993 and 9007199254740992 are one
// float64), else the decimal of its shortest text if that has at most
// four fractional digits and the float is below 2^39 (2^10) in magnitude,
// where two numbers four decimal places apart always round apart.
// Anything else is refused.
func floatValue(path string, f float64, bits int) (cedar.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, &RequestError{Field: path, Msg: "not a finite number"}
	}
	mant := 53 // significand bits
	if bits == 32 {
		mant = 24
	}
	a := math.Abs(f)
	if f == math.Trunc(f) {
		if a >= math.Ldexp(1, mant) {
			return nil, &RequestError{Field: path, Msg: fmt.Sprintf("integral float%d of magnitude 2^%d or more, onto which more than one integer rounds", bits, mant)}
		}
		return cedar.Long(int64(f)), nil
	}
	// At 2^(mant-14) a float's spacing passes 2^-13, more than 0.0001.
	if a >= math.Ldexp(1, mant-14) {
		return nil, &RequestError{Field: path, Msg: fmt.Sprintf("fractional float%d of magnitude 2^%d or more, onto which more than one decimal rounds", bits, mant-14)}
	}
	d, err := types.ParseDecimal(strconv.FormatFloat(f, 'f', -1, bits))
	if err != nil {
		return nil, &RequestError{Field: path, Msg: msgDecimal}
	}
	return d, nil
}

// normalString reports whether s is valid UTF-8 in NFC without invisible
// formatting characters: anything else could look like a policy's operand
// without being equal to it, and slip past a forbid.
func normalString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) {
				return false
			}
			for _, r := range s[i:] {
				if r >= utf8.RuneSelf && unicode.Is(unicode.Cf, r) {
					return false
				}
			}
			return true
		}
	}
	return true
}

// tenantParents is a tenant and the parent set of its agents.
type tenantParents struct {
	name string
	set  cedar.EntityUIDSet
}

// tenantSet returns {Tenant::"name"}. The set costs five allocations to
// make and is immutable, so the last one is kept: a client checks for
// one tenant, so it is made once.
func (e *Engine) tenantSet(name string) cedar.EntityUIDSet {
	if t := e.tenant.Load(); t != nil && t.name == name {
		return t.set
	}
	t := &tenantParents{name: name, set: cedar.NewEntityUIDSet(cedar.NewEntityUID(typeTenant, cedar.String(name)))}
	e.tenant.Store(t)
	return t.set
}
