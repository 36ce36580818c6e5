// Package cond parses and evaluates the one condition grammar agenttrust
// uses everywhere: policy "when" clauses and credential caveats.
//
// # Grammar
//
//	condition = field SP op SP value
//	field     = "agent" | "tool" | "resource" | "session" | "on_behalf_of"
//	          | "tenant" | "ip" | "expires" | "hop" | "attr." name
//	op        = "=" | "<" | "<=" | ">" | ">=" | "in"
//
// String fields take "=" (exact) and "in" (a comma-separated list of globs,
// see Pattern). attr.NAME takes numbers with every comparison, strings with
// "=" and "in", and true/false with "=". "ip" takes "=" an address or "in"
// CIDR prefixes; "expires" takes "<" or "<=" an RFC 3339 time; "hop" takes
// "=" an id. A value may be double-quoted (Go syntax) to hold spaces, commas
// or a string that looks like a number.
//
// # Evaluation
//
// Eval is strict: a missing attribute, a value of the wrong type, NaN or an
// infinity makes the condition false. Eval allocates nothing.
package cond

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxLen bounds the text of one condition.
const MaxLen = 4096

// Field names what a condition tests.
type Field uint8

// The fields of the grammar.
const (
	FieldAgent Field = iota + 1
	FieldTool
	FieldResource
	FieldSession
	FieldOnBehalfOf
	FieldTenant
	FieldIP
	FieldExpires
	FieldHop
	FieldAttr
)

var fieldNames = map[string]Field{
	"agent":        FieldAgent,
	"tool":         FieldTool,
	"resource":     FieldResource,
	"session":      FieldSession,
	"on_behalf_of": FieldOnBehalfOf,
	"tenant":       FieldTenant,
	"ip":           FieldIP,
	"expires":      FieldExpires,
	"hop":          FieldHop,
}

// Op is a comparison operator.
type Op uint8

// The operators of the grammar.
const (
	OpEq Op = iota + 1
	OpLt
	OpLe
	OpGt
	OpGe
	OpIn
)

