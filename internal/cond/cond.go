// Package cond parses and evaluates the one condition grammar agenttrust
// uses everywhere: policy "when" clauses and credential caveats.
//
// # Grammar
//
//	condition = field SP op SP value
//	field     = "agent" | "tool" | "resource" | "session" | "on_behalf_of"
//	          | "tenant" | "ip" | "expires" | "hop" | "attr." name [ "?" ]
//	op        = "=" | "<" | "<=" | ">" | ">=" | "in"
//
// String fields take "=" (exact) and "in" (a comma-separated list of globs,
// see Pattern). agent, tool, session and on_behalf_of values are names (see
// ValidName); resource values and globs are checked by CheckResource and
// ParseResourcePattern. attr.NAME takes numbers with every comparison,
// strings with "=" and "in", and true/false with "=". "ip" takes "=" an
// address or "in" CIDR prefixes; "expires" takes "<" or "<=" an RFC 3339
// time; "hop" takes "=" an id. A value may be double-quoted (Go syntax) to
// hold spaces, commas or a string that looks like a number. An unquoted
// "in" item that reads as a number or a boolean is refused: "in" compares
// strings, so it could never match such a value.
//
// # Evaluation
//
// Evaluate answers True, False or Unknown. Unknown means the condition
// cannot be evaluated on this request: a missing attribute; a value of
// another type than the condition's (a string "5000" against a number, a
// number against a string, a nested object, null); NaN or an infinity; a
// json.Number that is not a JSON number; a string attribute that is not
// valid UTF-8, not in NFC or holds an invisible formatting character; a
// number with more precision than a float64 holds (more than 15
// significant digits, or so small that it underflows to 0 or to a
// subnormal) that rounds onto the condition's operand; an integer given
// as text (json.Number) past 2^53 in magnitude that the condition judges
// otherwise when it is read as the nearest float64, as JavaScript, the
// MCP SDK or encoding/json into an any read it; an "ip" condition
// without a remote address or with one holding a zone; an "expires"
// condition without a time. Operands are never that small: Parse
// refuses them. Callers must
// fail closed on Unknown: a caveat does not hold, an allow rule does not
// match, a deny or needs-approval rule is not skipped. Eval is Evaluate
// == True.
//
// "attr.NAME?" says that a request without the attribute is fine: the
// condition is False then, not Unknown, as a Cedar "has" guard would make
// it. A value of the wrong type is still Unknown, and so is an attribute
// missing under its own name but present under one that differs only in
// case ("AMOUNT" for amount, under the folding of unicode.ToUpper then
// unicode.ToLower, which covers strings.EqualFold): a tool decoding JSON
// into a struct reads it as the attribute.
//
// Numbers compare exactly between integers (every Go integer type, and a
// json.Number without fraction or exponent, up to the uint64 range) and
// as float64 otherwise; integers and floats compare exactly with each
// other. A float32 is judged only where its binary value and the decimal
// it prints as (float32(0.7) holds 0.699999988 but prints as 0.7) give
// the same answer, and is Unknown where they do not. Evaluate allocates
// nothing.
package cond

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/agenttrust/agenttrust/internal/redact"
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
	// FieldBudget is a budget caveat (see budget.go): it is never
	// evaluated (Evaluate answers Unknown); Check spends it.
	FieldBudget
)

// BindsAction reports whether a caveat on f binds what is done (tool,
// resource, session, on_behalf_of, attributes) rather than who does it
// (agent, tenant, hop), from where (ip) or until when (expires), which
// hold or fail whatever the caller does.
func (f Field) BindsAction() bool {
	switch f {
	case FieldAgent, FieldTenant, FieldIP, FieldExpires, FieldHop, FieldBudget:
		return false
	}
	return true
}

