package server

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestAttackAuditStreamTenantOracle: a stream's Last-Event-ID may name
// any chain, but what the stream answers must not depend on whether
// another tenant's chain exists: a chain of globex, which acme cannot
// read, is treated as a chain that does not exist, so acme cannot learn
// from its own stream that globex (or a node of it) has an audit trail.
func TestAttackAuditStreamTenantOracle(t *testing.T) {
	e := newEnv(t)
	// globex has an audit chain on node n1; "ghost" has none anywhere.
	e.check(e.key("globex/gadmin"), map[string]any{"agent_id": "gbot", "tool_name": "docs.read", "resource": "g-1"})
	e.sync()

	since := e.clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	for _, tc := range []struct{ name, chain string }{
		{"another tenant's chain", "n1/globex"},
		{"a chain that does not exist", "n1/ghost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pos := "since=" + url.QueryEscape(since) + "&c=" + url.QueryEscape("0:"+tc.chain)
			s := e.streamFrom(e.key("acme/alice"), "", pos)
			defer s.cancel()
			marker := "mark-" + strings.ReplaceAll(tc.chain, "/", "-")
			e.check(e.key("acme/alice"), map[string]any{"agent_id": "bot", "tool_name": "docs.read", "resource": marker})
			for {
				ev := s.nextEvent(t)
				if ev.rec["tenant"] != "acme" {
					t.Fatalf("acme's stream sent a record of %v", ev.rec["tenant"])
				}
				if ev.rec["resource"] != marker {
					continue
				}
				if strings.Contains(ev.id, url.QueryEscape(tc.chain)) {
					t.Errorf("acme's stream position names %q, which acme cannot read: it tells that chain exists (id %s)", tc.chain, ev.id)
				}
				return
			}
		})
	}
}
