package cedar_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// FuzzParse: any document loads or is refused with a policy error, and a
// loaded one decides a request without panicking, denying on error.
func FuzzParse(f *testing.F) {
	src, err := os.ReadFile("testdata/conformance.cedar")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src)
	for _, s := range []string{
		`permit (principal, action, resource);`,
		`@effect("needs_approval") @approvers("a,b*") permit (principal, action, resource) when { context.attr.x > 1 };`,
		`@id("x") forbid (principal in Tenant::"t", action in [Action::"a"], resource) unless { context.ip.isInRange(ip("10.0.0.0/8")) };`,
		`permit (principal, action, resource) when { context.attr.m.n.contains(decimal("1.5")) || context.time > datetime("2026-01-01") };`,
		`@id("a") @id("a") permit`, "\xff", `forbid (principal, action, resource) when { 9223372036854775807 + 1 == 0 };`,
	} {
		f.Add([]byte(s))
	}
	in := req("billing-bot", "payments.charge", "cust-1", "amount", 60, "currency", "EUR", "m", map[string]any{"n": []any{1, "x"}})
	in.RemoteAddr = mustAddr("10.0.0.1")
	in.HopIDs = []string{"h1"}
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := cedar.Parse("f.cedar", src)
		if err != nil {
			if e != nil {
				t.Fatal("an engine with an error")
			}
			return
		}
		res, err := e.Evaluate(context.Background(), &in)
		checkResult(t, res, err)
	})
}

// FuzzRequest: any request converts or is refused with a deny, on the
// conformance policy.
func FuzzRequest(f *testing.F) {
	ce, err := cedar.LoadFile("testdata/conformance.cedar")
	if err != nil {
		f.Fatal(err)
	}
	for _, row := range conformanceRows() {
		attrs, _ := json.Marshal(row.in.Attributes)
		f.Add(row.in.AgentID, row.in.Tool, row.in.Resource, row.in.SessionID, attrs)
	}
	f.Add("a\xff", "cafe\u0301", "x", "", []byte(`{"x":1e400,"y":[null],"z":{"a":{"b":"\u200b"}}}`))
	f.Add("a", "t", "r", "s", []byte(`{"amount":0.00001,"n":-0,"big":18446744073709551616}`))
	f.Add("billing-bot", "payments.charge", "c", "", []byte(`{"AMOUNT":9999,"currency":"EUR","m":{"Label":"x"}}`))
	f.Add("billing-bot", "payments.charge", "c", "", []byte(`{"amount":5.00000000000000000001e3,"n":9007199254740993.0,"z":1e-400,"d":5000.00010000}`))
	f.Fuzz(func(t *testing.T, agent, tool, resource, session string, attrJSON []byte) {
		var attrs map[string]any
		dec := json.NewDecoder(bytes.NewReader(attrJSON))
		dec.UseNumber()
		if dec.Decode(&attrs) != nil {
			attrs = map[string]any{"raw": string(attrJSON)}
		}
		in := agenttrust.PolicyInput{Tenant: "acme", AgentID: agent, Tool: tool, Resource: resource, SessionID: session, Attributes: attrs}
		res, err := ce.Evaluate(context.Background(), &in)
		checkResult(t, res, err)
	})
}

func checkResult(t *testing.T, res agenttrust.PolicyResult, err error) {
	t.Helper()
	switch {
	case res.Effect > agenttrust.NeedsApproval:
		t.Fatalf("invalid effect %d", res.Effect)
	case err != nil && res.Effect != agenttrust.Deny:
		t.Fatalf("%v with error %v", res.Effect, err)
	case res.Effect != agenttrust.Deny && res.Rule == "":
		t.Fatalf("%v without a rule", res.Effect)
	case len(res.Approvers) > 0 && res.Effect != agenttrust.NeedsApproval:
		t.Fatalf("approvers on %v", res.Effect)
	}
}