// fieldByName returns the field a condition names, other than attr.* and
// budget. A switch rather than a map: token verification looks up every
// caveat's field.
func fieldByName(name string) (Field, bool) {
	switch name {
	case "agent":
		return FieldAgent, true
	case "tool":
		return FieldTool, true
	case "resource":
		return FieldResource, true
	case "session":
		return FieldSession, true
	case "on_behalf_of":
		return FieldOnBehalfOf, true
	case "tenant":
		return FieldTenant, true
	case "ip":
		return FieldIP, true
	case "expires":
		return FieldExpires, true
	case "hop":
		return FieldHop, true
	}
	return 0, false
}

// needsQuotes reports whether s holds a byte that an unquoted value cannot:
// a space, a tab, a comma or a double quote. A loop, not
// strings.ContainsAny, which builds its byte set on every call.
func needsQuotes(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', ',', '"':
			return true
		}
	}
	return false
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
	// Optional is set by "attr.NAME?": a missing attribute makes the
	// condition false instead of Unknown.
	Optional bool
	Op       Op

	kind     kind
	str      string
	num      float64
	isInt    bool  // num came from an integer that fits int64
	inum     int64 // that integer, exactly
	boolean  bool
	list     []Pattern
	addr     netip.Addr
	prefixes []netip.Prefix
	when     time.Time
	cur      string // a budget's currency, "" for none
	bname    string // a budget's name (see BudgetName)
	units    int64  // a budget's limit, in units (see BudgetScale)
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

// Attr returns the value of the named attribute and whether the request
// has it.
func (env *Env) Attr(name string) (any, bool) { return env.attr(name) }

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

// CaseVariant returns the value of the attribute whose name differs from
// name only in case (see SameFolded), and whether there is one. A request
// holds at most one: two names one under folding are refused. Callers ask
// it once name itself is missing.
func (env *Env) CaseVariant(name string) (any, bool) {
	if env.List != nil {
		for i := range env.List {
			if SameFolded(env.List[i].Name, name) {
				return env.List[i].Value, true
			}
		}
		return nil, false
	}
	for k, v := range env.Attributes {
		if SameFolded(k, name) {
			return v, true
		}
	}
	return nil, false
}

// hasCaseVariant reports whether env has an attribute whose name is name
// under case folding (see SameFolded). Callers ask it only once name
// itself is missing, so it finds a name spelled otherwise: "AMOUNT" or
// "amount" with a Kelvin sign for k, which a tool decoding its arguments
// into a struct (encoding/json matches field names case-insensitively)
// would still read as amount.
func (env *Env) hasCaseVariant(name string) bool {
	if env.List != nil {
		for i := range env.List {
			if SameFolded(env.List[i].Name, name) {
				return true
			}
		}
		return false
	}
	for k := range env.Attributes {
		if SameFolded(k, name) {
			return true
		}
	}
	return false
}

