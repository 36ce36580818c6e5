package server

import (
	"encoding/json"
	"testing"

	"github.com/agenttrust/agenttrust/internal/wire"
)

// The hand-written encoder of the check response matches encoding/json.
func TestCheckResponseJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te\back`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "<html>&amp;", "héllo ✓", "\u2028\u2029", "bad \xff utf8", "\b\f"} {
		r := wire.CheckResponse{Allowed: true, Effect: "allow", Reason: s, RuleID: s, DecisionID: "d", ApprovalID: s, AgentID: s, StalenessNS: -5, Error: s}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendCheckResponse(nil, &r)); got != string(want)+"\n" {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func FuzzCheckResponseJSON(f *testing.F) {
	f.Add("x", "y")
	f.Add("\xff<\u2028", "")
	f.Fuzz(func(t *testing.T, reason, errCode string) {
		r := wire.CheckResponse{Effect: "deny", Reason: reason, Error: errCode}
		want, _ := json.Marshal(r)
		if got := string(appendCheckResponse(nil, &r)); got != string(want)+"\n" {
			t.Errorf("got %s want %s", got, want)
		}
	})
}
