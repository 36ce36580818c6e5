package cond

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseBudget(t *testing.T) {
	for _, tc := range []struct {
		in, canon, name string
		limit           int64
	}{
		{"budget calls <= 10", "budget calls <= 10", "calls", 10},
		{"  budget   calls  <=  0 ", "budget calls <= 0", "calls", 0},
		{"budget attr.amount <= 50 USD", "budget attr.amount <= 50 USD", "attr.amount USD", 50 * BudgetScale},
		{"budget attr.amount <= 12.5 EUR", "budget attr.amount <= 12.5 EUR", "attr.amount EUR", 12_500_000},
		{"budget attr.amount <= 0.000001", "budget attr.amount <= 0.000001", "attr.amount", 1},
		{"budget attr.tokens <= 9007199254", "budget attr.tokens <= 9007199254", "attr.tokens", 9007199254 * BudgetScale},
		{"budget calls <= 9007199254740992", "budget calls <= 9007199254740992", "calls", MaxBudget},
		{"budget calls <= 5 tools payments.*,refunds.create", "budget calls <= 5 tools payments.*,refunds.create", "calls tools payments.*,refunds.create", 5},
		{"budget attr.amount <= 1 USD tools payments.*", "budget attr.amount <= 1 USD tools payments.*", "attr.amount USD tools payments.*", BudgetScale},
	} {
		c, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if c.Field != FieldBudget || c.String() != tc.canon || c.BudgetName() != tc.name || c.BudgetLimit() != tc.limit {
			t.Errorf("Parse(%q) = %q name %q limit %d; want %q, %q, %d", tc.in, c.String(), c.BudgetName(), c.BudgetLimit(), tc.canon, tc.name, tc.limit)
		}
		if c.Evaluate(&Env{}) != Unknown || c.Field.BindsAction() {
			t.Errorf("Parse(%q): a budget must never evaluate as a condition", tc.in)
		}
	}
}

func TestParseBudgetRefused(t *testing.T) {
	for _, in := range []string{
		"budget calls",
		"budget calls < 10",
		"budget calls = 10",
		"budget calls >= 10",
		"budget calls <= -1",
		"budget calls <= 1.5",
		"budget calls <= 010",
		"budget calls <= 1e3",
		"budget calls <= 9007199254740993", // past MaxBudget
		"budget calls <= 99999999999999999999",
		"budget calls <= NaN",
		"budget calls <= Inf",
		"budget calls <= 10 USD", // calls take no currency
		"budget attr.amount <= 0.0000001",
		"budget attr.amount <= 1.50", // not canonical
		"budget attr.amount <= 1.",
		"budget attr.amount <= .5",
		"budget attr.amount <= -0.5",
		"budget attr.amount <= 9007199255", // past MaxBudget units
		"budget attr.amount <= 5 usd",
		"budget attr.amount <= 5 1USD",
		"budget attr.amount <= 5 USD EUR",
		"budget attr.amount <= 5 USD tools",
		"budget attr.amount <= 5 USD tools a b",
		`budget calls <= 5 tools "a b"`,
		"budget attr.9x <= 5",
		"budget attr. <= 5",
		"budget time <= 5",
		"budget calls <= 5 tools ,",
	} {
		if c, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, c.String())
		}
	}
}