// SameFolded reports whether a and b are one name under the case folding
// by which the middleware refuses a member named twice: rune by rune,
// unicode.ToLower of unicode.ToUpper, so what strings.ToLower(
// strings.ToUpper(s)) makes of a and b is the same. It is broader than
// strings.EqualFold, which encoding/json matches struct fields by (it
// also takes U+0130 and U+0131 for i), and allocates nothing.
func SameFolded(a, b string) bool {
	for a != "" && b != "" {
		ra, na := rune(a[0]), 1
		if ra >= utf8.RuneSelf {
			ra, na = utf8.DecodeRuneInString(a)
		}
		rb, nb := rune(b[0]), 1
		if rb >= utf8.RuneSelf {
			rb, nb = utf8.DecodeRuneInString(b)
		}
		if ra != rb && foldRune(ra) != foldRune(rb) {
			return false
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b == ""
}

// AppendFolded appends s in the folding of SameFolded: two names are
// SameFolded exactly when their AppendFolded forms are equal, so the form
// keys a map of names compared that way. s must be valid UTF-8.
func AppendFolded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			dst = append(dst, byte(foldRune(rune(c))))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(unicode.ToUpper(r))
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
	// Redacted before it is cut: a credential the cut splits is no
	// longer found, and its start is the secret of an API key.
	in = redact.Credentials(in)
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
	if name == "budget" {
		if err := c.parseBudget(rest); err != nil {
			return Cond{}, errorf(in, "%s", err.Error())
		}
		return c, nil
	}
	if attr, isAttr := strings.CutPrefix(name, "attr."); isAttr {
		attr, c.Optional = strings.CutSuffix(attr, "?")
		if !validAttrName(attr) {
			return Cond{}, errorf(in, "bad attribute name %q (letters, digits, '_' and '-', starting with a letter or '_')", attr)
		}
		c.Field, c.Attr = FieldAttr, attr
	} else if c.Field, ok = fieldByName(name); !ok {
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

// ValidAttrName reports whether s can name an attribute in a condition.
func ValidAttrName(s string) bool { return validAttrName(s) }

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
			s = NFC(s)
			switch c.Field {
			case FieldAgent, FieldTool, FieldSession, FieldOnBehalfOf:
				if !ValidName(s) {
					return fmt.Errorf("%s %q is not a valid name (1-%d letters, digits and . _ : / @ + -)", fieldName(c.Field), s, MaxNameLen)
				}
			case FieldResource:
				if msg := CheckResource(s); msg != "" {
					return fmt.Errorf("resource %q %s", s, msg)
				}
			}
			c.kind, c.str = kindString, s
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
		if t.IsZero() {
			// The zero time.Time means "no expiry" to every reader
			// that keeps the earliest one: it would let a later
			// expiry replace every earlier one.
			return fmt.Errorf("expiry %q is the zero time", s)
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
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				c.isInt, c.inum = true, i
			} else if sigDigits(v) > maxExactDigits {
				return fmt.Errorf("number %s has more significant digits than a float64 holds exactly (at most %d, or an integer within int64)", v, maxExactDigits)
			} else if tooSmall(n, v) {
				return fmt.Errorf("number %s is too small for a float64 to hold exactly (0, or at least %g in magnitude)", v, minNormal)
			}
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
		if needsQuotes(v) {
			return fmt.Errorf("unquoted value %q holds a space, comma or quote", v)
		}
		c.kind, c.str = kindString, NFC(v)
		return nil
	}
	return fmt.Errorf("unknown field")
}

func (c *Cond) parseList(v string) error {
	items, quoted, err := splitListQuoted(v)
	if err != nil {
		return err
	}
	for i, it := range items {
		var p Pattern
		var err error
		switch c.Field {
		case FieldAgent, FieldTool, FieldSession, FieldOnBehalfOf:
			p, err = ParseNamePattern(it)
		case FieldResource:
			p, err = ParseResourcePattern(it)
		case FieldAttr:
			if !quoted[i] && (isNumberText(it) || it == "true" || it == "false") {
				return fmt.Errorf("list item %s reads as a number or a boolean, but \"in\" compares strings, so a %s value never matches it: quote it (%q) to compare strings, or use \"=\"", it, map[bool]string{true: "boolean", false: "number"}[it == "true" || it == "false"], it)
			}
			p, err = ParsePattern(it)
		default:
			p, err = ParsePattern(it)
		}
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
	if needsQuotes(v) {
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
	items, _, err := splitListQuoted(v)
	return items, err
}

// splitListQuoted is splitList that also says which items were quoted.
func splitListQuoted(v string) ([]string, []bool, error) {
	var items []string
	var quoted []bool
	for len(v) > 0 {
		v = strings.TrimLeft(v, " ")
		var item string
		isQuoted := strings.HasPrefix(v, `"`)
		if isQuoted {
			end := quotedEnd(v)
			if end < 0 {
				return nil, nil, fmt.Errorf("unterminated quoted string")
			}
			s, err := strconv.Unquote(v[:end])
			if err != nil {
				return nil, nil, fmt.Errorf("bad quoted string %s", v[:end])
			}
			item, v = s, strings.TrimLeft(v[end:], " ")
			if v != "" && v[0] != ',' {
				return nil, nil, fmt.Errorf("want \",\" after quoted string")
			}
		} else {
			i := strings.IndexByte(v, ',')
			if i < 0 {
				i = len(v)
			}
			item = strings.TrimRight(v[:i], " ")
			if strings.ContainsAny(item, "\" \t") {
				return nil, nil, fmt.Errorf("unquoted list item %q holds a space or quote", item)
			}
			v = v[i:]
		}
		if item == "" {
			return nil, nil, fmt.Errorf("empty list item")
		}
		items = append(items, item)
		quoted = append(quoted, isQuoted)
		if v == "" {
			break
		}
		v = v[1:] // the comma
		if strings.TrimSpace(v) == "" {
			return nil, nil, fmt.Errorf("empty list item")
		}
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("empty list")
	}
	return items, quoted, nil
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
	FieldHop: "hop", FieldAttr: "attr", FieldBudget: "budget",
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
	if c.Field == FieldBudget {
		return c.appendBudget(b)
	}
	if c.Field == FieldAttr {
		b = append(append(b, "attr."...), c.Attr...)
		if c.Optional {
			b = append(b, '?')
		}
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
			b = appendQuotedIfNeeded(b, p.src, c.Field == FieldAttr)
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
	case c.kind == kindNumber && c.isInt:
		b = strconv.AppendInt(b, c.inum, 10)
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
	if needsQuotes(s) || (attr && (s == "true" || s == "false" || isNumberText(s))) {
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

// Result is the outcome of evaluating a condition.
type Result uint8

// The outcomes of Evaluate.
const (
	False   Result = iota // the condition does not hold
	True                  // the condition holds
	Unknown               // the condition cannot be evaluated on this request
)

// Eval reports whether c holds in env: Evaluate(env) == True. Unknown
// counts as not holding, which fails closed for caveats and allow rules
// only; a deny rule must use Evaluate.
func (c *Cond) Eval(env *Env) bool { return c.Evaluate(env) == True }

// Evaluate reports whether c holds in env, does not, or cannot be told
// (see the package documentation). It allocates nothing.
func (c *Cond) Evaluate(env *Env) Result {
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
				return True
			}
		}
		return False
	case FieldIP:
		a := env.IP.Unmap()
		if !a.IsValid() || a.Zone() != "" {
			// A zoned address is in no prefix to netip, and not equal
			// to its unzoned self: judged by nothing, as a key's IP
			// allowlist refuses it.
			return Unknown
		}
		if c.Op == OpEq {
			return result(a == c.addr)
		}
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return True
			}
		}
		return False
	case FieldExpires:
		if env.Now.IsZero() {
			return Unknown
		}
		if c.Op == OpLt {
			return result(env.Now.Before(c.when))
		}
		return result(!env.Now.After(c.when))
	case FieldAttr:
		v, ok := env.attr(c.Attr)
		if !ok {
			// Missing is fine only when the attribute is missing under
			// every spelling: one that differs only in case is the
			// attribute to a tool, and a value the condition cannot see.
			if c.Optional && !env.hasCaseVariant(c.Attr) {
				return False
			}
			return Unknown
		}
		return c.evalAttr(v)
	}
	return Unknown
}

func result(b bool) Result {
	if b {
		return True
	}
	return False
}

// evalString tests a request field. The caller has validated and
// normalised it; "" means the request does not have it, which a
// comparison can tell: it equals no value and matches no glob.
func (c *Cond) evalString(s string) Result {
	if c.Op == OpEq {
		return result(s == c.str)
	}
	if s == "" {
		return False
	}
	for i := range c.list {
		if c.list[i].Match(s) {
			return True
		}
	}
	return False
}

func (c *Cond) evalAttr(v any) Result {
	if c.list != nil || c.kind == kindString {
		s, ok := v.(string)
		if !ok || !normalString(s) {
			return Unknown
		}
		if c.list == nil {
			return result(s == c.str)
		}
		// An attribute sent as "" is present, unlike an empty request
		// field (evalString): "*" matches it.
		for i := range c.list {
			if c.list[i].Match(s) {
				return True
			}
		}
		return False
	}
	switch c.kind {
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return Unknown
		}
		return result(b == c.boolean)
	case kindNumber:
		n, ok := toNumber(v)
		if !ok {
			return Unknown
		}
		cmp := c.compare(&n)
		if cmp == 0 && n.inexact {
			return Unknown
		}
		r := c.holds(cmp)
		if n.alt != altNone {
			// A tool may read the value as other: judged only where
			// both readings agree.
			o := number{kind: numFloat, f: n.other}
			if c.holds(c.compare(&o)) != r {
				return Unknown
			}
		}
		return r
	}
	return Unknown
}

