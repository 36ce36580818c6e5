package storeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
	"github.com/agenttrust/agenttrust/store/storetest"
)

// serve starts a store API server over st and returns its URL.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestConformance runs the store conformance suite on a Client talking to
// a handler over a fresh memory store, Reopen cases included: a new Client
// to the same server sees the same data.
func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) store.Store {
			mem := memory.New()
			t.Cleanup(func() { _ = mem.Close() })
			srv := serve(t, storeapi.NewHandler(mem))
			c := storeapi.NewClient(srv.URL, srv.Client(), nil)
			bases.Store(c, srv.URL)
			return c
		},
		storetest.WithReopen(func(t *testing.T, s store.Store) store.Store {
			c := s.(*storeapi.Client)
			if err := c.Close(); err != nil {
				t.Fatalf("close before reopen: %v", err)
			}
			next := storeapi.NewClient(baseOf(t, c), nil, nil)
			bases.Store(next, baseOf(t, c))
			return next
		}),
	)
}

// bases holds the base URL of each client TestConformance made.
var bases sync.Map

// baseOf returns the base URL c was made with.
func baseOf(t *testing.T, c *storeapi.Client) string {
	t.Helper()
	u, ok := bases.Load(c)
	if !ok {
		t.Fatal("no base URL recorded")
	}
	return u.(string)
}

// TestConformanceMounted runs the suite through a server that mounts the
// handler as the real one does: under /v1/store/, behind a bearer check.
func TestConformanceMounted(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		mem := memory.New()
		t.Cleanup(func() { _ = mem.Close() })
		srv := serve(t, mounted(storeapi.NewHandler(mem)))
		return storeapi.NewClient(srv.URL+"/v1/store/", srv.Client(), func() string { return "Bearer admin" })
	})
}

// mounted serves h at /v1/store/ for callers presenting "Bearer admin",
// with the server's own 401 and 404 answers elsewhere.
func mounted(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/store/", http.StripPrefix("/v1/store", h))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer admin" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad credential"}}`))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func TestUnauthorizedIsUnavailable(t *testing.T) {
	srv := serve(t, mounted(storeapi.NewHandler(memory.New())))
	c := storeapi.NewClient(srv.URL+"/v1/store", nil, func() string { return "Bearer nobody" })
	_, err := c.KeyByHash(t.Context(), [32]byte{1})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("KeyByHash with a refused credential: %v, want ErrUnavailable", err)
	}
	var e *storeapi.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		t.Fatalf("error %v: want an *Error with status 401", err)
	}
	// A route the server does not have answers the router's 404, which is
	// not a store's "not found".
	c = storeapi.NewClient(srv.URL+"/v2/store", nil, func() string { return "Bearer admin" })
	if _, err := c.KeyByHash(t.Context(), [32]byte{1}); !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("KeyByHash on a server without the route: %v, want ErrUnavailable", err)
	}
}

// failing is a store whose every method (of those the tests call) fails
// with err.
type failing struct {
	store.Store
	err error
}

func (f failing) Blocked(context.Context, string, []string) (store.Block, bool, error) {
	return store.Block{}, false, f.err
}
func (f failing) Revoke(context.Context, store.Block) error { return f.err }
func (f failing) Resume(context.Context, string, string) error {
	return f.err
}

