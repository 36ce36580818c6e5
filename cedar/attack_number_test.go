package cedar_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestAttackNumberRounding: the number Cedar compares is the number
// sent, or the check denies. The HTTP API hands the engine each number
// as its text (json.Number); read through a float64, the text became
// another number: 5000.00000000000000001 (more than four decimal
// places, which Cedar cannot hold) the Long 5000, 9007199254740993.0 the
// Long 9007199254740992, 1e-400 the Long 0, so a forbid on amount > 5000
// was skipped and the permit allowed. A Go float is what every number
// near it rounds onto: an integral float64 of magnitude 2^53 or more
// (float32: 2^24) or a fractional one of 2^39 or more (2^10) stands for
// more than one Cedar value, and is refused too. Each refusal denies the
// whole check with a *cedar.RequestError (agenttrust.ErrInvalidRequest),
// through Evaluate and through Client.Check. Controls: integers to
// int64's bounds, in any notation, four-place decimals with trailing
// zeros, -0, and floats below those bounds convert, each to exactly the
// value sent.
func TestAttackNumberRounding(t *testing.T) {
	ctx := context.Background()
	// run decides attrs on the policies src, through Evaluate and Check.
	type outcome struct {
		res      agenttrust.PolicyResult
		err      error
		d        agenttrust.Decision
		checkErr error
	}
	run := func(t *testing.T, src string, attrs map[string]any) outcome {
		t.Helper()
		e, err := cedar.Parse("p.cedar", []byte(src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		in := agenttrust.PolicyInput{Tenant: "acme", AgentID: "payer", Tool: "payments.send", Attributes: attrs}
		var o outcome
		o.res, o.err = e.Evaluate(ctx, &in)
		c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(e))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		o.d, o.checkErr = c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.send", Attributes: attrs})
		return o
	}

	// Refused: cond is a forbid the value as it was rounded slips past.
	for _, tc := range []struct {
		name string
		v    any
		cond string
	}{
		{"json twenty places", json.Number("5000.00000000000000001"), `context.attr.amount > 5000`},
		{"json twenty places in exponent form", json.Number("5.00000000000000000001e3"), `context.attr.amount > 5000`},
		{"json twenty places negative", json.Number("-4999.99999999999999999"), `context.attr.amount > -5000`},
		{"json five places", json.Number("5000.00001"), `context.attr.amount > 5000`},
		{"json underflow", json.Number("1e-400"), `context.attr.amount != 0`},
		{"json exponent beyond int32", json.Number("1e-99999999999999999999"), `context.attr.amount != 0`},
		{"json exponent beyond int32 positive", json.Number("1e99999999999999999999"), `context.attr.amount != 0`},
		{"json beyond Long with a fraction", json.Number("-9223372036854775808.5"), `context.attr.amount > 0`},
		{"json beyond Long in exponent form", json.Number("9.223372036854775808e18"), `context.attr.amount < 0`},
		{"json beyond decimal", json.Number("922337203685477.5808"), `context.attr.amount.greaterThan(decimal("0.0"))`},
		{"json not a JSON number", json.Number("+5001"), `context.attr.amount > 5000`},
		// A float64 reader takes these for the limit.
		{"json 2^53+1", json.Number("9007199254740993"), `context.attr.amount > 9007199254740992`},
		{"json 2^53+1 with a fraction", json.Number("9007199254740993.0"), `context.attr.amount > 9007199254740992`},
		{"json 2^53+1 in exponent form", json.Number("9.007199254740993e15"), `context.attr.amount > 9007199254740992`},
		{"json -2^53-1", json.Number("-9007199254740993"), `context.attr.amount < -9007199254740992`},
		{"json max int64", json.Number("9223372036854775807"), `context.attr.amount < 9223372036854775807`},
		{"json sixteen digits of decimal", json.Number("900719925474.0993"), `context.attr.amount.greaterThan(decimal("900719925474.0992"))`},
		{"json max decimal", json.Number("922337203685477.5807"), `context.attr.amount.lessThan(decimal("922337203685477.5807"))`},
		{"float64 2^53+1", float64(9007199254740993), `context.attr.amount > 9007199254740992`},
		{"float64 -2^53-1", float64(-9007199254740993), `context.attr.amount < -9007199254740992`},
		{"float64 2^53", float64(1 << 53), `context.attr.amount > 9007199254740991`},
		{"float32 2^24+1", float32(16777217), `context.attr.amount > 16777216`},
		{"float64 fraction past 2^39", 549755813888.5003, `context.attr.amount.greaterThan(decimal("549755813888.5002"))`},
		{"float32 fraction past 2^10", float32(1024.0003), `context.attr.amount.greaterThan(decimal("1024.0002"))`},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			src := `@id("cap") forbid (principal, action == Action::"payments.send", resource) when { context.attr has amount && ` + tc.cond + ` };
@id("pay") permit (principal, action == Action::"payments.send", resource);`
			o := run(t, src, map[string]any{"amount": tc.v})
			res, err, d, checkErr := o.res, o.err, o.d, o.checkErr
			var re *cedar.RequestError
			if res.Effect != agenttrust.Deny || !errors.As(err, &re) || re.Field != "attr.amount" {
				t.Errorf("Evaluate: %v by %q (%v); want a deny with a *cedar.RequestError for attr.amount", res.Effect, res.Rule, err)
			} else if s, ok := tc.v.(json.Number); ok && strings.Contains(err.Error(), string(s)) {
				t.Errorf("Evaluate: error %q names the value", err)
			}
			if d.Effect != agenttrust.Deny || !errors.Is(checkErr, agenttrust.ErrInvalidRequest) {
				t.Errorf("Check: %v by %q (%v); want a deny with ErrInvalidRequest", d.Effect, d.Rule, checkErr)
			}
		})
	}

	// Exact: want is the Cedar literal the value must equal (== is false
	// between a Long and a decimal, so it pins the type too).
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"json 2^53+2, a float64", json.Number("9007199254740994"), `9007199254740994`},
		{"json 2^63-1024, a float64", json.Number("9223372036854774784"), `9223372036854774784`},
		{"json min int64", json.Number("-9223372036854775808"), `-9223372036854775807 - 1`},
		{"json min int64 with a fraction", json.Number("-9223372036854775808.000"), `-9223372036854775807 - 1`},
		{"json small", json.Number("5001"), `5001`},
		{"json exponent", json.Number("5e3"), `5000`},
		{"json trailing zeros", json.Number("5000.000000000000000000"), `5000`},
		{"json negative exponent", json.Number("500000000000000000000e-17"), `5000`},
		{"json -0", json.Number("-0"), `0`},
		{"json -0.0e-7", json.Number("-0.0e-7"), `0`},
		{"json zero with a huge exponent", json.Number("0e99999999999999999999"), `0`},
		{"json four places", json.Number("5000.0001"), `decimal("5000.0001")`},
		{"json four places and zeros", json.Number("5000.00010000000000000"), `decimal("5000.0001")`},
		{"json four places in exponent form", json.Number("50000001e-4"), `decimal("5000.0001")`},
		{"json negative four places", json.Number("-0.0001"), `decimal("-0.0001")`},
		{"json fifteen digits", json.Number("92233720368.5477"), `decimal("92233720368.5477")`},
		{"float64 2^53-1", float64(1<<53 - 1), `9007199254740991`},
		{"float64 -(2^53-1)", float64(-(1<<53 - 1)), `-9007199254740991`},
		{"float64 -0", math.Copysign(0, -1), `0`},
		{"float32 2^24-1", float32(1<<24 - 1), `16777215`},
		{"float64 fraction below 2^39", 549755813887.5, `decimal("549755813887.5")`},
		{"float64 four places", 5000.0001, `decimal("5000.0001")`},
		{"float32 fraction below 2^10", float32(1023.9999), `decimal("1023.9999")`},
		{"int64 max", int64(math.MaxInt64), `9223372036854775807`},
		{"uint64 max int64", uint64(math.MaxInt64), `9223372036854775807`},
	} {
		t.Run("exact/"+tc.name, func(t *testing.T) {
			src := `@id("eq") permit (principal, action == Action::"payments.send", resource) when { context.attr.amount == ` + tc.want + ` };`
			o := run(t, src, map[string]any{"amount": tc.v})
			res, err, d, checkErr := o.res, o.err, o.d, o.checkErr
			if res.Effect != agenttrust.Allow || res.Rule != "eq" || err != nil {
				t.Errorf("Evaluate: %v by %q (%v); want an allow by eq", res.Effect, res.Rule, err)
			}
			if d.Effect != agenttrust.Allow || d.Rule != "eq" || checkErr != nil {
				t.Errorf("Check: %v by %q (%v); want an allow by eq", d.Effect, d.Rule, checkErr)
			}
		})
	}
}