// holds is the result of c's comparison given cmp, the attribute's order
// against the operand.
func (c *Cond) holds(cmp int) Result {
	switch c.Op {
	case OpEq:
		return result(cmp == 0)
	case OpLt:
		return result(cmp < 0)
	case OpLe:
		return result(cmp <= 0)
	case OpGt:
		return result(cmp > 0)
	case OpGe:
		return result(cmp >= 0)
	}
	return Unknown
}

// normalString reports whether an attribute string is valid UTF-8 in
// NFC without invisible formatting characters (zero-width, bidi
// controls): anything else could look like an operand without being
// equal to it.
func normalString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			// QuickSpan settles the common case without allocating.
			if !utf8.ValidString(s) || norm.NFC.QuickSpanString(s) != len(s) && !norm.NFC.IsNormalString(s) {
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

// Why says why c is Unknown in env, for an error message that names
// neither the condition's operand nor the request's value; "" when c can
// be evaluated.
func (c *Cond) Why(env *Env) string {
	if c.Evaluate(env) != Unknown {
		return ""
	}
	switch c.Field {
	case FieldIP:
		return "ip: the request has no remote address"
	case FieldExpires:
		return "expires: no time to compare"
	case FieldAttr:
	default:
		return fieldName(c.Field) + ": cannot be evaluated"
	}
	name := "attr." + c.Attr
	v, ok := env.attr(c.Attr)
	if !ok {
		if env.hasCaseVariant(c.Attr) {
			return name + " is missing; the request has it only in another case (attribute names are case-sensitive)"
		}
		return name + " is missing"
	}
	want := map[kind]string{kindString: "a string", kindNumber: "a number", kindBool: "a boolean"}[c.kind]
	if c.list != nil {
		want = "a string"
	}
	switch v.(type) {
	case string:
		if want == "a string" {
			return name + " is not valid UTF-8 in Unicode NFC without invisible characters"
		}
		return name + " is a string, not " + want
	case bool:
		return name + " is a boolean, not " + want
	case nil:
		return name + " is null, not " + want
	case map[string]any, []any, json.RawMessage:
		return name + " is an object or array, not " + want
	}
	if n, ok := toNumber(v); ok {
		if want != "a number" {
			return name + " is a number, not " + want
		}
		if n.inexact {
			return name + " has more precision than a float64 holds, and rounds onto the operand"
		}
		switch n.alt {
		case altWide:
			return name + " is an integer past 2^53, which read as a float64 is judged otherwise"
		case altFloat32:
			return name + " is a float32 whose binary value and printed decimal are judged otherwise"
		}
	}
	if want == "a number" {
		return name + " is not a finite number"
	}
	return name + " has an unsupported type, not " + want
}

// maxExactDigits is how many significant decimal digits a float64 holds
// exactly: any decimal of at most 15 digits survives a round trip.
const maxExactDigits = 15

// number is an attribute's numeric value: an exact integer when it is
// one, a float64 otherwise.
type number struct {
	kind    uint8 // numInt, numUint (above MaxInt64) or numFloat
	i       int64
	u       uint64
	f       float64
	inexact bool // f rounds a decimal with more digits than float64 holds, or one too small for it
	// alt says the tool acting on the request may read the value as
	// other, another number: a condition is judged only where both
	// readings agree.
	alt   uint8
	other float64
}

const (
	altNone uint8 = iota
	// altWide: an integer read from text past 2^53 in magnitude, which
	// a reader of float64s (JavaScript, encoding/json into an any, the
	// MCP SDK) takes for the nearest float64.
	altWide
	// altFloat32: a float32, whose binary value (float32(0.7) holds
	// 0.699999988) its reader prints, rounds and sends on as its
	// shortest decimal (0.7).
	altFloat32
)

// maxSafeInteger is the largest magnitude up to which every integer is a
// float64.
const maxSafeInteger = 1 << 53

const (
	numInt uint8 = iota
	numUint
	numFloat
)

// toNumber converts an attribute value to a number. Strings are not
// numbers, even when they look like one; NaN and infinities are not
// numbers either; a json.Number must be a JSON number.
func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case int:
		return number{i: int64(x)}, true
	case int8:
		return number{i: int64(x)}, true
	case int16:
		return number{i: int64(x)}, true
	case int32:
		return number{i: int64(x)}, true
	case int64:
		return number{i: x}, true
	case uint:
		return uintNumber(uint64(x)), true
	case uint8:
		return number{i: int64(x)}, true
	case uint16:
		return number{i: int64(x)}, true
	case uint32:
		return number{i: int64(x)}, true
	case uint64:
		return uintNumber(x), true
	case float32:
		n, ok := floatNumber(float64(x))
		if ok {
			var buf [32]byte
			if d, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], n.f, 'g', -1, 32)), 64); err == nil && d != n.f {
				n.alt, n.other = altFloat32, d
			}
		}
		return n, ok
	case float64:
		return floatNumber(x)
	case json.Number:
		return jsonNumber(string(x))
	}
	return number{}, false
}

