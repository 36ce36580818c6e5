package remote_test

import (
	"net/netip"
	"testing"
	"time"
)

type pathName string

type cents int64

// TestAttackRemoteEngineGoTypes: the rule engine judges attributes of
// the JSON types as Go holds them (string, bool, the numeric types,
// json.Number); any other Go value (a []byte, a time.Time, a named
// string or number type, a pointer) cannot be evaluated, so a deny rule
// reading it denies. The remote policy engine sent such a value as its
// JSON form, which the server judged as a plain string or number: the
// bytes of "/etc/passwd" became base64 text that "attr.path in /etc/*"
// does not match, a named type became the string or number it wraps,
// and the same policy that denies in process allowed. Such a value is
// now refused before it is sent (the check denies with
// ErrPolicyEngine).
func TestAttackRemoteEngineGoTypes(t *testing.T) {
	const policy = `{"rules":[
 {"id":"no-etc","effect":"deny","tools":["read"],"when":["attr.path in /etc/*"]},
 {"id":"read","effect":"allow","tools":["read"]},
 {"id":"home","effect":"allow","tools":["list"],"when":["attr.path in /home/*"]},
 {"id":"small","effect":"allow","tools":["pay"],"when":["attr.amount <= 50"]},
 {"id":"tag","effect":"allow","tools":["tag"]}
]}`
	d := deploy(t)
	d.savePolicy(t, policy)
	viaServer := d.engineClient(t)
	local := localClient(t, policy)
	etc := "/etc/passwd"
	decidesAlike(t, local, viaServer, "the remote engine", []attrCase{
		{"bytes", "read", "path", []byte("/etc/passwd"), false},
		{"time", "read", "path", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"text marshaler", "read", "path", netip.MustParseAddr("10.0.0.1"), false},
		{"pointer to string", "read", "path", &etc, false},
		{"named string", "list", "path", pathName("/home/alice/x"), false},
		{"named number", "pay", "amount", cents(10), false},
		{"control: string", "list", "path", "/home/alice/x", true},
		{"control: int64", "pay", "amount", int64(10), true},
		{"control: slice", "tag", "tags", []string{"a"}, true},
		{"control: time, not read", "tag", "at", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true},
	})
}
