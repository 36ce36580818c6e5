package remote_test

import (
	"testing"
)

// TestAttackRemoteEngineFloat32: SECURITY §4 says a Go float32 is judged
// only where its binary value and the decimal it prints as agree:
// float32(0.3) holds 0.300000012, float32(0.7) holds 0.699999988, so
// against "> 0.3" or ">= 0.7" either may be what the tool acts on, and
// the condition is unknown. The remote policy engine sent the attribute
// as JSON text, the decimal alone, which the server judged as exactly
// 0.3 or 0.7: a deny rule "attr.risk > 0.3" was skipped and an allow
// rule "attr.score >= 0.7" matched, where the same policy decided
// locally denies. Such an attribute is now refused before it is sent
// (the check denies with ErrPolicyEngine).
func TestAttackRemoteEngineFloat32(t *testing.T) {
	const policy = `{"rules":[
 {"id":"risky","effect":"deny","tools":["trade"],"when":["attr.risk > 0.3"]},
 {"id":"trade","effect":"allow","tools":["trade"]},
 {"id":"confident","effect":"allow","tools":["act"],"when":["attr.score >= 0.7"]}
]}`
	d := deploy(t)
	d.savePolicy(t, policy)
	viaServer := d.engineClient(t)
	local := localClient(t, policy)
	decidesAlike(t, local, viaServer, "the remote engine", []attrCase{
		{"deny skipped", "trade", "risk", float32(0.3), false},
		{"allow matched", "act", "score", float32(0.7), false},
		{"control: exact float32", "act", "score", float32(0.75), true},
		{"control: float64", "trade", "risk", 0.3, true},
	})
}
