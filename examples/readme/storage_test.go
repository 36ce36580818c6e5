package readme_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/sqlite"
)

// The README's storage snippet, on SQLite in a temporary directory.
func TestStorage(t *testing.T) {
	t.Chdir(t.TempDir())
	ctx := context.Background()
	secret := make([]byte, 32)
	rand.Read(secret)

	st, _ := sqlite.Open(ctx, "agenttrust.db")    // one process, one file
	auditKey, _ := agenttrust.NewAuditKey(secret) // 32+ bytes kept out of the database
	client, err := agenttrust.New(st,
		agenttrust.WithAudit(agenttrust.AuditConfig{
			Chain:   "node-1",                                       // one audit chain per node
			Key:     auditKey,                                       // records are MACed under it
			Sinks:   []agenttrust.AuditSink{audit.NewStoreSink(st)}, // records kept in the store
			Durable: true,                                           // answer only once recorded
		}),
		agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: 250 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := client.Check(ctx, agenttrust.Request{AgentID: "a1", Tool: "t"})
	if err != nil || d.Allowed() {
		t.Fatalf("Check with no policy = %v, %v; want a deny", d.Effect, err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := st.QueryAudit(ctx, store.AuditQuery{Chain: "node-1"})
	if err != nil || len(recs) != 1 || agenttrust.VerifyChain(recs, auditKey) != nil {
		t.Fatalf("stored audit: %d records, %v", len(recs), err)
	}
	st.Close()
}
