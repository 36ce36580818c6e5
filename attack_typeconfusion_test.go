package agenttrust_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// absent marks an attribute the request leaves out.
type absent struct{}

// cents is a named integer type: not one of the types a condition reads.
type cents int64

// typeConfusionConds are conditions a guard rule puts on a request, each
// with values a condition of its type cannot be evaluated on.
var typeConfusionConds = []struct {
	name string
	cond string
	bad  map[string]any // name -> attribute value (absent{}: no attribute)
}{
	{"gt", "attr.amount > 1000", numberBad},
	{"ge", "attr.amount >= 1000", numberBad},
	{"lt", "attr.amount < 10", numberBad},
	{"le", "attr.amount <= 10", numberBad},
	{"eq_number", "attr.amount = 5000", numberBad},
	{"eq_string", "attr.country = KP", stringBad},
	{"eq_quoted", `attr.country = "KP"`, stringBad},
	{"in_list", "attr.country in KP,IR", stringBad},
	{"in_glob", "attr.path in /etc/*", stringBad},
	{"eq_bool", "attr.force = true", boolBad},
}

var numberBad = map[string]any{
	"string":            "5000",
	"string_padded":     " 5000",
	"missing":           absent{},
	"null":              nil,
	"NaN":               math.NaN(),
	"+Inf":              math.Inf(1),
	"-Inf":              math.Inf(-1),
	"float32_NaN":       float32(math.NaN()),
	"float32_Inf":       float32(math.Inf(1)),
	"bool":              true,
	"object":            map[string]any{"value": 5000},
	"array":             []any{5000},
	"named_int":         cents(500000),
	"pointer":           new(int),
	"json_not_number":   json.Number("abc"),
	"json_NaN":          json.Number("NaN"),
	"json_Inf":          json.Number("Infinity"),
	"json_overflow":     json.Number("1e400"),
	"json_hex":          json.Number("0x1388"),
	"json_plus":         json.Number("+5000"),
	"json_leading_zero": json.Number("05000"),
	"json_space":        json.Number(" 5000"),
	"json_empty":        json.Number(""),
	"time":              time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	"raw_json":          json.RawMessage(`5000`),
}

var stringBad = map[string]any{
	"number":       5000,
	"float":        1.5,
	"json_number":  json.Number("5000"),
	"bool":         true,
	"missing":      absent{},
	"null":         nil,
	"array":        []any{"KP"},
	"object":       map[string]any{"country": "KP"},
	"not_utf8":     "K\xffP",
	"not_nfc":      "Ke\u0301",
	"zero_width":   "K\u200bP",
	"bidi":         "\u202eKP",
	"byte_slice":   []byte("KP"),
	"named_string": json.RawMessage(`"KP"`),
}

var boolBad = map[string]any{
	"string":  "true",
	"number":  1,
	"missing": absent{},
	"null":    nil,
	"array":   []any{true},
}

func typeConfusionRequest(v any) agenttrust.Request {
	req := agenttrust.Request{AgentID: "payer", Tool: "payments.transfer", Resource: "acct-1", RemoteAddr: netip.MustParseAddr("192.0.2.1")}
	if _, ok := v.(absent); !ok {
		req.Attributes = map[string]any{"amount": v, "country": v, "path": v, "force": v}
	}
	return req
}

// TestAttackTypeConfusion: a value a condition cannot be evaluated on
// never gets a request past a deny or needs_approval rule, and never
// makes an allow rule match.
func TestAttackTypeConfusion(t *testing.T) {
	ctx := context.Background()
	for _, effect := range []string{"deny", "needs_approval"} {
		for _, c := range typeConfusionConds {
			f := newFixture(t, `
rules:
  - id: guard
    effect: `+effect+`
    tools: [payments.transfer]
    when: ['`+c.cond+`']
  - id: open
    effect: allow
    tools: [payments.transfer]
`)
			for name, v := range c.bad {
				t.Run(effect+"/"+c.name+"/"+name, func(t *testing.T) {
					d, err := f.c.Check(ctx, typeConfusionRequest(v))
					if !errors.Is(err, agenttrust.ErrUnevaluable) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
						t.Fatalf("err = %v, want ErrUnevaluable", err)
					}
					if d.Effect != agenttrust.Deny || d.Rule != "guard" || d.ApprovalID != "" {
						t.Fatalf("decision %+v, want a Deny by guard", d)
					}
				})
			}
		}
	}
	for _, c := range typeConfusionConds {
		f := newFixture(t, `
rules:
  - id: only-if
    effect: allow
    tools: [payments.transfer]
    when: ['`+c.cond+`']
`)
		for name, v := range c.bad {
			t.Run("allow/"+c.name+"/"+name, func(t *testing.T) {
				d, err := f.c.Check(ctx, typeConfusionRequest(v))
				if err != nil || d.Effect != agenttrust.Deny || d.Rule != "" {
					t.Fatalf("got %+v, %v; want the default Deny", d, err)
				}
			})
		}
	}
}