func uintNumber(u uint64) number {
	if u <= math.MaxInt64 {
		return number{i: int64(u)}
	}
	return number{kind: numUint, u: u}
}

func floatNumber(f float64) (number, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return number{}, false
	}
	return number{kind: numFloat, f: f}, true
}

// jsonNumber reads the text of a JSON number: exactly when it is an
// integer within the uint64 range, as the nearest float64 otherwise.
func jsonNumber(s string) (number, bool) {
	integer, ok := jsonNumberSyntax(s)
	if !ok {
		return number{}, false
	}
	if integer {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			n := number{i: i}
			if i > maxSafeInteger || i < -maxSafeInteger {
				n.alt, n.other = altWide, float64(i)
			}
			return n, true
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return number{kind: numUint, u: u, alt: altWide, other: float64(u)}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return number{}, false
	}
	return number{kind: numFloat, f: f, inexact: sigDigits(s) > maxExactDigits || tooSmall(f, s)}, true
}

// minNormal is the smallest positive normal float64. Below it a float64
// holds fewer digits than maxExactDigits, down to none: strconv.ParseFloat
// rounds "1e-400" to 0 without an error.
const minNormal = 0x1p-1022

// tooSmall reports whether f, parsed from the decimal text s, lost the
// value of s to underflow: it is 0 although s has a nonzero digit, or
// subnormal. A float64 value is exactly what it holds; only text rounds.
func tooSmall(f float64, s string) bool {
	if f == 0 {
		return sigDigits(s) > 0
	}
	return math.Abs(f) < minNormal
}

