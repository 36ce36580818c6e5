package cedar_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	cedargo "github.com/cedar-policy/cedar-go"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax", "permit (principal, action, resource)\nwhen { context.x == };", "parse error at line 2:"},
		{"not UTF-8", "permit (principal, action, resource) when { context.x == \"\xff\" };", "UTF-8"},
		{"unknown annotation", `@efect("needs_approval") permit (principal, action, resource);`, "unknown annotation @efect"},
		{"unknown effect", `@effect("allow") permit (principal, action, resource);`, `@effect("allow")`},
		{"needs approval on forbid", `@effect("needs_approval") forbid (principal, action, resource);`, "forbid"},
		{"approvers on a plain permit", `@approvers("ops") permit (principal, action, resource);`, "@approvers"},
		{"approvers on forbid", `@approvers("ops") forbid (principal, action, resource);`, "@approvers"},
		{"bad approver glob", `@effect("needs_approval") @approvers("ops[1]") permit (principal, action, resource);`, "approvers"},
		{"empty approver", `@effect("needs_approval") @approvers("ops,") permit (principal, action, resource);`, "approvers"},
		{"bad id", `@id("no spaces") permit (principal, action, resource);`, "id must be"},
		{"empty id", `@id("") permit (principal, action, resource);`, "no id"},
		{"duplicate id", `@id("a") permit (principal, action, resource); @id("a") forbid (principal, action, resource);`, "duplicate id"},
		{"id clashes with a default id", `permit (principal, action, resource); @id("policy0") forbid (principal, action, resource);`, "duplicate id"},
		{"control character in reason", "@reason(\"a\\nb\") permit (principal, action, resource);", "@reason"},
		{"duplicate annotation", `@id("a") @id("b") permit (principal, action, resource);`, "duplicate annotation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.src))
			if err == nil || e != nil {
				t.Fatalf("accepted: %v", e)
			}
			var pe *agenttrust.PolicyError
			if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.File != "p.cedar" {
				t.Errorf("err %v: want a *agenttrust.PolicyError naming the file", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v: want it to say %q", err, tc.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.cedar")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(agenttrust.MaxPolicySize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := cedar.LoadFile(big); !errors.Is(err, agenttrust.ErrInvalidPolicy) {
		t.Errorf("oversized file: %v", err)
	}
	if _, err := cedar.LoadFile(filepath.Join(dir, "missing.cedar")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestAttackForbidThatErrs: cedar-go skips a policy whose condition errs,
// so a forbid reading an attribute the attacker leaves out (or sends as
// another type) would let the permit through. The engine denies naming
// the forbid.
func TestAttackForbidThatErrs(t *testing.T) {
	src := []byte(`
@id("cap") forbid (principal, action, resource) when { context.attr.amount > 100 };
@id("all") permit (principal, action, resource);`)
	e, err := cedar.Parse("", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, attrs := range []map[string]any{nil, {"amount": "1000000"}, {"amount": true}, {"amount": []any{1}}} {
		in := agenttrust.PolicyInput{AgentID: "a", Tool: "pay", Attributes: attrs}
		res, err := e.Evaluate(context.Background(), &in)
		var ee *cedar.EvalError
		if res.Effect != agenttrust.Deny || res.Rule != "cap" || !errors.As(err, &ee) || !errors.Is(err, agenttrust.ErrUnevaluable) {
			t.Errorf("attrs %v: %+v, %v; want a deny by cap with an *EvalError", attrs, res, err)
		}
		if ee != nil && (strings.Contains(err.Error(), "100") || ee.Detail == "") {
			t.Errorf("error %q must not quote the policy's operand, and Detail must say why", err)
		}
	}
	// The same policies, as cedar-go alone decides them: it allows.
	ps, err := cedargo.NewPolicySetFromBytes("", src)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cedargo.Authorize(ps, nil, cedargo.Request{Context: cedargo.NewRecord(cedargo.RecordMap{"attr": cedargo.NewRecord(nil)})})
	if d != cedargo.Allow {
		t.Fatalf("cedar-go decided %v: the attack no longer needs the engine's defence", d)
	}
}

// TestRequestErrors: what Cedar cannot hold denies the request.
func TestRequestErrors(t *testing.T) {
	e, err := cedar.Parse("", []byte(`@id("all") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	deep := any("x")
	for range 20 {
		deep = map[string]any{"d": deep}
	}
	many := make([]any, 10_001)
	for i := range many {
		many[i] = i
	}
	for _, tc := range []struct {
		name  string
		in    agenttrust.PolicyInput
		field string
	}{
		{"agent not UTF-8", agenttrust.PolicyInput{AgentID: "a\xff"}, "agent"},
		{"tool not NFC", agenttrust.PolicyInput{Tool: "cafe\u0301"}, "tool"},
		{"resource with a zero-width space", agenttrust.PolicyInput{Resource: "file:a\u200bb"}, "resource"},
		{"session bidi control", agenttrust.PolicyInput{SessionID: "s\u202e1"}, "session"},
		{"on behalf of", agenttrust.PolicyInput{OnBehalfOf: "\xc0"}, "on_behalf_of"},
		{"tenant", agenttrust.PolicyInput{Tenant: "t\xff"}, "tenant"},
		{"hop", agenttrust.PolicyInput{HopIDs: []string{"h\xff"}}, "hops"},
		{"attribute name", agenttrust.PolicyInput{Attributes: map[string]any{"n\xff": 1}}, "attr.n\xff"},
		{"NaN", agenttrust.PolicyInput{Attributes: map[string]any{"x": math.NaN()}}, "attr.x"},
		{"infinity", agenttrust.PolicyInput{Attributes: map[string]any{"x": math.Inf(-1)}}, "attr.x"},
		{"uint64 beyond int64", agenttrust.PolicyInput{Attributes: map[string]any{"x": uint64(math.MaxUint64)}}, "attr.x"},
		{"float beyond int64", agenttrust.PolicyInput{Attributes: map[string]any{"x": 1e19}}, "attr.x"},
		{"five decimal places", agenttrust.PolicyInput{Attributes: map[string]any{"x": 0.12345}}, "attr.x"},
		{"json.Number not JSON", agenttrust.PolicyInput{Attributes: map[string]any{"x": json.Number("0x10")}}, "attr.x"},
		{"json.Number Inf", agenttrust.PolicyInput{Attributes: map[string]any{"x": json.Number("Inf")}}, "attr.x"},
		{"json.Number beyond int64", agenttrust.PolicyInput{Attributes: map[string]any{"x": json.Number("9223372036854775808")}}, "attr.x"},
		{"unsupported type", agenttrust.PolicyInput{Attributes: map[string]any{"x": time.Second}}, "attr.x"},
		{"struct", agenttrust.PolicyInput{Attributes: map[string]any{"x": struct{}{}}}, "attr.x"},
		{"nested string not NFC", agenttrust.PolicyInput{Attributes: map[string]any{"x": map[string]any{"y": []any{"cafe\u0301"}}}}, "attr.x.y"},
		{"null in a list", agenttrust.PolicyInput{Attributes: map[string]any{"x": []any{1, nil}}}, "attr.x"},
		{"too deep", agenttrust.PolicyInput{Attributes: map[string]any{"x": deep}}, "attr.x.d"},
		{"too many values", agenttrust.PolicyInput{Attributes: map[string]any{"x": many}}, "attr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Evaluate(context.Background(), &tc.in)
			var re *cedar.RequestError
			if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Fatalf("%+v, %v: want a deny with a *RequestError", res, err)
			}
			if !strings.HasPrefix(re.Field, tc.field) {
				t.Errorf("field %q, want %q", re.Field, tc.field)
			}
		})
	}
	// And what converts, allows.
	ok := agenttrust.PolicyInput{AgentID: "a", Tool: "caf\u00e9", Attributes: map[string]any{
		"i": -3, "f": 2.5, "n": json.Number("1e3"), "d": json.Number("12.3456"), "b": false, "s": "é",
		"m": map[string]any{"l": []any{1, "x", true, map[string]any{}}}, "u": uint(7), "f32": float32(0.5)}}
	if res, err := e.Evaluate(context.Background(), &ok); res.Effect != agenttrust.Allow || err != nil {
		t.Errorf("convertible request: %+v, %v", res, err)
	}
}

// TestTypes: each Go value reaches Cedar as the documented type. Each
// type has an attribute of its own: one compared with two types is
// refused (TestAttackEqualityOtherType).
func TestTypes(t *testing.T) {
	e, err := cedar.Parse("", []byte(`
@id("long") permit (principal, action == Action::"long", resource) when { context.attr.long == 3 };
@id("dec") permit (principal, action == Action::"dec", resource) when { context.attr.dec == decimal("2.5") };
@id("str") permit (principal, action == Action::"str", resource) when { context.attr.str == "x" };
@id("bool") permit (principal, action == Action::"bool", resource) when { context.attr.bool == true };
@id("set") permit (principal, action == Action::"set", resource) when { context.attr.set == [2, 1] };
@id("rec") permit (principal, action == Action::"rec", resource) when { context.attr.rec.k == "x" };
@id("time") permit (principal, action == Action::"time", resource) when { context.time < datetime("2027-01-01") };
@id("ip") permit (principal, action == Action::"ip", resource) when { context.ip.isIpv4() };
@id("tenant") permit (principal in Tenant::"acme", action == Action::"tenant", resource);`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tool string
		v    any
	}{
		{"long", int16(3)}, {"long", 3.0}, {"long", json.Number("3")}, {"long", json.Number("3.0")}, {"long", json.Number("0.3e1")},
		{"dec", 2.5}, {"dec", json.Number("2.50")}, {"dec", float32(2.5)},
		{"str", "x"}, {"bool", true}, {"set", []any{1, 2, 1}}, {"rec", map[string]any{"k": "x"}},
		{"time", nil}, {"ip", nil}, {"tenant", nil},
	} {
		in := req("a", tc.tool, "r")
		if tc.v != nil {
			in = req("a", tc.tool, "r", tc.tool, tc.v)
		}
		in.RemoteAddr = mustAddr("10.0.0.1")
		res, err := e.Evaluate(context.Background(), &in)
		if res.Effect != agenttrust.Allow || res.Rule != tc.tool || err != nil {
			t.Errorf("%s %#v: %+v %v", tc.tool, tc.v, res, err)
		}
	}
}

func TestEmptyAndCancelled(t *testing.T) {
	var zero cedar.Engine
	in := req("a", "t", "r")
	if res, err := zero.Evaluate(context.Background(), &in); res.Effect != agenttrust.Deny || err != nil {
		t.Errorf("zero engine: %+v %v", res, err)
	}
	e, err := cedar.Parse("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Evaluate(context.Background(), nil); res.Effect != agenttrust.Deny || !errors.Is(err, agenttrust.ErrInvalidRequest) {
		t.Errorf("nil input: %+v %v", res, err)
	}
	all, _ := cedar.Parse("", []byte(`permit (principal, action, resource);`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := all.Evaluate(ctx, &in); res.Effect != agenttrust.Deny || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %+v %v", res, err)
	}
	if res, err := all.Evaluate(context.Background(), &in); res.Effect != agenttrust.Allow || res.Rule != "policy0" || err != nil {
		t.Errorf("default id: %+v %v", res, err)
	}
}

// TestConcurrentTenants: the engine is shared by goroutines checking for
// different tenants; each gets its own tenant's answer.
func TestConcurrentTenants(t *testing.T) {
	e, err := cedar.Parse("", []byte(`@id("acme") permit (principal in Tenant::"acme", action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 500 {
				tenant := []string{"acme", "globex"}[(g+i)%2]
				in := agenttrust.PolicyInput{Tenant: tenant, AgentID: "a", Tool: "t"}
				res, err := e.Evaluate(context.Background(), &in)
				if err != nil || (res.Effect == agenttrust.Allow) != (tenant == "acme") {
					done <- errors.New(tenant + ": " + res.Effect.String())
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestNoActionGroups: actions have no parents, so a group names only
// itself (the package documentation says so).
func TestNoActionGroups(t *testing.T) {
	e, err := cedar.Parse("", []byte(`@id("g") permit (principal, action in Action::"payments", resource);`))
	if err != nil {
		t.Fatal(err)
	}
	for tool, want := range map[string]agenttrust.Effect{"payments.charge": agenttrust.Deny, "payments": agenttrust.Allow} {
		in := req("a", tool, "r")
		if res, err := e.Evaluate(context.Background(), &in); res.Effect != want || err != nil {
			t.Errorf("%s: %+v %v", tool, res, err)
		}
	}
}
