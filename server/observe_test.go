package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/observe"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	checks []observe.Check
	events []observe.Event
}

func (r *recorder) Check(_ context.Context, c observe.Check) {
	r.mu.Lock()
	r.checks = append(r.checks, c)
	r.mu.Unlock()
}

func (r *recorder) Event(_ context.Context, e observe.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// requests returns the HTTP requests observed for route.
func (r *recorder) requests(route string) []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observe.Event
	for _, e := range r.events {
		if e.Kind == observe.HTTPRequest && e.Route == route {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) kinds(k observe.Kind) (n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// TestObserver: the server tells its observer of every tenant's checks
// and of each request it answers, by route and exact status code.
func TestObserver(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, WithObserver(rec))
	got := e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.read"})
	if got["effect"] != "allow" {
		t.Fatalf("check: %v", got)
	}
	e.do("POST", "/v1/actions/check", e.key("acme/bot"), map[string]any{"tool_name": 7})
	e.do("GET", "/v1/nowhere", "", nil)
	e.do("DELETE", "/v1/actions/check", "", nil)

	rec.mu.Lock()
	var checks []observe.Check
	for _, c := range rec.checks {
		if c.Tenant == "acme" && c.Tool == "docs.read" {
			checks = append(checks, c)
		}
	}
	rec.mu.Unlock()
	if len(checks) != 1 || checks[0].Effect != "allow" || checks[0].Rule != "read" || checks[0].Agent != "bot" {
		t.Errorf("checks observed: %+v", checks)
	}
	reqs := rec.requests("POST /v1/actions/check")
	if len(reqs) != 2 || reqs[0].Status != 200 || reqs[1].Status != 400 || reqs[0].Tenant != "acme" || reqs[0].Duration <= 0 {
		t.Errorf("check requests observed: %+v", reqs)
	}
	unmatched := rec.requests("")
	if len(unmatched) != 2 || unmatched[0].Status != 404 || unmatched[1].Status != 405 {
		t.Errorf("unmatched requests observed: %+v", unmatched)
	}
	if n := rec.kinds(observe.TenantOpened); n < 2 {
		t.Errorf("tenants opened: %d", n)
	}
}

// TestObserverStoreErrors: a request failing for the store is told.
func TestObserverStoreErrors(t *testing.T) {
	rec := &recorder{}
	e, st := outageEnv(t, WithObserver(rec))
	st.down.Store(true)
	e.do("POST", "/v1/actions/check", e.key("acme/bot"), map[string]any{"tool_name": "docs.read"})
	if n := rec.kinds(observe.StoreError); n == 0 {
		t.Error("no store error observed")
	}
}

// TestMetricsHandler: /metrics serves the handler of WithMetricsHandler,
// behind the same authentication as the built-in exposition.
func TestMetricsHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("from_the_handler 1\n"))
	})
	e := newEnv(t, WithMetricsHandler(h), WithMetricsToken(scrapeToken))
	for _, tc := range []struct {
		name, cred string
		status     int
	}{
		{"scrape token", scrapeToken, 200},
		{"system approver", "ops/scraper", 200},
		{"no credential", "", 401},
		{"agent", "acme/bot", 403},
		{"tenant admin", "acme/alice", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := tc.cred
			if k, ok := e.keys[cred]; ok {
				cred = k
			}
			r := e.do("GET", "/metrics", cred, nil)
			if r.status != tc.status {
				t.Fatalf("/metrics: %d %s", r.status, r.body)
			}
			if served := strings.Contains(string(r.body), "from_the_handler"); served != (tc.status == 200) {
				t.Errorf("/metrics body: %s", r.body)
			}
		})
	}
	t.Run("scrape token with the store down", func(t *testing.T) {
		e, st := outageEnv(t, WithMetricsHandler(h), WithMetricsToken(scrapeToken))
		st.down.Store(true)
		if r := e.do("GET", "/metrics", scrapeToken, nil); r.status != 200 || !strings.Contains(string(r.body), "from_the_handler") {
			t.Errorf("/metrics: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/v1/whoami", scrapeToken, nil); r.status != 401 {
			t.Errorf("scrape token elsewhere: %d %s", r.status, r.body)
		}
	})
	for _, o := range []Option{WithMetricsHandler(nil), WithObserver(nil)} {
		if _, err := New(newMemoryStore(), o); !errors.Is(err, agenttrust.ErrInvalidConfig) {
			t.Errorf("nil option accepted: %v", err)
		}
	}
}