// TestAttackTypeConfusionNumbers: numbers of every Go type and of every
// size are compared exactly, so none slips under a deny threshold.
func TestAttackTypeConfusionNumbers(t *testing.T) {
	ctx := context.Background()
	over := map[string]struct {
		cond string
		v    any
	}{
		"int":                 {"attr.amount > 100", int(101)},
		"int8":                {"attr.amount > 100", int8(101)},
		"int16":               {"attr.amount > 100", int16(101)},
		"int32":               {"attr.amount > 100", int32(101)},
		"int64":               {"attr.amount > 100", int64(101)},
		"uint":                {"attr.amount > 100", uint(101)},
		"uint8":               {"attr.amount > 100", uint8(101)},
		"uint16":              {"attr.amount > 100", uint16(101)},
		"uint32":              {"attr.amount > 100", uint32(101)},
		"uint64":              {"attr.amount > 100", uint64(101)},
		"float32":             {"attr.amount > 100", float32(100.5)},
		"float64":             {"attr.amount > 100", 100.000001},
		"json_int":            {"attr.amount > 100", json.Number("101")},
		"json_frac":           {"attr.amount > 100", json.Number("100.5")},
		"json_exp":            {"attr.amount > 100", json.Number("1.01e2")},
		"int64_past_2^53":     {"attr.amount > 9007199254740992", int64(9007199254740993)},
		"int64_max":           {"attr.amount > 9223372036854775806", int64(math.MaxInt64)},
		"uint64_max":          {"attr.amount > 9223372036854775807", uint64(math.MaxUint64)},
		"uint64_past_int64":   {"attr.amount > 1000", uint64(1) << 63},
		"json_past_uint64":    {"attr.amount > 1000", json.Number("18446744073709551616")},
		"json_huge":           {"attr.amount > 1000", json.Number("1e300")},
		"float_vs_int":        {"attr.amount > 9007199254740992", float64(9007199254740994)},
		"int_vs_frac":         {"attr.amount > 100.5", int64(101)},
		"negative_zero":       {"attr.amount >= 0", math.Copysign(0, -1)},
		"int64_min_vs_neg":    {"attr.amount < -9223372036854775807", int64(math.MinInt64)},
		"json_neg_past_int64": {"attr.amount < -1000", json.Number("-9223372036854775809")},
	}
	for name, tt := range over {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, `
rules:
  - id: guard
    effect: deny
    tools: [payments.transfer]
    when: ['`+tt.cond+`']
  - id: open
    effect: allow
    tools: [payments.transfer]
`)
			d, err := f.c.Check(ctx, typeConfusionRequest(tt.v))
			if err != nil || d.Effect != agenttrust.Deny || d.Rule != "guard" {
				t.Fatalf("got %+v, %v; want a Deny by guard", d, err)
			}
		})
	}
	// A decimal that a float64 cannot hold and that rounds onto the
	// limit cannot be told from it: with more digits than a float64
	// holds, or too small for one (ParseFloat makes 1e-400 a 0 without
	// an error). A deny or needs_approval rule that would decide denies.
	onto := map[string]struct {
		cond string
		v    json.Number
	}{
		"json_rounds_onto_limit":        {"attr.amount > 1000", "1000.0000000000000000001"},
		"json_underflows_to_zero":       {"attr.amount > 0", "1e-400"},
		"json_underflows_below_min":     {"attr.amount > 0", "2e-324"},
		"json_underflows_to_minus_zero": {"attr.amount < 0", "-1e-400"},
		"json_underflow_equals_zero":    {"attr.amount = 0", "1e-400"},
		"json_underflow_long_text":      {"attr.amount > 0", json.Number("0." + strings.Repeat("0", 400) + "1")},
		// An integer past 2^53 that a float64 reader takes for the limit.
		"json_past_2^53_onto_limit": {"attr.amount > 9007199254740992", "9007199254740993"},
		"json_past_2^53_onto_equal": {"attr.amount = 9007199254740992", "9007199254740993"},
	}
	for _, effect := range []string{"deny", "needs_approval"} {
		for name, tt := range onto {
			t.Run(effect+"/"+name, func(t *testing.T) {
				f := newFixture(t, "rules:\n  - id: guard\n    effect: "+effect+"\n    when: ['"+tt.cond+"']\n  - id: open\n    effect: allow\n")
				d, err := f.c.Check(ctx, typeConfusionRequest(tt.v))
				if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" || d.ApprovalID != "" {
					t.Fatalf("got %+v, %v; want Deny by guard with ErrUnevaluable", d, err)
				}
			})
		}
	}
	// Neither can a policy or a caveat hold such an operand.
	for _, cond := range []string{"attr.amount > 1e-400", "attr.amount = 2e-324", "attr.amount >= 1e-310"} {
		t.Run("operand/"+cond, func(t *testing.T) {
			if _, err := agenttrust.ParsePolicy([]byte("rules:\n  - id: guard\n    effect: deny\n    when: ['"+cond+"']\n"), "yaml"); !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("policy: %v, want ErrInvalidPolicy", err)
			}
			if _, err := agenttrust.Attenuate(typeConfusionToken(t), cond); err == nil {
				t.Fatal("caveat accepted")
			}
		})
	}
}