func TestBudgetAmount(t *testing.T) {
	usd, _ := Parse("budget attr.amount <= 100 USD")
	plain, _ := Parse("budget attr.amount <= 100")
	calls, _ := Parse("budget calls <= 3")
	for _, tc := range []struct {
		name string
		c    *Cond
		v    any
		cur  any
		want int64
		bad  bool
	}{
		{"calls", &calls, nil, nil, 1, false},
		{"int", &usd, 7, "USD", 7 * BudgetScale, false},
		{"float", &usd, 0.1, "USD", 100_000, false},
		{"float rounds up", &usd, 0.0000001, "USD", 1, false},
		{"json number", &usd, json.Number("12.345678"), "USD", 12_345_678, false},
		{"json number past 6 digits rounds up", &usd, json.Number("0.1234561"), "USD", 123_457, false},
		{"zero", &usd, 0, "USD", 0, false},
		{"uint8", &plain, uint8(3), nil, 3 * BudgetScale, false},
		{"missing currency", &usd, 1, nil, 0, true},
		{"other currency", &usd, 1, "EUR", 0, true},
		{"currency not a string", &usd, 1, 1, 0, true},
		{"missing", &usd, nil, "USD", 0, true},
		{"string", &usd, "5", "USD", 0, true},
		{"negative", &usd, -1, "USD", 0, true},
		{"negative float", &usd, -0.5, "USD", 0, true},
		{"negative zero", &usd, math.Copysign(0, -1), "USD", 0, false},
		{"NaN", &usd, math.NaN(), "USD", 0, true},
		{"Inf", &usd, math.Inf(1), "USD", 0, true},
		{"huge int", &usd, int64(math.MaxInt64), "USD", 0, true},
		{"huge uint", &usd, uint64(math.MaxUint64), "USD", 0, true},
		{"huge float", &usd, 1e300, "USD", 0, true},
		{"just past max", &usd, MaxBudget/BudgetScale + 1, "USD", 0, true},
		{"bad json number", &usd, json.Number("1x"), "USD", 0, true},
		{"overprecise json number", &usd, json.Number("1.00000000000000000001"), "USD", 0, true},
		{"json number underflowing to 0", &usd, json.Number("1e-400"), "USD", 0, true},
		{"json number underflowing to -0", &usd, json.Number("-1e-400"), "USD", 0, true},
		{"subnormal json number", &usd, json.Number("5e-320"), "USD", 0, true},
		{"json zero", &usd, json.Number("0e-400"), "USD", 0, false},
		{"subnormal float", &usd, 5e-324, "USD", 1, false},
		{"bool", &usd, true, "USD", 0, true},
	} {
		env := &Env{Attributes: map[string]any{}}
		if tc.v != nil {
			env.Attributes["amount"] = tc.v
		}
		if tc.cur != nil {
			env.Attributes[CurrencyAttr] = tc.cur
		}
		got, why := tc.c.BudgetAmount(env)
		if (why != "") != tc.bad || got != tc.want {
			t.Errorf("%s: BudgetAmount = %d, %q; want %d, refused %v", tc.name, got, why, tc.want, tc.bad)
		}
	}
}

func TestBudgetCovers(t *testing.T) {
	c, err := Parse("budget calls <= 1 tools payments.*")
	if err != nil {
		t.Fatal(err)
	}
	if !c.BudgetCovers("payments.charge") || c.BudgetCovers("calendar.read") || c.BudgetCovers("") {
		t.Error("tool scope does not match as its globs say")
	}
	all, _ := Parse("budget calls <= 1")
	if !all.BudgetCovers("anything") {
		t.Error("a budget without tools must cover every tool")
	}
}

// FuzzParseBudget: every budget that parses has one canonical text, which
// parses to the same budget; its limit is within bounds; it never
// evaluates as a condition.
func FuzzParseBudget(f *testing.F) {
	for _, s := range []string{
		"budget calls <= 10", "budget attr.amount <= 50 USD", "budget attr.amount <= 12.5 EUR tools a.*,b",
		"budget calls <= 9007199254740992", "budget attr.x <= 0.000001", "budget calls <= 1 tools *",
		"budget attr.amount <= 1e3 USD", "budget calls <= -0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil || c.Field != FieldBudget {
			return
		}
		if c.BudgetLimit() < 0 || c.BudgetLimit() > MaxBudget {
			t.Fatalf("%q: limit %d out of bounds", s, c.BudgetLimit())
		}
		canon := c.String()
		c2, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", canon, s, err)
		}
		if c2.String() != canon || c2.BudgetName() != c.BudgetName() || c2.BudgetLimit() != c.BudgetLimit() {
			t.Fatalf("%q -> %q -> %q", s, canon, c2.String())
		}
		if !strings.HasPrefix(canon, "budget "+strings.SplitN(c.BudgetName(), " ", 2)[0]+" <= ") {
			t.Fatalf("canonical %q does not start with its name %q", canon, c.BudgetName())
		}
		if c.Evaluate(&Env{}) != Unknown {
			t.Fatalf("%q evaluates", s)
		}
	})
}

// FuzzBudgetAmount: a float amount's units are the ceiling, in millionths,
// of its shortest decimal, whichever path BudgetAmount takes.
func FuzzBudgetAmount(f *testing.F) {
	for _, v := range []float64{0, 0.1, 12.5, 0.30000000000000004, 1e-7, 4294967295.999999, 4294967296.5, 9007199254, 123.4567891} {
		f.Add(v)
	}
	c, err := Parse("budget attr.amount <= 1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got, why := c.BudgetAmount(&Env{Attributes: map[string]any{"amount": v}})
		want, ok := int64(0), false
		switch {
		case v != v || math.IsInf(v, 0) || v < 0 || v > float64(MaxBudget/BudgetScale):
		case v == 0:
			want, ok = 0, true
		default:
			want, ok = decimalUnits(strconv.FormatFloat(v, 'f', -1, 64), true)
		}
		if (why == "") != ok || got != want {
			t.Fatalf("BudgetAmount(%v) = %d, %q; want %d, ok %v", v, got, why, want, ok)
		}
	})
}