func TestErrorMapping(t *testing.T) {
	boom := errors.New("pq: secret detail of the database")
	tests := []struct {
		name     string
		err      error
		want     []error
		notWant  []error
		code     string
		status   int
		withheld bool
	}{
		{"NotFound", store.ErrNotFound, []error{store.ErrNotFound}, []error{store.ErrUnavailable}, "not_found", 404, false},
		{"Conflict", store.ErrConflict, []error{store.ErrConflict}, []error{store.ErrUnavailable}, "conflict", 409, false},
		{"Invalid", store.ErrInvalid, []error{store.ErrInvalid}, []error{store.ErrUnavailable}, "invalid", 400, false},
		{"Unavailable", store.ErrUnavailable, []error{store.ErrUnavailable}, nil, "unavailable", 503, true},
		// The server's store being closed is the server being unavailable,
		// not this client being closed.
		{"Closed", store.ErrClosed, []error{store.ErrUnavailable}, []error{store.ErrClosed}, "closed", 503, true},
		{"Deadline", context.DeadlineExceeded, []error{store.ErrUnavailable, context.DeadlineExceeded}, nil, "deadline_exceeded", 504, true},
		{"WrappedDeadline", errors.Join(store.ErrUnavailable, context.DeadlineExceeded), []error{store.ErrUnavailable, context.DeadlineExceeded}, nil, "deadline_exceeded", 504, true},
		{"Canceled", context.Canceled, []error{store.ErrUnavailable}, []error{context.Canceled}, "canceled", 499, false},
		{"Other", boom, []error{store.ErrUnavailable}, nil, "internal", 500, true},
		// An outage's text may name the database's user, name, host and
		// port: it stays in the server's log.
		{"UnavailableWithDetail", fmt.Errorf("%w: %w", store.ErrUnavailable, boom), []error{store.ErrUnavailable}, nil, "unavailable", 503, true},
		{"DeadlineWithDetail", fmt.Errorf("%w: %w", context.DeadlineExceeded, boom), []error{store.ErrUnavailable, context.DeadlineExceeded}, nil, "deadline_exceeded", 504, true},
		{"ClosedWithDetail", fmt.Errorf("%w: %w", store.ErrClosed, boom), []error{store.ErrUnavailable}, []error{store.ErrClosed}, "closed", 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, storeapi.NewHandler(failing{err: tt.err}))
			c := storeapi.NewClient(srv.URL, nil, nil)
			_, _, err := c.Blocked(t.Context(), "acme", []string{"x"})
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not match %v", err, w)
				}
			}
			for _, w := range tt.notWant {
				if errors.Is(err, w) {
					t.Errorf("error %v matches %v", err, w)
				}
			}
			var e *storeapi.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Status != tt.status || e.Op != "blocked" {
				t.Fatalf("error %#v: want an *Error with code %s, status %d", err, tt.code, tt.status)
			}
			if tt.withheld && strings.Contains(e.Message, "secret detail") || !tt.withheld && e.Message != tt.err.Error() {
				t.Errorf("message %q: withheld = %v", e.Message, tt.withheld)
			}
		})
	}
}

func TestTransportFailureIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(storeapi.NewHandler(memory.New()))
	url := srv.URL
	srv.Close()
	c := storeapi.NewClient(url, nil, nil)
	if err := c.Revoke(t.Context(), store.Block{Tenant: "acme", ID: "x"}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Revoke with the server down: %v, want ErrUnavailable", err)
	}
}

