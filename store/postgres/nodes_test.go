package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/faultproxy"
	"github.com/agenttrust/agenttrust/internal/storefaults"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/postgres"
)

// TestNodes runs the two-node suite: two agenttrust nodes sharing one
// PostgreSQL schema in strict mode, in notify mode through LISTEN/NOTIFY
// (Suspend on A to Deny on B under 100 ms at p99), and under faults of the
// link with audit recovery.
func TestNodes(t *testing.T) {
	storefaults.Nodes(t, storefaults.NodesConfig{
		Pair: func(t *testing.T) (store.Store, store.Store) {
			u := testURL(t)
			schema := freshSchema(t, u)
			return open(t, u, schema), open(t, u, schema)
		},
		Faulty: func(t *testing.T, timeout time.Duration) (store.Store, store.Store, *faultproxy.Proxy) {
			raw := testURL(t)
			schema := freshSchema(t, raw)
			pURL, proxy := proxyURL(t, raw)
			return open(t, pURL, schema, postgres.WithQueryTimeout(timeout)), open(t, raw, schema), proxy
		},
		StrictTrials: 10_000,
		NotifyRounds: 1000,
		MaxStaleness: 250 * time.Millisecond,
		NotifyP99:    100 * time.Millisecond,
		Race:         raceEnabled,
		Margin:       faultMargin,
	})
}

// splitStore sends queries to one store and the change feed to another,
// so the feed's connection can be killed alone.
type splitStore struct {
	*postgres.Store
	feed *postgres.Store
}

func (s splitStore) Watch(ctx context.Context, fn func(store.Change)) error {
	return s.feed.Watch(ctx, fn)
}
func (s splitStore) Mark(ctx context.Context, token string) error { return s.feed.Mark(ctx, token) }

func proxyURL(t *testing.T, raw string) (string, *faultproxy.Proxy) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Skipf("need %s as a postgres:// URL with host:port", envURL)
	}
	target := u.Host
	if u.Port() == "" {
		target += ":5432"
	}
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return u.String(), p
}

// TestNotifyFeedKilled: with node B's notification connection cut, no
// revocation is allowed more than MaxStaleness after Revoke returned
// (polling takes over); with all of B's connections cut, B stops allowing
// within MaxStaleness.
func TestNotifyFeedKilled(t *testing.T) {
	raw := testURL(t)
	schema := freshSchema(t, raw)
	feedURL, feedProxy := proxyURL(t, raw)
	queryURL, queryProxy := proxyURL(t, raw)
	const maxStale = 250 * time.Millisecond
	a := storefaults.NodeClient(t, open(t, raw, schema), "node-a")
	bStore := splitStore{
		Store: open(t, queryURL, schema, postgres.WithQueryTimeout(100*time.Millisecond)),
		feed:  open(t, feedURL, schema, postgres.WithQueryTimeout(100*time.Millisecond), postgres.WithHeartbeat(50*time.Millisecond)),
	}
	b := storefaults.NodeClient(t, bStore, "node-b", agenttrust.WithNotify(agenttrust.NotifyConfig{MaxStaleness: maxStale, PollInterval: 50 * time.Millisecond}))
	ctx := context.Background()

	feedProxy.Cut()
	var lat []time.Duration
	for i := range 100 {
		session := fmt.Sprintf("k-%d", i)
		if err := a.Suspend(ctx, session, "test"); err != nil {
			t.Fatal(err)
		}
		done := time.Now()
		for {
			d, _ := b.Check(ctx, storefaults.Work(session))
			if !d.Allowed() {
				break
			}
			if time.Since(done) > maxStale {
				t.Fatalf("revocation %d allowed %v after Revoke returned, past MaxStaleness", i, time.Since(done))
			}
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(done))
	}
	t.Logf("feed cut, polling: Revoke on A -> Deny on B: %s (bound %v)", storefaults.Percentiles(lat), maxStale)

	// Every connection of B gone: within MaxStaleness B allows nothing.
	queryProxy.Cut()
	cut := time.Now()
	var lastAllow time.Duration
	for time.Since(cut) < 2*maxStale {
		if d, _ := b.Check(ctx, storefaults.Work("fresh-session")); d.Allowed() {
			lastAllow = time.Since(cut)
		}
		time.Sleep(time.Millisecond)
	}
	if lastAllow > maxStale {
		t.Fatalf("node B allowed %v after losing the store, past MaxStaleness %v", lastAllow, maxStale)
	}
	d, err := b.Check(ctx, storefaults.Work("fresh-session"))
	if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
		t.Fatalf("cut off node: %v %v", d.Effect, err)
	}
	t.Logf("all connections cut: last Allow %v after the cut, then Deny (%v)", lastAllow, err)

	// Both links back: B recovers by itself.
	queryProxy.Restore()
	feedProxy.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for d, _ := b.Check(ctx, storefaults.Work("fresh-session")); !d.Allowed(); d, _ = b.Check(ctx, storefaults.Work("fresh-session")) {
		if time.Now().After(deadline) {
			t.Fatal("node B did not recover")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
