package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/store"
)

// headRaceStore calls onHead once, after reading the head of chain: a
// record appended between verify's read of the head and its next query.
type headRaceStore struct {
	store.Store
	chain  string
	once   sync.Once
	onHead func()
}

func (s *headRaceStore) AuditHead(ctx context.Context, chain string) (store.AuditRecord, error) {
	r, err := s.Store.AuditHead(ctx, chain)
	if chain == s.chain {
		s.once.Do(s.onHead)
	}
	return r, err
}

// TestAttackVerifySpinsOnHiddenTail: the last record of a chain is not
// the tenant's (a database writer changed its tenant column, or another
// tenant's writer continued the chain). GET /v1/audit/verify reads the
// tenant's records, then the chain's head, past them; when the chain's
// writer appended a record in between, the records after the tenant's
// last all lay past the head read, and verify queried them again and
// again without end, holding the request and the store busy until the
// client gave up, never reporting the break. It must report the chain
// broken.
func TestAttackVerifySpinsOnHiddenTail(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const chain = "n3/acme"
	write := func(tenant string) {
		c, err := agenttrust.New(e.st, agenttrust.WithTenant(tenant), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: chain, Key: testAuditKey, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(e.st)}}), agenttrust.WithClock(e.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		c.Check(ctx, agenttrust.Request{AgentID: "x", Tool: "docs.read"})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write("acme")   // seq 1
	write("globex") // seq 2: not acme's, the chain's head
	st := &headRaceStore{Store: e.st, chain: chain, onHead: func() { write("acme") }}
	srv, err := New(st, WithNodeName("n9"), WithSystemTenant("ops"), WithClock(e.clock.Now), WithAuditKey(testAuditKey), WithClientOptions(testkit.Keys()))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })

	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", ts.URL+"/v1/audit/verify?chain="+chain, nil)
	req.Header.Set("Authorization", "Bearer "+e.key("acme/alice"))
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("verify did not answer: %v", err)
	}
	defer res.Body.Close()
	v := resp{status: res.StatusCode}
	v.body, _ = io.ReadAll(res.Body)
	if res.StatusCode != 200 || v.json(t)["ok"] != false {
		t.Fatalf("verify: %d %s, want 200 and ok false", res.StatusCode, v.body)
	}
}