// typeConfusionToken is a token of a fresh client, to attenuate.
func typeConfusionToken(t *testing.T) string {
	t.Helper()
	f := newFixture(t, "rules: []\n")
	secret, _, err := f.c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "payer"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAttackTypeConfusionFields: conditions on request fields the request
// does not carry.
func TestAttackTypeConfusionFields(t *testing.T) {
	ctx := context.Background()
	for _, effect := range []string{"deny", "needs_approval"} {
		for name, cond := range map[string]string{"ip_in": "ip in 203.0.113.0/24", "ip_eq": "ip = 203.0.113.7"} {
			t.Run(effect+"/"+name+"/no_remote_addr", func(t *testing.T) {
				f := newFixture(t, "rules:\n  - id: guard\n    effect: "+effect+"\n    when: ['"+cond+"']\n  - id: open\n    effect: allow\n")
				d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.transfer"})
				if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" {
					t.Fatalf("got %+v, %v; want Deny by guard with ErrUnevaluable", d, err)
				}
			})
		}
	}
	// Several conditions: one that is false settles it, whatever the
	// other would say; otherwise the unknown one decides.
	f := newFixture(t, "rules:\n  - id: guard\n    effect: deny\n    when: ['attr.amount > 1000', 'attr.country = KP']\n  - id: open\n    effect: allow\n")
	t.Run("and/false_settles", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "t", Attributes: map[string]any{"amount": "x", "country": "FR"}})
		if err != nil || d.Effect != agenttrust.Allow {
			t.Fatalf("got %+v, %v; want Allow (the rule's other condition is false)", d, err)
		}
	})
	t.Run("and/unknown_with_true", func(t *testing.T) {
		d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "t", Attributes: map[string]any{"amount": "x", "country": "KP"}})
		if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny {
			t.Fatalf("got %+v, %v; want Deny with ErrUnevaluable", d, err)
		}
	})
	// "attr.NAME?" says in the policy that a missing attribute is fine;
	// a present one of the wrong type still cannot pass.
	opt := newFixture(t, "rules:\n  - id: guard\n    effect: deny\n    when: ['attr.amount? > 1000']\n  - id: open\n    effect: allow\n")
	t.Run("optional/missing_is_declared_fine", func(t *testing.T) {
		d, err := opt.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "t"})
		if err != nil || d.Effect != agenttrust.Allow {
			t.Fatalf("got %+v, %v; want Allow", d, err)
		}
	})
	for name, v := range map[string]any{"string": "5000", "NaN": math.NaN(), "+Inf": math.Inf(1), "null": nil} {
		t.Run("optional/"+name, func(t *testing.T) {
			d, err := opt.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "t", Attributes: map[string]any{"amount": v}})
			if !errors.Is(err, agenttrust.ErrUnevaluable) || d.Effect != agenttrust.Deny || d.Rule != "guard" {
				t.Fatalf("got %+v, %v; want Deny by guard with ErrUnevaluable", d, err)
			}
		})
	}
	// The error names the rule and the attribute, never the threshold.
	t.Run("error_hides_threshold", func(t *testing.T) {
		_, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "t", Attributes: map[string]any{"country": "KP"}})
		if err == nil || strings.Contains(err.Error(), "1000") || !strings.Contains(err.Error(), "attr.amount is missing") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestAttackTypeConfusionCaveats: a caveat that cannot be evaluated does