var opNames = [...]string{OpEq: "=", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=", OpIn: "in"}

func (o Op) String() string { return opNames[o] }

type kind uint8

const (
	kindString kind = iota + 1
	kindNumber
	kindBool
)

// Cond is one parsed condition. The zero Cond is invalid and never holds.
type Cond struct {
	Field Field
	Attr  string // attribute name for FieldAttr
	Op    Op

	kind     kind
	str      string
	num      float64
	boolean  bool
	list     []Pattern
	addr     netip.Addr
	prefixes []netip.Prefix
	when     time.Time
}

// Env is what a condition is evaluated against.
type Env struct {
	Agent, Tool, Resource, Session, OnBehalfOf, Tenant string
	Attributes                                         map[string]any
	// List, when not nil, holds the same attributes as a short slice and
	// is searched instead of the map: for the few attributes a request
	// carries, a scan beats hashing.
	List []Attr
	IP   netip.Addr
	Now  time.Time
	Hops []string
}

// Attr is one named attribute value.
type Attr struct {
	Name  string
	Value any
}

func (env *Env) attr(name string) (any, bool) {
	if env.List != nil {
		for i := range env.List {
			if env.List[i].Name == name {
				return env.List[i].Value, true
			}
		}
		return nil, false
	}
	v, ok := env.Attributes[name]
	return v, ok
}

// SyntaxError reports a condition that does not parse.
type SyntaxError struct {
	Input string
	Msg   string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("agenttrust: bad condition %q: %s", e.Input, e.Msg)
}

func errorf(in, format string, args ...any) error {
	if len(in) > 80 {
		in = in[:77] + "..."
	}
	return &SyntaxError{Input: in, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses one condition.
func Parse(s string) (Cond, error) {
	if len(s) > MaxLen {
		return Cond{}, errorf(s, "longer than %d bytes", MaxLen)
	}
	if !utf8.ValidString(s) {
		return Cond{}, errorf(s, "not valid UTF-8")
	}
	in := s
	s = strings.TrimSpace(s)
	name, rest, ok := strings.Cut(s, " ")
	if !ok {
		return Cond{}, errorf(in, `want "field op value"`)
	}
	var c Cond
	if attr, isAttr := strings.CutPrefix(name, "attr."); isAttr {
		if !validAttrName(attr) {
			return Cond{}, errorf(in, "bad attribute name %q (letters, digits, '_' and '-', starting with a letter or '_')", attr)
		}
		c.Field, c.Attr = FieldAttr, attr
	} else if c.Field, ok = fieldNames[name]; !ok {
		return Cond{}, errorf(in, "unknown field %q", name)
	}
	rest = strings.TrimLeft(rest, " ")
	opText, value, ok := strings.Cut(rest, " ")
	if !ok {
		return Cond{}, errorf(in, "missing value")
	}
	switch opText {
	case "=":
		c.Op = OpEq
	case "<":
		c.Op = OpLt
	case "<=":
		c.Op = OpLe
	case ">":
		c.Op = OpGt
	case ">=":
		c.Op = OpGe
	case "in":
		c.Op = OpIn
	default:
		return Cond{}, errorf(in, "unknown operator %q", opText)
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return Cond{}, errorf(in, "missing value")
	}
	if err := c.parseValue(value); err != nil {
		return Cond{}, errorf(in, "%s", err.Error())
	}
	return c, nil
}

func validAttrName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_':
		case (b >= '0' && b <= '9') || b == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (c *Cond) parseValue(v string) error {
	switch c.Field {
	case FieldAgent, FieldTool, FieldResource, FieldSession, FieldOnBehalfOf, FieldTenant, FieldHop:
		switch {
		case c.Op == OpEq:
			s, err := scalar(v)
			if err != nil {
				return err
			}
			c.kind, c.str = kindString, NFC(s)
			return nil
		case c.Op == OpIn && c.Field != FieldHop:
			return c.parseList(v)
		}
		return fmt.Errorf("%s takes %s", fieldName(c.Field), map[bool]string{true: `"="`, false: `"=" or "in"`}[c.Field == FieldHop])
	case FieldIP:
		switch c.Op {
		case OpEq:
			s, err := scalar(v)
			if err != nil {
				return err
			}
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return fmt.Errorf("bad IP address %q", s)
			}
			c.addr = a.Unmap()
			return nil
		case OpIn:
			items, err := splitList(v)
			if err != nil {
				return err
			}
			for _, it := range items {
				p, err := netip.ParsePrefix(it)
				if err != nil {
					a, aerr := netip.ParseAddr(it)
					if aerr != nil || a.Zone() != "" {
						return fmt.Errorf("bad CIDR prefix %q", it)
					}
					a = a.Unmap()
					p = netip.PrefixFrom(a, a.BitLen())
				}
				if p.Addr().Is4In6() {
					p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
					if p.Bits() < 0 {
						return fmt.Errorf("bad CIDR prefix %q", it)
					}
				}
				c.prefixes = append(c.prefixes, p.Masked())
			}
			return nil
		}
		return fmt.Errorf(`ip takes "=" or "in"`)
	case FieldExpires:
		if c.Op != OpLt && c.Op != OpLe {
			return fmt.Errorf(`expires takes "<" or "<="`)
		}
		s, err := scalar(v)
		if err != nil {
			return err
		}
		t, err := parseTime(s)
		if err != nil {
			return fmt.Errorf("bad RFC 3339 time %q", s)
		}
		c.when = t.UTC()
		return nil
	case FieldAttr:
		if c.Op == OpIn {
			return c.parseList(v)
		}
		if v[0] == '"' {
			s, err := scalar(v)
			if err != nil {
				return err
			}
			if c.Op != OpEq {
				return fmt.Errorf("strings compare only with \"=\" or \"in\"")
			}
			c.kind, c.str = kindString, NFC(s)
			return nil
		}
		if n, ok := parseNumber(v); ok {
			c.kind, c.num = kindNumber, n
			return nil
		}
		if c.Op != OpEq {
			return fmt.Errorf("%q is not a finite number", v)
		}
		switch v {
		case "true", "false":
			c.kind, c.boolean = kindBool, v == "true"
			return nil
		}
		if strings.ContainsAny(v, " \t,\"") {
			return fmt.Errorf("unquoted value %q holds a space, comma or quote", v)
		}
		c.kind, c.str = kindString, NFC(v)
		return nil
	}
	return fmt.Errorf("unknown field")
}

func (c *Cond) parseList(v string) error {
	items, err := splitList(v)
	if err != nil {
		return err
	}
	for _, it := range items {
		p, err := ParsePattern(it)
		if err != nil {
			return err
		}
		c.list = append(c.list, p)
	}
	return nil
}

// scalar returns a single value, unquoting it if quoted.
func scalar(v string) (string, error) {
	if v[0] == '"' {
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", fmt.Errorf("bad quoted string %s", v)
		}
		if s == "" {
			return "", fmt.Errorf("empty value")
		}
		if hasControl(s) || !utf8.ValidString(s) {
			return "", fmt.Errorf("control character or invalid UTF-8 in value")
		}
		return s, nil
	}
	if strings.ContainsAny(v, " \t,\"") {
		return "", fmt.Errorf("unquoted value %q holds a space, comma or quote", v)
	}
	if hasControl(v) {
		return "", fmt.Errorf("control character in value")
	}
	return v, nil
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// splitList splits "a, b,\"c,d\"" into items; quoted items are unquoted.
func splitList(v string) ([]string, error) {
	var items []string
	for len(v) > 0 {
		v = strings.TrimLeft(v, " ")
		var item string
		if strings.HasPrefix(v, `"`) {
			end := quotedEnd(v)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			s, err := strconv.Unquote(v[:end])
			if err != nil {
				return nil, fmt.Errorf("bad quoted string %s", v[:end])
			}
			item, v = s, strings.TrimLeft(v[end:], " ")
			if v != "" && v[0] != ',' {
				return nil, fmt.Errorf("want \",\" after quoted string")
			}
		} else {
			i := strings.IndexByte(v, ',')
			if i < 0 {
				i = len(v)
			}
			item = strings.TrimRight(v[:i], " ")
			if strings.ContainsAny(item, "\" \t") {
				return nil, fmt.Errorf("unquoted list item %q holds a space or quote", item)
			}
			v = v[i:]
		}
		if item == "" {
			return nil, fmt.Errorf("empty list item")
		}
		items = append(items, item)
		if v == "" {
			break
		}
		v = v[1:] // the comma
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("empty list item")
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return items, nil
}

func quotedEnd(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

func parseNumber(v string) (float64, bool) {
	// Only plain decimal notation: no hex, no underscores, no "Inf"/"NaN".
	for i := 0; i < len(v); i++ {
		b := v[i]
		if !(b >= '0' && b <= '9' || b == '.' || b == '-' || b == '+' || b == 'e' || b == 'E') {
			return 0, false
		}
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

var fieldText = [...]string{
	FieldAgent: "agent", FieldTool: "tool", FieldResource: "resource", FieldSession: "session",
	FieldOnBehalfOf: "on_behalf_of", FieldTenant: "tenant", FieldIP: "ip", FieldExpires: "expires",
	FieldHop: "hop", FieldAttr: "attr",
}

func fieldName(f Field) string {
	if int(f) < len(fieldText) && fieldText[f] != "" {
		return fieldText[f]
	}
	return "attr"
}

// String returns the canonical text of c: single spaces, lists joined by
// ",", values quoted only when needed. Parse(c.String()) yields c again.
func (c Cond) String() string { return string(c.AppendCanonical(nil)) }

// AppendCanonical appends the canonical text of c to b.
func (c *Cond) AppendCanonical(b []byte) []byte {
	if c.Field == FieldAttr {
		b = append(append(b, "attr."...), c.Attr...)
	} else {
		b = append(b, fieldName(c.Field)...)
	}
	b = append(append(append(b, ' '), c.Op.String()...), ' ')
	switch {
	case c.list != nil:
		for i, p := range c.list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendQuotedIfNeeded(b, p.src, false)
		}
	case c.prefixes != nil:
		for i, p := range c.prefixes {
			if i > 0 {
				b = append(b, ',')
			}
			b = p.AppendTo(b)
		}
	case c.Field == FieldIP:
		b = c.addr.AppendTo(b)
	case c.Field == FieldExpires:
		b = c.when.AppendFormat(b, time.RFC3339Nano)
	case c.kind == kindNumber:
		b = strconv.AppendFloat(b, c.num, 'g', -1, 64)
	case c.kind == kindBool:
		b = strconv.AppendBool(b, c.boolean)
	default:
		b = appendQuotedIfNeeded(b, c.str, c.Field == FieldAttr)
	}
	return b
}

func appendQuotedIfNeeded(b []byte, s string, attr bool) []byte {
	if strings.ContainsAny(s, " \t,\"") || (attr && (s == "true" || s == "false" || isNumberText(s))) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func isNumberText(s string) bool { _, ok := parseNumber(s); return ok }

// Expires returns the deadline of an "expires" condition.
func (c *Cond) Expires() (time.Time, bool) {
	return c.when, c.Field == FieldExpires
}

// Value returns the string operand of an "=" condition on a string field,
// such as the id of a "hop" condition.
func (c *Cond) Value() string { return c.str }

// Eval reports whether c holds in env. It allocates nothing.
func (c *Cond) Eval(env *Env) bool {
	switch c.Field {
	case FieldAgent:
		return c.evalString(env.Agent)
	case FieldTool:
		return c.evalString(env.Tool)
	case FieldResource:
		return c.evalString(env.Resource)
	case FieldSession:
		return c.evalString(env.Session)
	case FieldOnBehalfOf:
		return c.evalString(env.OnBehalfOf)
	case FieldTenant:
		return c.evalString(env.Tenant)
	case FieldHop:
		for _, h := range env.Hops {
			if h == c.str {
				return true
			}
		}
		return false
	case FieldIP:
		a := env.IP.Unmap()
		if !a.IsValid() {
			return false
		}
		if c.Op == OpEq {
			return a == c.addr
		}
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	case FieldExpires:
		if env.Now.IsZero() {
			return false
		}
		if c.Op == OpLt {
			return env.Now.Before(c.when)
		}
		return !env.Now.After(c.when)
	case FieldAttr:
		v, ok := env.attr(c.Attr)
		if !ok {
			return false
		}
		return c.evalAttr(v)
	}
	return false
}

func (c *Cond) evalString(s string) bool {
	if c.Op == OpEq {
		return s == c.str
	}
	if s == "" {
		return false
	}
	for i := range c.list {
		if c.list[i].Match(s) {
			return true
		}
	}
	return false
}

func (c *Cond) evalAttr(v any) bool {
	if c.list != nil {
		s, ok := v.(string)
		return ok && c.evalString(s)
	}
	switch c.kind {
	case kindString:
		s, ok := v.(string)
		return ok && s == c.str
	case kindBool:
		b, ok := v.(bool)
		return ok && b == c.boolean
	case kindNumber:
		n, ok := Number(v)
		if !ok {
			return false
		}
		switch c.Op {
		case OpEq:
			return n == c.num
		case OpLt:
			return n < c.num
		case OpLe:
			return n <= c.num
		case OpGt:
			return n > c.num
		case OpGe:
			return n >= c.num
		}
	}
	return false
}

// Number converts an attribute value to a finite float64. Strings are not
// numbers, even when they look like one.
func Number(v any) (float64, bool) {
	var n float64
	switch x := v.(type) {
	case int:
		n = float64(x)
	case int8:
		n = float64(x)
	case int16:
		n = float64(x)
	case int32:
		n = float64(x)
	case int64:
		n = float64(x)
	case uint:
		n = float64(x)
	case uint8:
		n = float64(x)
	case uint16:
		n = float64(x)
	case uint32:
		n = float64(x)
	case uint64:
		n = float64(x)
	case float32:
		n = float64(x)
	case float64:
		n = x
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false
		}
		n = f
	default:
		return 0, false
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// parseTime parses RFC 3339. The form agenttrust writes itself
// (YYYY-MM-DDTHH:MM:SS[.fraction]Z, in UTC) is read by hand, since token
// verification parses one per token; anything else goes to time.Parse.
func parseTime(s string) (time.Time, error) {
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	if len(s) >= 20 && s[len(s)-1] == 'Z' && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' {
		y, ok1 := num(s[0:4])
		mo, ok2 := num(s[5:7])
		d, ok3 := num(s[8:10])
		h, ok4 := num(s[11:13])
		mi, ok5 := num(s[14:16])
		se, ok6 := num(s[17:19])
		ns, frac := 0, s[19:len(s)-1]
		ok7 := true
		if frac != "" {
			digits := frac[1:]
			if frac[0] != '.' || len(digits) == 0 || len(digits) > 9 {
				ok7 = false
			} else if ns, ok7 = num(digits); ok7 {
				for range 9 - len(digits) {
					ns *= 10
				}
			}
		}
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && h < 24 && mi < 60 && se < 60 {
			t := time.Date(y, time.Month(mo), d, h, mi, se, ns, time.UTC)
			if t.Day() == d { // rejects February 30 and the like
				return t, nil
			}
		}
	}
	return time.Parse(time.RFC3339Nano, s)
}
