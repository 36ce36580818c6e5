package server

import "testing"

// TestAttackApprovalWithdrawHTTP: POST /v1/approvals/{id}/deny of an
// approval already approved answered 409 and left it allowing its
// request, and a remembered one its grant: an approver could not take
// back a mistaken approval. Before the request uses it, deny withdraws
// it (200, denied): the request is asked again and the grant made with
// it is not used, and is listed with no use left. Once used it is 409 approval_resolved
// (control).
func TestAttackApprovalWithdrawHTTP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		remember  bool
		usedFirst bool
		status    int
		code      string
	}{
		{name: "approved, then denied", status: 200},
		{name: "remembered, then denied", remember: true, status: 200},
		{name: "used, then denied (control)", usedFirst: true, status: 409, code: "approval_resolved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newGrantEnv(t)
			req := map[string]any{"tool_name": "payments.charge", "resource": "acct/1"}
			d := e.check(e.key("acme/bot"), req)
			id := d["approval_id"].(string)
			var body any
			if tc.remember {
				body = map[string]any{"remember": map[string]any{"uses": 5, "valid_for": "30m", "resources": []string{"acct/*"}}}
			}
			e.must(200, "POST", "/v1/approvals/"+id+"/approve", e.key("acme/carol"), body)
			if tc.usedFirst {
				if d := e.check(e.key("acme/bot"), req); d["effect"] != "allow" {
					t.Fatalf("the approved request: %v", d)
				}
			}
			r := e.do("POST", "/v1/approvals/"+id+"/deny", e.key("acme/dave"), map[string]any{"note": "wrong card"})
			if r.status != tc.status {
				t.Fatalf("deny after approve: %d %s, want %d", r.status, r.body, tc.status)
			}
			if tc.code != "" {
				if got := r.code(t); got != tc.code {
					t.Fatalf("deny after use: code %q, want %q", got, tc.code)
				}
				return
			}
			if a := r.json(t); a["status"] != "denied" || a["decided_by"] != "dave" {
				t.Errorf("withdrawn approval: %v", a)
			}
			for _, res := range []string{"acct/1", "acct/2"} {
				req["resource"] = res
				if d := e.check(e.key("acme/bot"), req); d["effect"] != "needs_approval" || d["approval_id"] == id {
					t.Errorf("%s after the withdrawal: %v", res, d)
				}
			}
			for _, g := range e.must(200, "GET", "/v1/grants", e.key("acme/root"), nil).json(t)["grants"].([]any) {
				if left := g.(map[string]any)["uses_left"]; left != float64(0) {
					t.Errorf("a grant of the withdrawn approval listed with uses_left %v: %v", left, g)
				}
			}
		})
	}
}