// not hold.
func TestAttackTypeConfusionCaveats(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "rules:\n  - id: open\n    effect: allow\n")
	secret, _, err := f.c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "payer"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.c.Exchange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, cav := range []string{"attr.amount <= 50", "attr.country = FR", "attr.force = false", "ip in 192.0.2.0/24"} {
		narrow, err := agenttrust.Attenuate(tok, cav)
		if err != nil {
			t.Fatal(err)
		}
		bad := stringBad
		switch {
		case strings.Contains(cav, "amount"):
			bad = numberBad
		case strings.Contains(cav, "force"):
			bad = boolBad
		case strings.HasPrefix(cav, "ip"):
			bad = map[string]any{"no_remote_addr": absent{}}
		}
		for name, v := range bad {
			t.Run(cav+"/"+name, func(t *testing.T) {
				req := typeConfusionRequest(v)
				req.AgentID, req.Credential = "", narrow
				if strings.HasPrefix(cav, "ip") {
					req.RemoteAddr = netip.Addr{}
				}
				d, err := f.c.Check(ctx, req)
				if !errors.Is(err, agenttrust.ErrUnauthorized) || d.Effect != agenttrust.Deny {
					t.Fatalf("got %+v, %v; want Deny with a caveat error", d, err)
				}
			})
		}
	}
}

// TestAttackTypeConfusionDeclared: a policy that declares its attribute
// types refuses a mistyped or missing attribute before any rule, even an
// allow rule without conditions.
func TestAttackTypeConfusionDeclared(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `
attributes:
  - {tools: ["payments.*"], name: amount, type: number, required: true}
  - {name: country, type: string}
rules:
  - id: open
    effect: allow
`)
	for name, v := range numberBad {
		t.Run("amount/"+name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "payments.transfer", Attributes: attrsOf("amount", v)})
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %+v, %v; want Deny with ErrInvalidRequest", d, err)
			}
		})
	}
	for name, v := range stringBad {
		if _, ok := v.(absent); ok {
			continue // country is optional
		}
		t.Run("country/"+name, func(t *testing.T) {
			d, err := f.c.Check(ctx, agenttrust.Request{AgentID: "payer", Tool: "mail.read", Attributes: map[string]any{"country": v}})
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("got %+v, %v; want Deny with ErrInvalidRequest", d, err)
			}
		})
	}
	ok := map[string]agenttrust.Request{
		"typed":             {AgentID: "payer", Tool: "payments.transfer", Attributes: map[string]any{"amount": json.Number("5000"), "country": "FR"}},
		"tool_not_declared": {AgentID: "payer", Tool: "mail.read", Attributes: map[string]any{"amount": "any"}},
		"optional_absent":   {AgentID: "payer", Tool: "payments.transfer", Attributes: map[string]any{"amount": 1}},
	}
	for name, req := range ok {
		t.Run("ok/"+name, func(t *testing.T) {
			if d, err := f.c.Check(ctx, req); err != nil || !d.Allowed() {
				t.Fatalf("got %+v, %v; want Allow", d, err)
			}
		})
	}
	bad := map[string]string{
		"when_other_type": "attributes:\n  - {name: amount, type: number}\nrules:\n  - id: r\n    effect: deny\n    when: ['attr.amount = high']\n",
		"unknown_type":    "attributes:\n  - {name: amount, type: decimal}\nrules: []\n",
		"bad_name":        "attributes:\n  - {name: 'a b', type: number}\nrules: []\n",
		"bad_tool_glob":   "attributes:\n  - {tools: ['pay\u200bments.*'], name: amount, type: number}\nrules: []\n",
		"two_types":       "attributes:\n  - {name: amount, type: number}\n  - {name: amount, type: string}\nrules: []\n",
	}
	for name, doc := range bad {
		t.Run("policy/"+name, func(t *testing.T) {
			if _, err := agenttrust.ParsePolicy([]byte(doc), "yaml"); !errors.Is(err, agenttrust.ErrInvalidPolicy) {
				t.Fatalf("got %v, want ErrInvalidPolicy", err)
			}
		})
	}
}

func attrsOf(name string, v any) map[string]any {
	if _, ok := v.(absent); ok {
		return nil
	}
	return map[string]any{name: v}
}

// TestAttackTruncationMarkRefused: a request may not send the attribute
// an audit record uses to mark attributes too large to keep, so replay
// can tell a lost record from a request that sent it.
func TestAttackTruncationMarkRefused(t *testing.T) {
	f := newFixture(t, openPolicy)
	d, err := f.c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "t", Attributes: map[string]any{"_truncated": true}})
	if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Fatalf("%v %v; want a deny with ErrInvalidRequest", d.Effect, err)
	}
}

// TestAttackResourceLongerInNFC: a resource within the length bound as
// sent but past it in NFC (U+0958 is 3 bytes, 6 in NFC) is refused, so
// no record keeps a cut resource that replay would match globs against.
func TestAttackResourceLongerInNFC(t *testing.T) {
	f := newFixture(t, openPolicy)
	res := "files/" + strings.Repeat("\u0958", 200) + "/id_rsa"
	d, err := f.c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "read", Resource: res})
	if d.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Fatalf("%d bytes, %v %v; want a deny with ErrInvalidRequest", len(res), d.Effect, err)
	}
}
