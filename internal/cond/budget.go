package cond

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Budget caveats
//
//	budget    = "budget" SP metric SP "<=" SP amount [ SP currency ] [ SP "tools" SP globs ]
//	metric    = "calls" | "attr." name
//	currency  = 1-16 of A-Z, 0-9 and "_", starting with a letter (e.g. USD)
//
// "budget calls <= 10" allows ten calls; "budget attr.amount <= 50 USD"
// allows the request attribute amount to sum to 50, in requests whose
// attribute currency is "USD"; "tools payments.*,refunds.*" limits a
// budget to the calls of those tools (others neither spend it nor are
// refused by it). The metric, the currency and the tool list are the
// budget's identity, its Name: a budget never mixes with one of another
// name, so USD and EUR never add up. A calls amount is a whole number;
// an attribute amount is a decimal with at most 6 fractional digits, kept
// as integer units of 10^-6 (BudgetScale). A budget caveat is never
// evaluated as a condition (Evaluate answers Unknown): the check that
// spends it enforces it.

// BudgetScale is the units of an attribute budget per unit of its amount.
const BudgetScale = 1_000_000

// MaxBudget bounds a budget's limit and any amount spent, in units: 2^53,
// as store.MaxBudget.
const MaxBudget int64 = 1 << 53

// CurrencyAttr is the request attribute a budget with a currency reads
// the request's currency from.
const CurrencyAttr = "currency"

func (c *Cond) parseBudget(rest string) error {
	f := strings.Fields(rest)
	if len(f) < 3 || f[1] != "<=" {
		return fmt.Errorf(`want "budget calls <= N" or "budget attr.NAME <= AMOUNT [CURRENCY] [tools GLOBS]"`)
	}
	c.Field, c.Op = FieldBudget, OpLe
	switch metric := f[0]; {
	case metric == "calls":
	case strings.HasPrefix(metric, "attr."):
		c.Attr = metric[len("attr."):]
		if !validAttrName(c.Attr) {
			return fmt.Errorf("bad attribute name %q", c.Attr)
		}
	default:
		return fmt.Errorf("budget metric %q: want calls or attr.NAME", metric)
	}
	var ok bool
	if c.Attr == "" {
		c.units, ok = wholeUnits(f[2])
	} else {
		c.units, ok = decimalUnits(f[2], false)
	}
	if !ok {
		return fmt.Errorf("budget amount %q: want a %s from 0 to %d", f[2], map[bool]string{true: "whole number", false: "decimal with at most 6 fractional digits"}[c.Attr == ""], maxWhole(c.Attr == ""))
	}
	f = f[3:]
	if len(f) > 0 && f[0] != "tools" {
		if c.Attr == "" {
			return fmt.Errorf("a calls budget takes no currency")
		}
		if !validCurrency(f[0]) {
			return fmt.Errorf("currency %q: want 1-16 of A-Z, 0-9 and _, starting with a letter", f[0])
		}
		c.cur, f = f[0], f[1:]
	}
	if len(f) > 0 {
		if f[0] != "tools" || len(f) != 2 {
			return fmt.Errorf(`want "tools GLOB,GLOB..." at the end`)
		}
		items, quoted, err := splitListQuoted(f[1])
		if err != nil {
			return err
		}
		for i, it := range items {
			if quoted[i] {
				return fmt.Errorf("tool globs are not quoted")
			}
			p, err := ParseNamePattern(it)
			if err != nil {
				return err
			}
			c.list = append(c.list, p)
		}
	}
	c.bname = string(c.appendBudgetScope(c.appendBudgetMetric(nil)))
	return nil
}

func maxWhole(calls bool) int64 {
	if calls {
		return MaxBudget
	}
	return MaxBudget / BudgetScale
}

func validCurrency(s string) bool {
	if s == "" || len(s) > 16 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// wholeUnits parses a whole number from 0 to MaxBudget, digits only,
// without leading zeros.
func wholeUnits(s string) (int64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxBudget {
		return 0, false
	}
	return n, true
}

// decimalUnits parses a plain decimal (digits, an optional fraction) into
// units of 10^-6. With ceil, digits past the sixth fractional one round
// the result up (a spend is never counted as less than it is);
// without, they are refused (a limit is written exactly).
func decimalUnits(s string, ceil bool) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if dot && (frac == "" || !ceil && strings.HasSuffix(frac, "0")) {
		return 0, false // one canonical text per limit
	}
	w, ok := wholeUnits(whole)
	if !ok || w > MaxBudget/BudgetScale {
		return 0, false
	}
	var f int64
	up := false
	for i := 0; i < len(frac); i++ {
		d := frac[i]
		switch {
		case d < '0' || d > '9':
			return 0, false
		case i < 6:
			f = f*10 + int64(d-'0')
		case d != '0':
			if !ceil {
				return 0, false
			}
			up = true
		}
	}
	for k := len(frac); k < 6; k++ {
		f *= 10
	}
	n := w*BudgetScale + f
	if up {
		n++
	}
	return n, n <= MaxBudget
}

