package server

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store/memory"
)

// TestCloseDrainsTenantsTogether: Close drains every tenant's audit at
// once, so a shutdown on a failing audit store takes one drain bound, not
// one per tenant. Four tenants closed one after another would take four
// bounds; in a synctest bubble the test sees exactly how long it took.
func TestCloseDrainsTenantsTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const drain = time.Second
		down := sinkFunc(func(context.Context, []agenttrust.AuditRecord) error {
			return errors.New("audit store down")
		})
		srv, err := New(memory.New(), WithNodeName("n1"), WithAuditKey(testAuditKey),
			WithClientOptions(agenttrust.WithTokens(agenttrust.TokenConfig{MasterKeys: []agenttrust.SecretKey{testMasterKey}}), agenttrust.WithAudit(agenttrust.AuditConfig{Sinks: []agenttrust.AuditSink{down}, DrainTimeout: drain})))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		tenants := []string{"t1", "t2", "t3", "t4"}
		for _, name := range tenants {
			c, err := srv.Client(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"}); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		err = srv.Close()
		took := time.Since(start)
		var loss *agenttrust.AuditLossError
		if !errors.As(err, &loss) {
			t.Fatalf("Close: %v; want the unwritten records named", err)
		}
		if took < drain || took >= 2*drain {
			t.Fatalf("Close took %s for %d tenants with a %s drain bound; want one bound, the tenants drained together", took, len(tenants), drain)
		}
	})
}
