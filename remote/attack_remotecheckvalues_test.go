package remote_test

import (
	"net/netip"
	"testing"
	"time"
)

// TestAttackRemoteCheckGoValues: remote.New is "a Checker like the local
// client", and one policy gives one decision on every surface. Check
// sent a request's attributes as JSON, and the server judged that form:
// a Go value the rule engine cannot judge in process (a []byte, a
// time.Time, a named string or number type) became a string or number
// it judged, and a float32 (judged in process only where its binary
// value and printed decimal agree) became its decimal alone. A deny on
// "attr.path in /etc/*" passed the base64 of "/etc/passwd", one on
// "attr.risk > 0.3" passed float32(0.3) (0.300000012), and allow rules
// matched a named type and float32(0.7), where the same policy in
// process denies.
func TestAttackRemoteCheckGoValues(t *testing.T) {
	const policy = `{"rules":[
 {"id":"no-etc","effect":"deny","tools":["read"],"when":["attr.path in /etc/*"]},
 {"id":"read","effect":"allow","tools":["read"]},
 {"id":"home","effect":"allow","tools":["list"],"when":["attr.path in /home/*"]},
 {"id":"small","effect":"allow","tools":["pay"],"when":["attr.amount <= 50"]},
 {"id":"risky","effect":"deny","tools":["trade"],"when":["attr.risk > 0.3"]},
 {"id":"trade","effect":"allow","tools":["trade"]},
 {"id":"confident","effect":"allow","tools":["act"],"when":["attr.score >= 0.7"]},
 {"id":"tag","effect":"allow","tools":["tag"]}
]}`
	d := deploy(t)
	d.savePolicy(t, policy)
	bot := d.client(t, "bot")
	local := localClient(t, policy)
	decidesAlike(t, local, bot, "the server", []attrCase{
		{"bytes", "read", "path", []byte("/etc/passwd"), false},
		{"time", "read", "path", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"text marshaler", "read", "path", netip.MustParseAddr("10.0.0.1"), false},
		{"named string", "list", "path", pathName("/home/alice/x"), false},
		{"named number", "pay", "amount", cents(10), false},
		{"float32 past a deny", "trade", "risk", float32(0.3), false},
		{"float32 into an allow", "act", "score", float32(0.7), false},
		{"control: string", "list", "path", "/home/alice/x", true},
		{"control: int64", "pay", "amount", int64(10), true},
		{"control: exact float32", "act", "score", float32(0.75), true},
		{"control: time, not read", "tag", "at", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true},
	})
}
