package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// numbersPolicy compares attributes with integers past 2^53 and a bound a
// long decimal rounds onto.
const numbersPolicy = `{"rules":[
 {"id":"cap","effect":"deny","tools":["payments.charge"],"when":["attr.amount > 9007199254740992"],"reason":"over the cap"},
 {"id":"fee","effect":"deny","tools":["payments.charge"],"when":["attr.fee? > 100"],"reason":"fee over 100"},
 {"id":"own-account","effect":"allow","tools":["payments.charge"],"when":["attr.account = 12345678901234568"]},
 {"id":"pay","effect":"needs_approval","tools":["payments.wire"],"reason":"wires need a human"}
]}`

// TestAttackServerNumberPrecision: a number in a check's body reaches the
// engine as the caller wrote it. Decoded as a float64 it would round:
// 12345678901234567 onto the account an allow rule names, 9007199254740993
// onto the cap a deny rule names, a fee of 100.000000000000001 onto 100
// (which the engine, given the text, cannot compare: the check denies).
func TestAttackServerNumberPrecision(t *testing.T) {
	e := numbersEnv(t)
	bot := e.key("acme/bot")
	for _, tc := range []struct {
		name, attrs string
		allowed     bool
	}{
		{"the account the rule names", `{"account":12345678901234568,"amount":1}`, true},
		{"the account one below", `{"account":12345678901234567,"amount":1}`, false},
		{"an amount one over the cap", `{"account":12345678901234568,"amount":9007199254740993}`, false},
		{"a fee a float64 rounds to 100", `{"account":12345678901234568,"amount":1,"fee":100.000000000000001}`, false},
		{"a nested list of them", `{"account":12345678901234568,"amount":1,"more":[12345678901234567,{"x":1e400}]}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/actions/check", bot, `{"tool_name":"payments.charge","attributes":`+tc.attrs+`}`)
			// A condition the engine cannot evaluate denies with 400
			// invalid_request; otherwise the answer is a decision.
			allowed := r.status == 200 && r.json(t)["allowed"] == true
			if allowed != tc.allowed || (r.status != 200 && !strings.Contains(string(r.body), `"invalid_request"`)) {
				t.Fatalf("status %d, allowed = %v, want %v: %s", r.status, allowed, tc.allowed, r.body)
			}
		})
	}
}

// TestAttackServerApprovalNumberBinding: an approval granted for one
// account number is not spent by a request for another that a float64
// cannot tell from it.
func TestAttackServerApprovalNumberBinding(t *testing.T) {
	e := numbersEnv(t)
	bot := e.key("acme/bot")
	first := e.check(bot, map[string]any{"tool_name": "payments.wire", "attributes": map[string]any{"account": json.Number("12345678901234568")}})
	id, _ := first["approval_id"].(string)
	if first["effect"] != "needs_approval" || id == "" {
		t.Fatalf("first check: %v", first)
	}
	e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), nil)
	other := e.must(200, "POST", "/v1/actions/check", bot, `{"tool_name":"payments.wire","attributes":{"account":12345678901234567}}`).json(t)
	if other["allowed"] == true {
		t.Fatalf("the approval for account 12345678901234568 allowed account 12345678901234567: %v", other)
	}
	same := e.must(200, "POST", "/v1/actions/check", bot, `{"tool_name":"payments.wire","attributes":{"account":12345678901234568}}`).json(t)
	if same["allowed"] != true {
		t.Fatalf("the approved request itself: %v", same)
	}

	// A token narrowed to account ...568 sees no approval of ...567, whose
	// stored attributes a float64 would read as ...568.
	held := e.must(200, "POST", "/v1/actions/check", bot, `{"tool_name":"payments.wire","attributes":{"account":12345678901234567}}`).json(t)
	heldID, _ := held["approval_id"].(string)
	if held["effect"] != "needs_approval" || heldID == "" {
		t.Fatalf("check of account ...567: %v", held)
	}
	narrowed := e.exchange(bot, "attr.account = 12345678901234568")
	e.must(403, "GET", "/v1/approvals/"+heldID, narrowed, nil)
	list := e.must(200, "GET", "/v1/approvals", narrowed, nil)
	if strings.Contains(string(list.body), heldID) {
		t.Fatalf("the narrowed token lists the approval of account ...567: %s", list.body)
	}
}

// numbersEnv is an env whose tenant acme has numbersPolicy.
func numbersEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	c, err := e.srv.Client(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SavePolicy(ctx, []byte(numbersPolicy), "json", 1); err != nil {
		t.Fatal(err)
	}
	return e
}
