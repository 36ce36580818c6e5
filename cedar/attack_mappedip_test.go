package cedar_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
	"github.com/agenttrust/agenttrust/store/memory"
	cedargo "github.com/cedar-policy/cedar-go"
)

// TestAttackMappedAddressInPolicy: the engine unmaps the caller's
// address (::ffff:10.1.2.3 reaches Cedar as 10.1.2.3, as the rule
// engine and the server see it), but left a policy's ip literal as
// written. A forbid on an IPv4 network written in its IPv4-mapped IPv6
// form, ip("::ffff:a00:0/104"), thus never matched: a caller from
// ::ffff:10.1.2.3 was allowed where cedar-go, given the address as sent,
// and the rule engine (which unmaps policy addresses too) deny. Such a
// literal is now refused when the policy loads (a *agenttrust.PolicyError
// naming it, agenttrust.ErrInvalidPolicy); its IPv4 form loads and
// denies the caller under either spelling.
func TestAttackMappedAddressInPolicy(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	for _, tc := range []struct {
		name, forbid string
		addr         string // a caller the forbid names, as sent
		load         bool   // a control: the policy loads and denies
	}{
		{"range", `context.ip.isInRange(ip("::ffff:a00:0/104"))`, "::ffff:10.1.2.3", false},
		{"every IPv4 address", `context.ip.isInRange(ip("::ffff:0:0/96"))`, "::ffff:10.1.2.3", false},
		{"address", `context.ip == ip("::ffff:c0a8:101")`, "::ffff:192.168.1.1", false},
		{"address as a range", `context.ip.isInRange(ip("::ffff:c0a8:101"))`, "::ffff:192.168.1.1", false},
		{"in a set", `[ip("2001:db8::1"), ip("::ffff:c0a8:101")].contains(context.ip)`, "::ffff:192.168.1.1", false},
		{"range holding the mapped block", `context.ip.isInRange(ip("::ffff:0:0/95"))`, "::ffff:10.1.2.3", false},
		// controls
		{"IPv4 range", `context.ip.isInRange(ip("10.0.0.0/8"))`, "::ffff:10.1.2.3", true},
		{"IPv4 address", `context.ip == ip("192.168.1.1")`, "::ffff:192.168.1.1", true},
		{"IPv6 range", `context.ip.isInRange(ip("2001:db8::/32"))`, "2001:db8::5", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := `@id("net") forbid (principal, action, resource) when { context has ip && ` + tc.forbid + ` };` + permit
			addr := netip.MustParseAddr(tc.addr)
			// The reference: cedar-go, given the address as sent, denies.
			// (It does not for the controls: it would not judge
			// ::ffff:10.1.2.3 as in 10.0.0.0/8, where the engine and
			// the rule engine do.)
			ps, err := cedargo.NewPolicySetFromBytes("", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := cedargo.Authorize(ps, nil, cedargo.Request{Context: cedargo.NewRecord(cedargo.RecordMap{
				"ip": cedargo.IPAddr(netip.PrefixFrom(addr, addr.BitLen()))})})
			if !tc.load && ref != cedargo.Deny {
				t.Fatalf("cedar-go decided %v: the case no longer shows a deny", ref)
			}
			e, err := cedar.Parse("p.cedar", []byte(src))
			if !tc.load {
				var pe *agenttrust.PolicyError
				if err == nil || e != nil || !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "net" || !strings.Contains(err.Error(), "IPv4-mapped") {
					t.Errorf("Parse: %v; want a *agenttrust.PolicyError naming net, saying IPv4-mapped", err)
				}
				if e == nil {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			c, err := agenttrust.New(memory.New(), agenttrust.WithPolicyEngine(e))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, a := range []netip.Addr{addr, addr.Unmap()} {
				d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "db.query", RemoteAddr: a})
				if d.Effect != agenttrust.Deny || d.Rule != "net" {
					t.Errorf("Check from %s: %v by %q (%v); want a deny by net", a, d.Effect, d.Rule, err)
				}
			}
		})
	}
}