func TestContextEnds(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	c := storeapi.NewClient(srv.URL, nil, nil, storeapi.WithBackoff(storeapi.Backoff{Retries: 3, Base: time.Millisecond}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, _, err := c.Blocked(ctx, "acme", []string{"x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Blocked past its deadline: %v, want DeadlineExceeded", err)
	}

	var calls atomic.Int32
	srv2 := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	c = storeapi.NewClient(srv2.URL, nil, nil)
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if err := c.Revoke(ctx, store.Block{Tenant: "acme", ID: "x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Revoke with a cancelled context: %v, want Canceled", err)
	}
	if calls.Load() != 0 {
		t.Fatalf("a cancelled call reached the server")
	}
}

// rawServer answers every request with status, the API header when api is
// set, and body.
func rawServer(t *testing.T, status int, api bool, body string) *httptest.Server {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if api {
			w.Header().Set(storeapi.APIHeader, storeapi.APIVersion)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		api    bool
		body   string
	}{
		{"NotJSON", 200, true, `<html>hello</html>`},
		{"Empty", 200, true, ``},
		{"UnknownField", 200, true, `{"blocked":false,"extra":1}`},
		{"DuplicateField", 200, true, `{"blocked":false,"blocked":true}`},
		{"CaseMismatch", 200, true, `{"Blocked":false}`},
		{"MissingField", 200, true, `{}`},
		{"Null", 200, true, `{"blocked":null}`},
		{"Trailing", 200, true, `{"blocked":false} {}`},
		{"BlockedWithoutBlock", 200, true, `{"blocked":true}`},
		{"BlockWithoutBlocked", 200, true, `{"blocked":false,"block":{"tenant":"acme","id":"x","kind":"revoked"}}`},
		{"BadKind", 200, true, `{"blocked":true,"block":{"tenant":"acme","id":"x","kind":"gone"}}`},
		{"InvalidUTF8", 200, true, "{\"blocked\":true,\"block\":{\"tenant\":\"acme\",\"id\":\"\xff\",\"kind\":\"revoked\"}}"},
		{"WithoutHeader", 200, false, `{"blocked":false}`},
		{"NotFoundWithoutHeader", 404, false, `{"error":{"code":"not_found","message":"no"}}`},
		{"MalformedError", 404, true, `{"error":"not found"}`},
		{"UnknownCode", 400, true, `{"error":{"code":"teapot","message":"short and stout"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := rawServer(t, tt.status, tt.api, tt.body)
			c := storeapi.NewClient(srv.URL, nil, nil)
			b, blocked, err := c.Blocked(t.Context(), "acme", []string{"x"})
			if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) || blocked || b != (store.Block{}) {
				t.Fatalf("Blocked = %+v, %v, %v; want ErrUnavailable", b, blocked, err)
			}
		})
	}
}

// post sends body to the handler's route and returns the status and code.
func post(t *testing.T, h http.Handler, method, route, contentType, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), method, "/"+route, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get(storeapi.APIHeader) != storeapi.APIVersion {
		t.Errorf("answer without %s", storeapi.APIHeader)
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
			t.Fatalf("error answer %q: %v", w.Body, err)
		}
	}
	return w.Code, eb.Error.Code
}

func TestHandlerStrict(t *testing.T) {
	h := storeapi.NewHandler(memory.New())
	const json = "application/json"
	tests := []struct {
		name, method, route, ctype, body string
		status                           int
		code                             string
	}{
		{"OK", "POST", "blocked", json, `{"tenant":"acme","ids":["x"]}`, 200, ""},
		{"CharsetOK", "POST", "blocked", "application/json; charset=utf-8", `{"tenant":"acme","ids":null}`, 200, ""},
		{"UnknownRoute", "POST", "drop_tables", json, `{}`, 404, "unknown_route"},
		{"NoEngine", "POST", "evaluate", json, `{}`, 404, "unknown_route"},
		{"Get", "GET", "blocked", json, ``, 405, "method_not_allowed"},
		{"NoContentType", "POST", "blocked", "", `{"tenant":"acme","ids":[]}`, 415, "unsupported_media"},
		{"TextPlain", "POST", "blocked", "text/plain", `{"tenant":"acme","ids":[]}`, 415, "unsupported_media"},
		{"Empty", "POST", "blocked", json, ``, 400, "invalid"},
		{"NotObject", "POST", "blocked", json, `[]`, 400, "invalid"},
		{"UnknownField", "POST", "blocked", json, `{"tenant":"acme","ids":[],"all":true}`, 400, "invalid"},
		{"Duplicate", "POST", "blocked", json, `{"tenant":"acme","tenant":"globex","ids":[]}`, 400, "invalid"},
		{"Case", "POST", "blocked", json, `{"Tenant":"acme","ids":[]}`, 400, "invalid"},
		{"MissingTenant", "POST", "blocked", json, `{"ids":["x"]}`, 400, "invalid"},
		{"NullTenant", "POST", "blocked", json, `{"tenant":null,"ids":["x"]}`, 400, "invalid"},
		{"WrongType", "POST", "blocked", json, `{"tenant":1,"ids":["x"]}`, 400, "invalid"},
		{"Trailing", "POST", "blocked", json, `{"tenant":"acme","ids":[]}x`, 400, "invalid"},
		{"InvalidUTF8", "POST", "blocked", json, "{\"tenant\":\"\xff\",\"ids\":[]}", 400, "invalid"},
		{"NestedUnknown", "POST", "revoke", json, `{"block":{"tenant":"acme","id":"x","scope":"all"}}`, 400, "invalid"},
		{"NestedMissing", "POST", "revoke", json, `{"block":{"id":"x"}}`, 400, "invalid"},
		{"BadKind", "POST", "revoke", json, `{"block":{"tenant":"acme","id":"x","kind":"forever"}}`, 400, "invalid"},
		{"BadTime", "POST", "prune_revocations", json, `{"now":"yesterday"}`, 400, "invalid"},
		{"BadHash", "POST", "key_by_hash", json, `{"hash":"abcd"}`, 400, "invalid"},
		{"BothAttributes", "POST", "create_approval", json, `{"approval":{"id":"a","tenant":"t","attributes":{},"attributes_base64":"e30="}}`, 400, "invalid"},
		{"StoreInvalid", "POST", "revoke", json, `{"block":{"tenant":"acme","id":""}}`, 400, "invalid"},
		{"NotFound", "POST", "resume", json, `{"tenant":"acme","id":"x"}`, 404, "not_found"},
		{"MountedPath", "POST", "v1/store/blocks", json, `{"tenant":"acme"}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code := post(t, h, tt.method, tt.route, tt.ctype, tt.body)
			if status != tt.status || code != tt.code {
				t.Errorf("%s %s %s: %d %q, want %d %q", tt.method, tt.route, tt.body, status, code, tt.status, tt.code)
			}
		})
	}
}

// TestExactRoundTrip stores values whose bytes and times a careless wire
// format would change, and reads them back unchanged.
func TestExactRoundTrip(t *testing.T) {
	mem := memory.New()
	srv := serve(t, storeapi.NewHandler(mem))
	c := storeapi.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	zone := time.FixedZone("X", 5*3600+1800)
	t0 := time.Date(2031, 2, 3, 4, 5, 6, 123456789, zone)

	attrs := []string{
		`{"a":1}`,
		`{ "spaced" : true }`,
		`{"html":"<b>&</b>","line":"\u2028"}`,
		`{"dup":1,"dup":2}`,
		`null`,
		"not json at all \x00\xff",
		`{"n":1.50,"big":123456789012345678901234567890}`,
	}
	for i, a := range attrs {
		rec := store.AuditRecord{
			Chain: "c" + string(rune('a'+i)), Seq: 1, ID: store.DecisionID{1, 2, 3, byte(i)}, Time: t0,
			Tenant: "acme", Attributes: json.RawMessage(a), HopIDs: []string{"h1", ""}, Effect: store.NeedsApproval,
			Latency: 1234567 * time.Nanosecond, PrevHash: store.Hash{9}, Hash: store.Hash{0xff, 0x01},
		}
		if err := c.AppendAudit(ctx, []store.AuditRecord{rec}); err != nil {
			t.Fatalf("AppendAudit %q: %v", a, err)
		}
		got, err := c.AuditHead(ctx, rec.Chain)
		if err != nil {
			t.Fatalf("AuditHead: %v", err)
		}
		if string(got.Attributes) != a {
			t.Errorf("attributes %q came back as %q", a, got.Attributes)
		}
		if !got.Time.Equal(t0) || got.Time.Nanosecond() != t0.Nanosecond() {
			t.Errorf("time %v came back as %v", t0, got.Time)
		}
		got.Time, rec.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, rec) {
			t.Errorf("record:\n got %+v\nwant %+v", got, rec)
		}
	}

	k := store.Key{ID: "key_1", Tenant: "acme", Hash: [32]byte{0xde, 0xad, 31: 0xef}, Roles: []string{"admin"}, CreatedAt: t0}
	if err := c.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	got, err := c.KeyByHash(ctx, k.Hash)
	if err != nil || got.Hash != k.Hash || !got.CreatedAt.Equal(t0) {
		t.Fatalf("KeyByHash = %+v, %v", got, err)
	}

	body := []byte("rules:\n  - id: \xff binary\n")
	d, err := c.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "yaml", Body: body, UpdatedAt: t0}, 0)
	if err != nil || string(d.Body) != string(body) || d.Version != 1 {
		t.Fatalf("PutPolicy = %+v, %v", d, err)
	}
}