// IsJSONNumber reports whether s is a JSON number (RFC 8259), which
// strconv.ParseFloat is laxer about ("Inf", "0x1p3", "1_000").
func IsJSONNumber(s string) bool {
	_, ok := jsonNumberSyntax(s)
	return ok
}

// jsonNumberSyntax reports whether s is a JSON number (RFC 8259) and
// whether it has neither fraction nor exponent.
func jsonNumberSyntax(s string) (integer, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	start := i
	n := digits()
	if n == 0 || (n > 1 && s[start] == '0') {
		return false, false
	}
	integer = true
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false, false
		}
		integer = false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false, false
		}
		integer = false
	}
	return integer, i == len(s)
}

// sigDigits counts the significant digits of a decimal number's text.
func sigDigits(s string) int {
	first, last, pos := -1, -1, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			if first < 0 {
				first = pos
			}
			last = pos
		}
		pos++
	}
	if first < 0 {
		return 0
	}
	return last - first + 1
}

// compare compares n with c's operand exactly: -1, 0 or +1.
func (c *Cond) compare(n *number) int {
	if c.isInt {
		switch n.kind {
		case numInt:
			return cmpInt(n.i, c.inum)
		case numUint:
			return 1 // above MaxInt64
		}
		return -cmpIntFloat(c.inum, n.f)
	}
	switch n.kind {
	case numInt:
		return cmpIntFloat(n.i, c.num)
	case numUint:
		return cmpUintFloat(n.u, c.num)
	}
	switch {
	case n.f < c.num:
		return -1
	case n.f > c.num:
		return 1
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpIntFloat compares an integer with a finite float64 exactly.
func cmpIntFloat(i int64, f float64) int {
	if f >= 0x1p63 {
		return -1
	}
	if f < -0x1p63 {
		return 1
	}
	t := math.Trunc(f)
	if c := cmpInt(i, int64(t)); c != 0 {
		return c
	}
	switch {
	case f > t:
		return -1
	case f < t:
		return 1
	}
	return 0
}

// cmpUintFloat compares an unsigned integer with a finite float64 exactly.
func cmpUintFloat(u uint64, f float64) int {
	if f < 0 {
		return 1
	}
	if f >= 0x1p64 {
		return -1
	}
	t := math.Trunc(f)
	switch tu := uint64(t); {
	case u < tu:
		return -1
	case u > tu:
		return 1
	}
	if f > t {
		return -1
	}
	return 0
}

// ValueType names the type a condition reads v as: "number", "string"
// or "boolean"; "" when no condition can be evaluated on it.
func ValueType(v any) string {
	switch x := v.(type) {
	case string:
		if normalString(x) {
			return "string"
		}
		return ""
	case bool:
		return "boolean"
	}
	if _, ok := toNumber(v); ok {
		return "number"
	}
	return ""
}

// AttrType names the type of value an attr condition compares with:
// "number", "string" or "boolean"; "" for other fields.
func (c *Cond) AttrType() string {
	if c.Field != FieldAttr {
		return ""
	}
	switch {
	case c.list != nil, c.kind == kindString:
		return "string"
	case c.kind == kindNumber:
		return "number"
	case c.kind == kindBool:
		return "boolean"
	}
	return ""
}

// parseTime parses RFC 3339. The form agenttrust writes itself is read by
// hand (parseUTC), since token verification parses one per token;
// anything else goes to time.Parse.
func parseTime(s string) (time.Time, error) {
	if t, _, ok := parseUTC(s); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.fraction]Z, a valid UTC time with
// a fraction of 1 to 9 digits or none, and returns it with the digits of
// its fraction. It reports false for anything else, valid RFC 3339 or not.
func parseUTC(s string) (t time.Time, frac string, ok bool) {
	if len(s) < 20 || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, "", false
	}
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
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	h, ok4 := num(s[11:13])
	mi, ok5 := num(s[14:16])
	se, ok6 := num(s[17:19])
	ns, ok7 := 0, true
	if dot := s[19 : len(s)-1]; dot != "" {
		frac = dot[1:]
		if dot[0] != '.' || len(frac) == 0 || len(frac) > 9 {
			return time.Time{}, "", false
		}
		if ns, ok7 = num(frac); ok7 {
			for range 9 - len(frac) {
				ns *= 10
			}
		}
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, "", false
	}
	t = time.Date(y, time.Month(mo), d, h, mi, se, ns, time.UTC)
	if t.Day() != d { // February 30 and the like
		return time.Time{}, "", false
	}
	return t, frac, true
}
