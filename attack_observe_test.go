package agenttrust_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
)

// TestAttackObserverHostileNames: a check refused for its agent or tool
// name still reaches the Observer (a span of the otel module, where any
// reader of the traces sees it), with the name the caller sent. That
// name is the caller's to choose, up to the server's 1 MiB body: it must
// reach the observer as the audit record keeps it, at most 1 KiB of
// valid UTF-8 without NUL, so that one request can neither put a
// megabyte into every span batch nor, with a byte that is not UTF-8,
// make the OTLP exporter refuse the whole batch it is in (protobuf
// strings must be UTF-8), hiding the other checks' spans.
func TestAttackObserverHostileNames(t *testing.T) {
	big := strings.Repeat("a", 1<<20)
	for _, tc := range []struct {
		name string
		req  agenttrust.Request
	}{
		{"huge tool", agenttrust.Request{AgentID: "billing-bot", Tool: big}},
		{"huge agent", agenttrust.Request{AgentID: big, Tool: "mail.read"}},
		{"huge multibyte tool", agenttrust.Request{AgentID: "billing-bot", Tool: strings.Repeat("é", 1<<19)}},
		{"tool not UTF-8", agenttrust.Request{AgentID: "billing-bot", Tool: "mail.\xff\xferead"}},
		{"agent not UTF-8", agenttrust.Request{AgentID: "billing\xc3-bot", Tool: "mail.read"}},
		{"tool with NUL", agenttrust.Request{AgentID: "billing-bot", Tool: "mail.\x00read"}},
		{"agent with NUL", agenttrust.Request{AgentID: "billing\x00bot", Tool: "mail.read"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			f := newFixture(t, paymentsPolicy, agenttrust.WithObserver(rec))
			d, err := f.c.Check(context.Background(), tc.req)
			if !errors.Is(err, agenttrust.ErrInvalidRequest) || d.Effect != agenttrust.Deny {
				t.Fatalf("check: %v, %v; want a Deny with ErrInvalidRequest", d.Effect, err)
			}
			got := rec.lastCheck(t)
			recs := f.records(t)
			if len(recs) != 1 {
				t.Fatalf("%d audit records", len(recs))
			}
			for _, fl := range []struct{ field, observed, recorded string }{
				{"tool", got.Tool, recs[0].Tool},
				{"agent", got.Agent, recs[0].AgentID},
			} {
				if len(fl.observed) > 1024 || !utf8.ValidString(fl.observed) || strings.IndexByte(fl.observed, 0) >= 0 {
					t.Errorf("observed %s: %d bytes, valid UTF-8 %v, NUL %v; want at most 1024 bytes of UTF-8 without NUL",
						fl.field, len(fl.observed), utf8.ValidString(fl.observed), strings.IndexByte(fl.observed, 0) >= 0)
				}
				if fl.observed != fl.recorded {
					t.Errorf("observed %s %.40q… differs from the audit record's %.40q…", fl.field, fl.observed, fl.recorded)
				}
			}
		})
	}
}