// formatUnits writes units of 10^-6 as the shortest decimal.
func formatUnits(b []byte, n int64) []byte {
	b = strconv.AppendInt(b, n/BudgetScale, 10)
	if f := n % BudgetScale; f != 0 {
		s := strconv.FormatInt(f+BudgetScale, 10)[1:] // six digits
		b = append(append(b, '.'), strings.TrimRight(s, "0")...)
	}
	return b
}

func (c *Cond) appendBudget(b []byte) []byte {
	b = append(b, "budget "...)
	b = c.appendBudgetMetric(b)
	b = append(b, " <= "...)
	if c.Attr == "" {
		b = strconv.AppendInt(b, c.units, 10)
	} else {
		b = formatUnits(b, c.units)
	}
	return c.appendBudgetScope(b)
}

func (c *Cond) appendBudgetMetric(b []byte) []byte {
	if c.Attr == "" {
		return append(b, "calls"...)
	}
	return append(append(b, "attr."...), c.Attr...)
}

func (c *Cond) appendBudgetScope(b []byte) []byte {
	if c.cur != "" {
		b = append(append(b, ' '), c.cur...)
	}
	if c.list != nil {
		b = append(b, " tools "...)
		for i, p := range c.list {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p.src...)
		}
	}
	return b
}

// BudgetName is the identity of a budget caveat: its canonical text
// without "budget " and its limit, such as "calls", "attr.amount USD" or
// "calls tools payments.*". Empty for any other condition.
func (c *Cond) BudgetName() string {
	return c.bname
}

// BudgetLimit is a budget caveat's limit, in units.
func (c *Cond) BudgetLimit() int64 { return c.units }

// BudgetCovers reports whether a budget caveat applies to a call of tool.
func (c *Cond) BudgetCovers(tool string) bool {
	if c.list == nil {
		return true
	}
	return c.evalString(tool) == True
}

// BudgetAmount is what a request in env spends of a budget caveat that
// covers it: 1 for a calls budget; for an attribute budget, the
// attribute in units, rounded up. why says, when it cannot be told, why:
// the attribute is missing, not a finite non-negative number, too large,
// or the request's currency is missing or another. A budget that cannot
// be told must refuse the request.
func (c *Cond) BudgetAmount(env *Env) (units int64, why string) {
	if c.Attr == "" {
		return 1, ""
	}
	name := "attr." + c.Attr
	if c.cur != "" {
		cur, ok := env.attr(CurrencyAttr)
		if s, isStr := cur.(string); !ok || !isStr || s != c.cur {
			return 0, "attr." + CurrencyAttr + " is missing or not " + c.cur
		}
	}
	v, ok := env.attr(c.Attr)
	if !ok {
		if env.hasCaseVariant(c.Attr) {
			return 0, name + " is missing; the request has it only in another case"
		}
		return 0, name + " is missing"
	}
	n, ok := toNumber(v)
	if !ok {
		return 0, name + " is not a finite number"
	}
	switch n.kind {
	case numInt:
		if n.i < 0 {
			return 0, name + " is negative"
		}
		if n.i > MaxBudget/BudgetScale {
			return 0, name + " is too large"
		}
		return n.i * BudgetScale, ""
	case numUint:
		return 0, name + " is too large"
	}
	if n.inexact {
		return 0, name + " has more precision than a float64 holds"
	}
	switch {
	case n.f < 0:
		return 0, name + " is negative"
	case n.f == 0:
		return 0, "" // -0 as well
	}
	if n.f > float64(MaxBudget/BudgetScale) {
		return 0, name + " is too large"
	}
	if n.f < 1<<32 {
		// Below 2^32 a float64's steps are finer than a unit, so when
		// f times the scale is a whole number of units that maps back
		// onto f, it is the one decimal of six places that does: the
		// value the exact path below would find, without formatting f.
		if u := n.f * BudgetScale; u == math.Trunc(u) && u/BudgetScale == n.f {
			return int64(u), ""
		}
	}
	var buf [64]byte
	u, ok := decimalUnits(string(strconv.AppendFloat(buf[:0], n.f, 'f', -1, 64)), true)
	if !ok {
		return 0, name + " is too large"
	}
	return u, ""
}

// BudgetCurrency is a budget caveat's currency, "" for none.
func (c *Cond) BudgetCurrency() string { return c.cur }
