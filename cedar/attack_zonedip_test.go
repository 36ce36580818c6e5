package cedar_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackZonedAddressWidensPermit: a link-local address means a host
// only together with its zone: fe80::1%eth0 and fe80::1%wlan0 are two
// machines on two links. The rule engine judges an address with a zone by
// no ip condition (unknown), but the Cedar engine dropped the zone and
// judged fe80::1%wlan0 as fe80::1, so a permit meant for one host or one
// link allowed a caller on any other. The same request through both
// engines must not be an allow in Cedar and a deny in the rule engine:
// Cedar, which has no zones, now refuses the request (ErrInvalidRequest).
func TestAttackZonedAddressWidensPermit(t *testing.T) {
	ce, err := cedar.Parse("zone.cedar", []byte(`
@id("this-host")
permit (principal, action == Action::"ops.restart", resource)
when { context.ip == ip("fe80::1") };

@id("this-link")
permit (principal, action == Action::"ops.status", resource)
when { context.ip.isInRange(ip("fe80::/10")) };
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: this-host
    effect: allow
    tools: [ops.restart]
    when: ['ip = fe80::1']
  - id: this-link
    effect: allow
    tools: [ops.status]
    when: ['ip in fe80::/10']
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	native, err := agenttrust.NewRuleEngine(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		tool, addr string
		allow      bool // both engines' answer
	}{
		{"ops.restart", "fe80::1%wlan0", false},
		{"ops.restart", "fe80::1%eth0", false},
		{"ops.restart", "fe80::1%1", false},
		{"ops.status", "fe80::1%wlan0", false},
		{"ops.status", "fe80::abcd%eth1", false},
		{"ops.status", "fe80::1%0", false},
		// controls
		{"ops.restart", "fe80::1", true},
		{"ops.status", "fe80::2", true},
		{"ops.status", "2001:db8::1", false},
	} {
		in := req("bot", tc.tool, "r")
		in.RemoteAddr = netip.MustParseAddr(tc.addr)
		nr, nerr := native.Evaluate(ctx, &in)
		cr, cerr := ce.Evaluate(ctx, &in)
		if got := nr.Effect == agenttrust.Allow && nerr == nil; got != tc.allow {
			t.Errorf("%s from %s: rule engine %v (%v), want allow=%v", tc.tool, tc.addr, nr.Effect, nerr, tc.allow)
		}
		if got := cr.Effect == agenttrust.Allow && cerr == nil; got != tc.allow {
			t.Errorf("%s from %s: Cedar %v by %q (%v), want allow=%v", tc.tool, tc.addr, cr.Effect, cr.Rule, cerr, tc.allow)
		}
		if in.RemoteAddr.Zone() != "" && !errors.Is(cerr, agenttrust.ErrInvalidRequest) {
			t.Errorf("%s from %s: Cedar error %v, want ErrInvalidRequest", tc.tool, tc.addr, cerr)
		}
	}
}
