package remote_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/agenttrust/agenttrust"
)

// TestAttackRemoteEmptyNumber: encoding/json writes an empty json.Number
// as 0. In process an empty json.Number is no number: a deny rule that
// compares it cannot be evaluated and denies. Through remote.Check, and a
// client deciding through the evaluate route, the server judged 0, under
// every bound, and the next rule allowed. It is refused before sending
// (nested too: cedar TestAttackRemoteNestedGoValues).
func TestAttackRemoteEmptyNumber(t *testing.T) {
	const policy = `{"rules":[
 {"id":"cap","effect":"deny","tools":["pay"],"when":["attr.amount > 100"]},
 {"id":"pay","effect":"allow","tools":["pay"]}
]}`
	d := deploy(t)
	d.savePolicy(t, policy)
	local := localClient(t, policy)
	// remote.Check refuses the request as invalid; a client deciding
	// through the evaluate route gets an engine failure, as for a float32.
	checkers := map[string]struct {
		c   agenttrust.Checker
		err error
	}{
		"remote.Check":       {d.client(t, "bot"), agenttrust.ErrInvalidRequest},
		"the evaluate route": {d.engineClient(t), agenttrust.ErrPolicyEngine},
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		allow bool // else refused as invalid
	}{
		{"empty json.Number", map[string]any{"amount": json.Number("")}, false},
		{"control: under the cap", map[string]any{"amount": json.Number("5")}, true},
	} {
		for what, c := range checkers {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				req := agenttrust.Request{AgentID: "bot", Tool: "pay", Attributes: tc.attrs}
				ld, _ := local.Check(t.Context(), req)
				rd, err := c.c.Check(t.Context(), req)
				if tc.allow {
					if err != nil {
						t.Fatalf("%v", err)
					}
					if !(ld.Allowed() && rd.Allowed()) {
						t.Fatalf("local %+v, %s %+v", ld, what, rd)
					}
					return
				}
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v; decided by %s: %+v; locally: %+v", err, c.err, what, rd, ld)
				}
				if rd.Effect != agenttrust.Deny {
					t.Fatalf("got %v, want %v", rd.Effect, agenttrust.Deny)
				}
			})
		}
	}
}
