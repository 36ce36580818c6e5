package server

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust/store"
)

// unpin lets every open tenant be evicted: the env opens them through
// Server.Client, which pins them.
func (e *env) unpin() {
	for _, t := range *e.srv.tenants.Load() {
		t.pinned.Store(false)
	}
}

func (e *env) isOpen(name string) bool {
	_, ok := (*e.srv.tenants.Load())[name]
	return ok
}

func TestWithTenantIdleRefusesNonPositive(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := New(newMemoryStore(), WithTenantIdle(d)); err == nil {
			t.Errorf("WithTenantIdle(%v) accepted", d)
		}
	}
}

// An idle tenant is closed, and the next request opens it again with
// its audit chain going on where it stopped.
func TestTenantIdleEviction(t *testing.T) {
	e := newEnv(t, WithTenantIdle(time.Minute))
	e.unpin()
	bot := e.key("acme/bot")
	if d := e.check(bot, map[string]any{"tool_name": "docs.read"}); d["allowed"] != true {
		t.Fatalf("check: %v", d)
	}
	e.clock.Advance(30 * time.Second)
	e.srv.evictIdleOnce()
	if !e.isOpen("acme") {
		t.Fatal("acme closed after 30s, idle time 1m")
	}
	// Its audit records written, as an idle minute on the real clock
	// would see them: a tenant with records queued stays open.
	for _, tn := range *e.srv.tenants.Load() {
		tn.client.SyncAudit(context.Background())
	}
	e.clock.Advance(31 * time.Second)
	e.srv.evictIdleOnce()
	if e.isOpen("acme") || e.isOpen("globex") {
		t.Fatal("idle tenants still open after 61s")
	}
	if got := e.srv.metrics.tenantsClosed.Load(); got < 2 {
		t.Errorf("tenants closed %d, want at least 2", got)
	}
	if d := e.check(bot, map[string]any{"tool_name": "docs.read"}); d["allowed"] != true {
		t.Fatalf("check after reopening: %v", d)
	}
	if !e.isOpen("acme") {
		t.Fatal("acme not open after a request")
	}
	v := e.must(200, "GET", "/v1/audit/verify?chain=n1/acme", e.key("acme/alice"), nil).json(t)
	c := v["chains"].([]any)[0].(map[string]any)
	if v["ok"] != true || c["records"].(float64) < 2 {
		t.Fatalf("acme's chain across the reopening: %v", v)
	}
}

// A tenant held by a request (here an audit stream) or handed out by
// Server.Client stays open however long it is idle.
func TestTenantIdleKeepsHeldAndPinned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, WithTenantIdle(time.Minute), WithAuditPoll(20*time.Millisecond))
		e.unpin()
		s := e.stream(e.key("acme/carol"), "")
		if _, err := e.srv.Client(context.Background(), "globex"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
		e.srv.evictIdleOnce()
		if !e.isOpen("acme") || !e.isOpen("globex") {
			t.Fatalf("acme open %v (streamed), globex open %v (pinned)", e.isOpen("acme"), e.isOpen("globex"))
		}
		if e.isOpen("ops") {
			t.Error("ops, idle and not pinned, is still open")
		}
		e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read", "resource": "while-idle"})
		if got := s.next(t); got["resource"] != "while-idle" {
			t.Fatalf("stream event %v", got)
		}
		s.cancel()
		// Once the stream has ended, acme is idle like any other.
		synctest.Wait() // the stream's handler has returned
		e.clock.Advance(2 * time.Minute)
		e.srv.evictIdleOnce()
		if e.isOpen("acme") {
			t.Error("acme still open after its stream ended")
		}
	})
}

// Checks racing evictions all succeed, and every one is audited exactly
// once in a chain that verifies: a tenant is never open twice at once,
// which would fork its chain.
func TestTenantIdleEvictionRace(t *testing.T) {
	e := newEnv(t, WithTenantIdle(time.Nanosecond))
	e.unpin()
	const workers, each = 4, 50
	bot := e.key("acme/bot")
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := e.do("POST", "/v1/actions/check", bot, map[string]any{"tool_name": "docs.read", "resource": fmt.Sprintf("w%d-%d", w, i)})
				if r.status != 200 || !bytes.Contains(r.body, []byte(`"allowed":true`)) {
					errs <- fmt.Errorf("check: %d %s", r.status, r.body)
				}
			}
		}()
	}
	stop := make(chan struct{})
	evicting := make(chan struct{})
	go func() {
		defer close(evicting)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Just past the idle time. The clock must not race ahead of
			// real time by the audit's stuck bound (5s), or a write in
			// flight would look stuck and checks would deny.
			e.clock.Advance(time.Microsecond)
			e.srv.evictIdleOnce()
		}
	}()
	wg.Wait()
	close(stop)
	<-evicting
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	opened := e.srv.metrics.tenantsOpened.Load()
	t.Logf("acme and the others opened %d times in all, closed idle %d times", opened, e.srv.metrics.tenantsClosed.Load())
	if e.srv.metrics.tenantsClosed.Load() == 0 {
		t.Error("no tenant was ever evicted: the test raced nothing")
	}

	// Every check is in the chain once, and the chain verifies.
	c, err := e.srv.Client(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SyncAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := e.must(200, "GET", "/v1/audit/verify?chain=n1/acme", e.key("acme/alice"), nil).json(t)
	if v["ok"] != true {
		t.Fatalf("acme's chain: %v", v)
	}
	seen := map[string]int{}
	var after uint64
	for {
		recs, err := e.st.QueryAudit(context.Background(), store.AuditQuery{Chain: "n1/acme", Tenant: "acme", AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Tool == "docs.read" {
				seen[r.Resource]++
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			break
		}
	}
	for w := range workers {
		for i := range each {
			if n := seen[fmt.Sprintf("w%d-%d", w, i)]; n != 1 {
				t.Errorf("check w%d-%d audited %d times", w, i, n)
			}
		}
	}
}
