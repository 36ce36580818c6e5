package server

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store/memory"
)

// captureSink keeps the attributes of every record written to it.
type captureSink struct {
	mu    sync.Mutex
	attrs []string
}

func (s *captureSink) Write(_ context.Context, recs []agenttrust.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.attrs = append(s.attrs, string(r.Attributes))
	}
	return nil
}

// TestAttackClientOptionRedactChanged: the attribute names an operator
// gives AuditConfig.Redact never reach the audit trail. Given to the
// server with WithClientOptions(agenttrust.WithAudit(...)), the names
// were read only when a tenant's Client was built, on its first request:
// a caller that reused its slice once the server was built changed which
// attributes a tenant opened later redacts, and the secret went into
// every record of that tenant.
func TestAttackClientOptionRedactChanged(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(names []string)
	}{
		{"the name is overwritten", func(names []string) { names[0] = "nickname" }},
		{"the slice is cleared", func(names []string) { clear(names) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := []string{"ssn"}
			sink := &captureSink{}
			srv, err := New(memory.New(), WithNodeName("n1"), WithClock(newTestClock().Now), WithAuditKey(testAuditKey),
				WithClientOptions(testkit.Keys(), agenttrust.WithAudit(agenttrust.AuditConfig{Redact: names, Sinks: []agenttrust.AuditSink{sink}})))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			tc.change(names)
			c, err := srv.Client(ctx, "acme") // the tenant's first request
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "hr.lookup", Attributes: map[string]any{"ssn": "078-05-1120"}})
			if err != nil || d.Effect != agenttrust.Deny {
				t.Fatalf("check: %v %v", d.Effect, err)
			}
			if err := c.SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for _, a := range sink.attrs {
				if strings.Contains(a, "078-05-1120") {
					t.Errorf("the audit record holds the value of a redacted attribute: %s", a)
				}
			}
		})
	}
}