func TestInvalidUTF8Refused(t *testing.T) {
	var calls atomic.Int32
	mem := memory.New()
	h := storeapi.NewHandler(mem)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	c := storeapi.NewClient(srv.URL, nil, nil)
	err := c.Revoke(t.Context(), store.Block{Tenant: "acme", ID: "agent\xff"})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Revoke of an id that is not UTF-8: %v, want ErrInvalid", err)
	}
	if calls.Load() != 0 {
		t.Fatal("the request was sent")
	}
}

// flaky answers 503 (from the store API) to the first n requests, then
// passes them to h.
func flaky(t *testing.T, n int32, h http.Handler) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.Header().Set(storeapi.APIHeader, storeapi.APIVersion)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"try later"}}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	return srv, &calls
}

func TestRetries(t *testing.T) {
	backoff := storeapi.WithBackoff(storeapi.Backoff{Retries: 2, Base: time.Millisecond, Max: 2 * time.Millisecond})
	t.Run("IdempotentRetried", func(t *testing.T) {
		srv, calls := flaky(t, 2, storeapi.NewHandler(memory.New()))
		c := storeapi.NewClient(srv.URL, nil, nil, backoff)
		if _, _, err := c.Blocked(t.Context(), "acme", []string{"x"}); err != nil {
			t.Fatalf("Blocked: %v", err)
		}
		if err := c.Revoke(t.Context(), store.Block{Tenant: "acme", ID: "x"}); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if n := calls.Load(); n != 4 {
			t.Fatalf("%d requests, want 4", n)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		srv, calls := flaky(t, 10, storeapi.NewHandler(memory.New()))
		c := storeapi.NewClient(srv.URL, nil, nil, backoff)
		if _, _, err := c.Blocked(t.Context(), "acme", []string{"x"}); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Blocked: %v, want ErrUnavailable", err)
		}
		if n := calls.Load(); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("WritesNotRetried", func(t *testing.T) {
		for _, write := range []func(c *storeapi.Client) error{
			func(c *storeapi.Client) error { return c.CreateKey(t.Context(), store.Key{ID: "k", Tenant: "acme"}) },
			func(c *storeapi.Client) error { return c.Resume(t.Context(), "acme", "x") },
			func(c *storeapi.Client) error {
				return c.AppendAudit(t.Context(), []store.AuditRecord{{Chain: "a", Seq: 1}})
			},
			func(c *storeapi.Client) error {
				_, err := c.DecideApproval(t.Context(), "acme", "a", store.ApprovalDecision{Status: store.ApprovalApproved})
				return err
			},
			func(c *storeapi.Client) error {
				_, err := c.ConsumeApproval(t.Context(), "acme", "f", time.Time{})
				return err
			},
		} {
			srv, calls := flaky(t, 1, storeapi.NewHandler(memory.New()))
			c := storeapi.NewClient(srv.URL, nil, nil, backoff)
			if err := write(c); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("write: %v, want ErrUnavailable", err)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
		}
	})
	t.Run("NotFoundNotRetried", func(t *testing.T) {
		srv, calls := flaky(t, 0, storeapi.NewHandler(memory.New()))
		c := storeapi.NewClient(srv.URL, nil, nil, backoff)
		if _, err := c.Key(t.Context(), "acme", "k"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Key: %v, want ErrNotFound", err)
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
}

func TestBackoffDelay(t *testing.T) {
	b := storeapi.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: func() float64 { return 0.5 }}
	want := []time.Duration{7500 * time.Microsecond, 15 * time.Millisecond, 30 * time.Millisecond, 37500 * time.Microsecond, 37500 * time.Microsecond}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
	b.Jitter = func() float64 { return 0 }
	if got := b.Delay(0); got != 5*time.Millisecond {
		t.Errorf("Delay(0) with no jitter = %v, want 5ms", got)
	}
}

func TestEvaluate(t *testing.T) {
	var seen *agenttrust.PolicyInput
	engine := agenttrust.PolicyEngineFunc(func(_ context.Context, in *agenttrust.PolicyInput) (agenttrust.PolicyResult, error) {
		cp := *in
		seen = &cp
		return agenttrust.PolicyResult{Effect: agenttrust.NeedsApproval, Rule: "big", Reason: "amount over 50", Approvers: []string{"ops-*"}}, nil
	})
	srv := serve(t, storeapi.NewEvaluateHandler(engine))
	c := storeapi.NewClient(srv.URL, nil, nil)
	now := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	in := &agenttrust.PolicyInput{
		Tenant: "acme", AgentID: "billing-bot", Tool: "payments.charge", Resource: "cust-42",
		SessionID: "s1", OnBehalfOf: "alice", RemoteAddr: netip.MustParseAddr("10.1.2.3"),
		Attributes: map[string]any{"amount": 75, "currency": "EUR", "exact": uint64(1<<63 + 1)},
		HopIDs:     []string{"hop_1"}, Time: now,
	}
	res, err := c.Evaluate(t.Context(), in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	want := agenttrust.PolicyResult{Effect: agenttrust.NeedsApproval, Rule: "big", Reason: "amount over 50", Approvers: []string{"ops-*"}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if seen.AgentID != "billing-bot" || seen.RemoteAddr != in.RemoteAddr || !seen.Time.Equal(now) || seen.HopIDs[0] != "hop_1" {
		t.Errorf("engine saw %+v", seen)
	}
	if n, ok := seen.Attributes["amount"].(json.Number); !ok || n != "75" {
		t.Errorf("amount arrived as %#v, want json.Number 75", seen.Attributes["amount"])
	}
	if n := seen.Attributes["exact"]; n != json.Number("9223372036854775809") {
		t.Errorf("exact arrived as %#v", n)
	}

	// A value JSON cannot carry fails the call, before sending.
	in.Attributes = map[string]any{"nan": nan()}
	if _, err := c.Evaluate(t.Context(), in); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Evaluate with NaN: %v, want ErrInvalid", err)
	}

	// The store handler does not serve evaluate unless given an engine.
	srv = serve(t, storeapi.NewHandler(memory.New()))
	if _, err := storeapi.NewClient(srv.URL, nil, nil).Evaluate(t.Context(), &agenttrust.PolicyInput{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Evaluate without an engine: %v, want ErrUnavailable", err)
	}
	srv = serve(t, storeapi.NewHandler(memory.New(), storeapi.WithPolicyEngine(engine)))
	if _, err := storeapi.NewClient(srv.URL, nil, nil).Evaluate(t.Context(), &agenttrust.PolicyInput{Tenant: "acme"}); err != nil {
		t.Errorf("Evaluate with WithPolicyEngine: %v", err)
	}
}

func nan() float64 {
	z := 0.0
	return z / z
}

func TestStoredPolicies(t *testing.T) {
	mem := memory.New()
	e, err := storeapi.NewStoredPolicies(mem)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	in := &agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "docs.read", Attributes: map[string]any{"n": json.Number("7")}}
	eval := func(what string, want agenttrust.Effect, rule string) {
		t.Helper()
		res, err := e.Evaluate(ctx, in)
		if err != nil || res.Effect != want || res.Rule != rule {
			t.Fatalf("%s: Evaluate = %+v, %v; want %s by %q", what, res, err, want, rule)
		}
	}
	eval("no policy", agenttrust.Deny, "")
	put := func(body string, version int64) {
		t.Helper()
		if _, err := mem.PutPolicy(ctx, store.PolicyDoc{Tenant: "acme", Format: "json", Body: []byte(body)}, version); err != nil {
			t.Fatal(err)
		}
	}
	put(`{"rules":[{"id":"small","effect":"allow","tools":["docs.*"],"when":["attr.n <= 10"]}]}`, 0)
	eval("version 1", agenttrust.Allow, "small")
	eval("version 1 again", agenttrust.Allow, "small")
	put(`{"rules":[{"id":"tiny","effect":"allow","tools":["docs.*"],"when":["attr.n <= 5"]}]}`, 1)
	eval("version 2", agenttrust.Deny, "")
	in.Tenant = "globex"
	eval("another tenant", agenttrust.Deny, "")
	put(`{"rules":[{"id":"x","effect":"perhaps"}]}`, 2)
	in.Tenant = "acme"
	if _, err := e.Evaluate(ctx, in); err == nil {
		t.Fatal("Evaluate with a broken stored policy succeeded")
	}
	_ = mem.Close()
	if _, err := e.Evaluate(ctx, in); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Evaluate with the store closed: %v", err)
	}
	if _, err := storeapi.NewStoredPolicies(nil); !errors.Is(err, agenttrust.ErrInvalidConfig) {
		t.Fatalf("NewStoredPolicies(nil): %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	type inner struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
	}
	type doc struct {
		X     string         `json:"x"`
		In    inner          `json:"in"`
		List  []inner        `json:"list,omitempty"`
		Attrs map[string]any `json:"attrs,omitempty"`
	}
	tests := []struct {
		name         string
		data         string
		allowUnknown bool
		ok           bool
	}{
		{"OK", `{"x":"1","in":{"a":"2"}}`, false, true},
		{"Unknown", `{"x":"1","in":{"a":"2"},"y":3}`, false, false},
		{"UnknownAllowed", `{"x":"1","in":{"a":"2","z":{"deep":[1,{"X":2}]}},"y":3}`, true, true},
		{"CaseVariantAllowedUnknown", `{"x":"1","in":{"a":"2"},"X":"3"}`, true, false},
		{"Duplicate", `{"x":"1","x":"2","in":{"a":"2"}}`, true, false},
		{"NestedDuplicate", `{"x":"1","in":{"a":"2","a":"3"}}`, false, false},
		{"MissingNested", `{"x":"1","in":{"b":2}}`, false, false},
		{"MissingInList", `{"x":"1","in":{"a":"2"},"list":[{"a":"1"},{"b":1}]}`, false, false},
		{"NullList", `{"x":"1","in":{"a":"2"},"list":null}`, false, true},
		{"NullString", `{"x":null,"in":{"a":"2"}}`, false, false},
		{"NullObject", `{"x":"1","in":null}`, false, false},
		{"AttrsAnything", `{"x":"1","in":{"a":"2"},"attrs":{"A":1,"a":2,"dup":1,"dup":2}}`, false, true},
		{"ObjectForString", `{"x":{},"in":{"a":"2"}}`, false, false},
		{"Trailing", `{"x":"1","in":{"a":"2"}} x`, false, false},
		{"TwoValues", `{"x":"1","in":{"a":"2"}}{}`, false, false},
		{"BadUTF8", "{\"x\":\"\xff\",\"in\":{\"a\":\"2\"}}", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := storeapi.DecodeJSON([]byte(tt.data), &d, tt.allowUnknown)
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeJSON(%s) = %v, want ok %v", tt.data, err, tt.ok)
			}
		})
	}
	var d doc
	if err := storeapi.DecodeJSON([]byte(`{}`), d, false); err == nil {
		t.Fatal("DecodeJSON into a non-pointer succeeded")
	}
}

// The client is a store, not a store.Watcher: notify mode cannot use it.
func TestNotAWatcher(t *testing.T) {
	var st store.Store = storeapi.NewClient("http://127.0.0.1:1", nil, nil)
	if _, ok := st.(store.Watcher); ok {
		t.Fatal("the client claims to be a store.Watcher")
	}
}

// TestTakeRateUnsupported: a served store that holds no cluster-wide
// limits answers a take with unavailable, so a node relying on it denies.
func TestTakeRateUnsupported(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { _ = mem.Close() })
	srv := serve(t, storeapi.NewHandler(struct{ store.Store }{mem}))
	c := storeapi.NewClient(srv.URL, srv.Client(), nil)
	t.Cleanup(func() { _ = c.Close() })
	r := store.RateTake{Tenant: "acme", Limit: "l1", Key: "k", Interval: time.Second, Burst: 1, Now: time.Unix(1e9, 0)}
	if allowed, err := c.TakeRate(t.Context(), r); allowed || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("TakeRate through a store without limits = %v, %v; want false and store.ErrUnavailable", allowed, err)
	}
	if _, err := c.PruneRates(t.Context(), "acme", r.Now); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("PruneRates through a store without limits: %v; want store.ErrUnavailable", err)
	}
}
