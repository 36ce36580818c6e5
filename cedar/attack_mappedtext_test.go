package cedar_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/cedar"
)

// TestAttackMappedAddressText: a policy may read an address the agent
// sends, ip(context.attr.host), to keep a fetch tool off loopback, the
// private ranges or the metadata service. Cedar's ip() reads the text
// ::ffff:7f00:1 as an IPv6 address, not loopback and in no IPv4 range
// (cedar-go refuses only the dotted ::ffff:127.0.0.1 form), while the
// tool that dials it reaches 127.0.0.1: Go's net, like the kernel's
// dual-stack sockets, treats an IPv4-mapped address as the IPv4 one. So
// the forbid was skipped for the very host it names. When a policy
// calls ip() on anything but a literal, a request holding text that
// ip() reads as an IPv4-mapped address or prefix is now refused.
func TestAttackMappedAddressText(t *testing.T) {
	const permit = "\n@id(\"all\") permit (principal, action, resource);"
	const loopback = `@id("stop") forbid (principal, action, resource) when { ip(context.attr.host).isLoopback() };` + permit
	const private = `@id("stop") forbid (principal, action, resource) when { ip(context.attr.host).isInRange(ip("10.0.0.0/8")) };` + permit
	for _, tc := range []struct {
		name, policy, host, resource string
	}{
		{"loopback", loopback, "::ffff:7f00:1", ""},
		{"private range", private, "::ffff:a00:1", ""},
		{"uncompressed", private, "0:0:0:0:0:ffff:a00:1", ""},
		{"upper case", private, "::FFFF:A00:1", ""},
		{"a prefix", private, "::ffff:a00:0/104", ""},
		{"metadata service", `@id("stop") forbid (principal, action, resource) when { ip(context.attr.host) == ip("169.254.169.254") };` + permit,
			"::ffff:a9fe:a9fe", ""},
		{"needs approval", `@id("stop") @effect("needs_approval") permit (principal, action, resource) when { ip(context.attr.host).isLoopback() };` + permit,
			"::ffff:7f00:1", ""},
		{"resource", `@id("stop") forbid (principal, action, resource) when { ip(context.resource).isLoopback() };` + permit,
			"", "::ffff:7f00:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := cedar.Parse("p.cedar", []byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			in := req("bot", "fetch", "r")
			if tc.resource != "" {
				in.Resource = tc.resource
			} else {
				in.Attributes = map[string]any{"host": tc.host}
			}
			res, err := e.Evaluate(context.Background(), &in)
			var re *cedar.RequestError
			if res.Effect != agenttrust.Deny || !errors.As(err, &re) || !errors.Is(err, agenttrust.ErrInvalidRequest) {
				t.Errorf("Evaluate: %v by %q (%v); want a deny with a *cedar.RequestError", res.Effect, res.Rule, err)
			}
		})
	}
	// What the tool reaches: the IPv4 address the forbid names.
	if a := netip.MustParseAddr("::ffff:7f00:1"); !a.Unmap().IsLoopback() {
		t.Errorf("%v unmaps to %v", a, a.Unmap())
	}
}

// TestMappedAddressTextControls: plain addresses are judged as Cedar
// judges them, and mapped text passes where no policy calls ip() on a
// request value.
func TestMappedAddressTextControls(t *testing.T) {
	e, err := cedar.Parse("p.cedar", []byte(`
@id("stop") forbid (principal, action == Action::"fetch", resource) when { context.attr has host && ip(context.attr.host).isLoopback() };
@id("all") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	literal, err := cedar.Parse("p.cedar", []byte(`
@id("stop") forbid (principal, action, resource) when { context has ip && context.ip.isInRange(ip("10.0.0.0/8")) };
@id("all") permit (principal, action, resource);`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    *cedar.Engine
		host string
		want agenttrust.Effect
	}{
		{"loopback", e, "127.0.0.1", deny},
		{"IPv6 loopback", e, "::1", deny},
		{"public", e, "8.8.8.8", allow},
		{"IPv6", e, "2001:db8::1", allow},
		{"no ip() on request values", literal, "::ffff:7f00:1", allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := req("bot", "fetch", "r", "host", tc.host)
			res, err := tc.e.Evaluate(context.Background(), &in)
			if res.Effect != tc.want || err != nil {
				t.Errorf("Evaluate: %v by %q (%v); want %v", res.Effect, res.Rule, err, tc.want)
			}
		})
	}
}
