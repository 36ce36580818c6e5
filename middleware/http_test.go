package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/store/memory"
)

const httpPolicy = `
rules:
  - id: small-charges
    effect: allow
    agents: [billing-bot]
    tools: [payments.charge]
    resources: ["payment:cust-*"]
    when: ["attr.amount <= 50"]
  - id: big-charges
    effect: needs_approval
    agents: [billing-bot]
    tools: [payments.charge]
    when: ["attr.amount > 50"]
    reason: charges over 50 need a person
  - id: read
    effect: allow
    agents: [billing-bot]
    tools: [payments.read]
`

type httpFixture struct {
	c     *agenttrust.Client
	clock *testkit.Clock
	key   string // billing-bot's API key
	keyID string
	token string // a token exchanged from key
}

func newHTTPFixture(t testing.TB) *httpFixture {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(httpPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock()
	clk.Set(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p), agenttrust.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	key, k, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "billing-bot", Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return &httpFixture{c: c, clock: clk, key: key, keyID: k.ID, token: tok}
}

func paymentRoutes(t testing.TB) func(*http.Request) (string, string, bool) {
	t.Helper()
	action, err := middleware.Routes(
		middleware.Route{Pattern: "POST /v1/payments/{customer}", Tool: "payments.charge", Resource: "payment:{customer}"},
		middleware.Route{Pattern: "GET /v1/payments/{customer}", Tool: "payments.read"},
	)
	if err != nil {
		t.Fatal(err)
	}
	return action
}

// seen is what the protected handler observed.
type seen struct {
	calls    atomic.Int32
	identity agenttrust.Identity
	decision agenttrust.Decision
	cred     string
	body     string
	path     string
}

func (s *seen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.identity, _ = agenttrust.IdentityFrom(r.Context())
		s.decision, _ = middleware.DecisionFrom(r.Context())
		s.cred, _ = agenttrust.CredentialFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		s.body = string(b)
		s.path = r.PathValue("customer")
		io.WriteString(w, "ok")
	})
}

func serveMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/payments/{customer}", h)
	mux.Handle("GET /v1/payments/{customer}", h)
	mux.Handle("GET /healthz", h)
	return mux
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) middleware.ErrorDetail {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	var body middleware.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return body.Error
}

func TestHTTP(t *testing.T) {
	f := newHTTPFixture(t)
	narrow, err := agenttrust.Attenuate(f.token, "resource in payment:cust-1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		method     string
		path       string
		auth       []string // Authorization header values
		body       string
		wantStatus int
		wantCode   string
		wantAuthn  string // WWW-Authenticate
		wantMsg    string // substring of the message
	}{
		{name: "api key allowed", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.key}, body: `{"amount":40}`, wantStatus: 200},
		{name: "token allowed", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token}, body: `{"amount":40}`, wantStatus: 200},
		{name: "lowercase scheme", method: "GET", path: "/v1/payments/cust-1", auth: []string{"bearer " + f.token}, wantStatus: 200},
		{name: "no credential", method: "POST", path: "/v1/payments/cust-1", body: `{"amount":40}`,
			wantStatus: 401, wantCode: middleware.CodeUnauthenticated, wantAuthn: "Bearer"},
		{name: "other scheme", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Basic Zm9vOmJhcg=="},
			wantStatus: 401, wantCode: middleware.CodeUnauthenticated, wantAuthn: "Bearer"},
		{name: "malformed token", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer att_!!!"}, body: `{"amount":40}`,
			wantStatus: 401, wantCode: middleware.CodeInvalidToken, wantAuthn: `Bearer error="invalid_token"`, wantMsg: "malformed"},
		{name: "unknown key", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + otherLast(f.key)}, body: `{"amount":40}`,
			wantStatus: 401, wantCode: middleware.CodeInvalidToken, wantAuthn: `Bearer error="invalid_token"`},
		{name: "two authorization headers", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token, "Bearer " + f.key},
			wantStatus: 400, wantCode: middleware.CodeInvalidRequest, wantAuthn: `Bearer error="invalid_request"`},
		{name: "empty bearer", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer "},
			wantStatus: 400, wantCode: middleware.CodeInvalidRequest, wantAuthn: `Bearer error="invalid_request"`},
		{name: "needs approval", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token}, body: `{"amount":90}`,
			wantStatus: 403, wantCode: middleware.CodeApprovalRequired, wantMsg: "charges over 50 need a person"},
		{name: "denied by policy", method: "POST", path: "/v1/payments/vendor-1", auth: []string{"Bearer " + f.token}, body: `{"amount":40}`,
			wantStatus: 403, wantCode: middleware.CodeDenied, wantMsg: "no rule allows"},
		{name: "caveat excludes", method: "POST", path: "/v1/payments/cust-2", auth: []string{"Bearer " + narrow}, body: `{"amount":40}`,
			wantStatus: 403, wantCode: middleware.CodeInsufficientScope, wantAuthn: `Bearer error="insufficient_scope"`, wantMsg: "resource in payment:cust-1"},
		{name: "caveat holds", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + narrow}, body: `{"amount":40}`, wantStatus: 200},
		{name: "unmapped route", method: "GET", path: "/healthz", auth: []string{"Bearer " + f.token},
			wantStatus: 403, wantCode: middleware.CodeDenied, wantMsg: "no action"},
		{name: "unmapped method", method: "DELETE", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token},
			wantStatus: 403, wantCode: middleware.CodeDenied},
		{name: "body not json", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token}, body: `amount=40`,
			wantStatus: 400, wantCode: middleware.CodeInvalidRequest},
		{name: "body too large", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token}, body: `{"memo":"` + strings.Repeat("x", 1<<10) + `"}`,
			wantStatus: 400, wantCode: middleware.CodeInvalidRequest},
		{name: "invalid attribute name", method: "POST", path: "/v1/payments/cust-1", auth: []string{"Bearer " + f.token}, body: `{"":1}`,
			wantStatus: 400, wantCode: middleware.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			h := middleware.HTTP(f.c, middleware.Options{
				Action:     paymentRoutes(t),
				Attributes: middleware.JSONBodyAttributes(512),
			})(serveMux(s.handler()))
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			r := httptest.NewRequest(tt.method, tt.path, body)
			if body != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuthn {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantAuthn)
			}
			if tt.wantStatus == 200 {
				if s.calls.Load() != 1 {
					t.Fatalf("handler ran %d times", s.calls.Load())
				}
				if s.identity.AgentID != "billing-bot" || !s.decision.Allowed() || s.decision.ID.IsZero() {
					t.Errorf("handler saw identity %+v decision %+v", s.identity, s.decision)
				}
				if want := strings.TrimSpace(tt.auth[0][len("Bearer "):]); s.cred != want {
					t.Errorf("handler saw credential %q", s.cred)
				}
				if s.body != tt.body || s.path != "cust-1" {
					t.Errorf("handler saw body %q path value %q", s.body, s.path)
				}
				return
			}
			if s.calls.Load() != 0 {
				t.Fatal("handler ran for a refused request")
			}
			det := decodeError(t, rec)
			if det.Code != tt.wantCode || !strings.Contains(det.Message, tt.wantMsg) {
				t.Errorf("error %+v, want code %q message containing %q", det, tt.wantCode, tt.wantMsg)
			}
			if (det.Code == middleware.CodeApprovalRequired) != (det.ApprovalID != "") {
				t.Errorf("approval id %q with code %q", det.ApprovalID, det.Code)
			}
			if strings.Contains(rec.Body.String(), f.key) || strings.Contains(rec.Body.String(), f.token) {
				t.Error("response body echoes a credential")
			}
		})
	}
}

func TestHTTPApprovalThenAllowed(t *testing.T) {
	f := newHTTPFixture(t)
	var s seen
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Attributes: middleware.JSONBodyAttributes(512)})(serveMux(s.handler()))
	call := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/v1/payments/cust-7", strings.NewReader(`{"amount":90}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+f.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	rec := call()
	det := decodeError(t, rec)
	if rec.Code != 403 || det.ApprovalID == "" {
		t.Fatalf("first call: %d %+v", rec.Code, det)
	}
	if err := f.c.Approve(context.Background(), det.ApprovalID, "alice", "ok"); err != nil {
		t.Fatal(err)
	}
	if rec := call(); rec.Code != 200 || s.decision.ApprovalID != det.ApprovalID {
		t.Fatalf("approved call: %d %s, decision %+v", rec.Code, rec.Body, s.decision)
	}
	if rec := call(); rec.Code != 403 {
		t.Fatalf("an approval is used once, got %d", rec.Code)
	}
}

func TestHTTPExpiredAndRevoked(t *testing.T) {
	f := newHTTPFixture(t)
	var s seen
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Realm: "payments"})(serveMux(s.handler()))
	call := func(cred string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
		r.Header.Set("Authorization", "Bearer "+cred)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := call(f.token); rec.Code != 200 {
		t.Fatalf("fresh token: %d %s", rec.Code, rec.Body)
	}
	f.clock.Advance(defaultTokenTTL + time.Second)
	rec := call(f.token)
	if det := decodeError(t, rec); rec.Code != 401 || det.Message != agenttrust.ErrExpired.Error() {
		t.Fatalf("expired token: %d %+v", rec.Code, det)
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="payments", error="invalid_token"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
	if rec := call(f.key); rec.Code != 200 {
		t.Fatalf("key: %d %s", rec.Code, rec.Body)
	}
	if err := f.c.Revoke(context.Background(), f.keyID); err != nil {
		t.Fatal(err)
	}
	rec = call(f.key)
	if det := decodeError(t, rec); rec.Code != 401 || det.Code != middleware.CodeInvalidToken || det.Message != agenttrust.ErrRevoked.Error() {
		t.Fatalf("revoked key: %d %+v", rec.Code, det)
	}
	r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="payments"`; rec.Code != 401 || got != want {
		t.Errorf("no credential: %d WWW-Authenticate %q, want %q", rec.Code, got, want)
	}
	if s.calls.Load() != 2 {
		t.Errorf("handler ran %d times, want 2", s.calls.Load())
	}
}

func TestHTTPCheckerFailures(t *testing.T) {
	tests := []struct {
		name       string
		d          agenttrust.Decision
		err        error
		wantStatus int
		wantCode   string
	}{
		{"store down", agenttrust.Decision{Reason: "store unavailable"}, agenttrust.ErrStoreUnavailable, 503, middleware.CodeUnavailable},
		{"audit down", agenttrust.Decision{}, agenttrust.ErrAuditUnavailable, 503, middleware.CodeUnavailable},
		{"closed", agenttrust.Decision{}, agenttrust.ErrClosed, 503, middleware.CodeUnavailable},
		// A buggy checker that allows with an error must not let the
		// request through.
		{"allow with error", agenttrust.Decision{Effect: agenttrust.Allow}, agenttrust.ErrStoreUnavailable, 503, middleware.CodeUnavailable},
		{"policy engine", agenttrust.Decision{Reason: "policy engine failed"}, agenttrust.ErrPolicyEngine, 500, middleware.CodeInternal},
		{"unknown error", agenttrust.Decision{}, errors.New("boom"), 500, middleware.CodeInternal},
		{"ip not allowed", agenttrust.Decision{}, errs.IPNotAllowed, 403, middleware.CodeDenied},
		{"deny without reason", agenttrust.Decision{}, nil, 403, middleware.CodeDenied},
		{"unknown effect", agenttrust.Decision{Effect: 9}, nil, 403, middleware.CodeDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checker := agenttrust.CheckerFunc(func(context.Context, agenttrust.Request) (agenttrust.Decision, error) {
				return tt.d, tt.err
			})
			var s seen
			h := middleware.HTTP(checker, middleware.Options{Action: paymentRoutes(t)})(s.handler())
			r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
			r.Header.Set("Authorization", "Bearer att_x")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tt.wantStatus || s.calls.Load() != 0 {
				t.Fatalf("status %d (want %d), handler ran %d times", rec.Code, tt.wantStatus, s.calls.Load())
			}
			if det := decodeError(t, rec); det.Code != tt.wantCode || det.Message == "" || strings.Contains(det.Message, "boom") {
				t.Errorf("error %+v, want code %q and a sanitized message", det, tt.wantCode)
			}
		})
	}
}

func TestHTTPMisconfigured(t *testing.T) {
	f := newHTTPFixture(t)
	action := paymentRoutes(t)
	tests := []struct {
		name    string
		checker agenttrust.Checker
		opts    middleware.Options
	}{
		{"nil checker", nil, middleware.Options{Action: action}},
		{"nil action", f.c, middleware.Options{}},
		{"bad realm", f.c, middleware.Options{Action: action, Realm: `a"b`}},
		{"bad proxy prefix", f.c, middleware.Options{Action: action, TrustedProxies: []netip.Prefix{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seen
			h := middleware.HTTP(tt.checker, tt.opts)(s.handler())
			r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
			r.Header.Set("Authorization", "Bearer "+f.token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 500 || s.calls.Load() != 0 || decodeError(t, rec).Code != middleware.CodeInternal {
				t.Fatalf("status %d, handler ran %d times", rec.Code, s.calls.Load())
			}
		})
	}
}

// TestHTTPIdentityFromContext: an identity an outer layer put in the
// context fills the session and on-behalf-of, and an agent id that
// disagrees with the credential is refused.
func TestHTTPIdentityFromContext(t *testing.T) {
	f := newHTTPFixture(t)
	var got agenttrust.Request
	checker := agenttrust.CheckerFunc(func(ctx context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		got = req
		return f.c.Check(ctx, req)
	})
	var s seen
	h := middleware.HTTP(checker, middleware.Options{Action: paymentRoutes(t)})(s.handler())
	for _, tc := range []struct {
		agent      string
		wantStatus int
	}{{"", 200}, {"billing-bot", 200}, {"someone-else", 401}} {
		ctx := agenttrust.WithOnBehalfOf(agenttrust.WithAgent(context.Background(), tc.agent, "sess-1"), "alice")
		r := httptest.NewRequestWithContext(ctx, "GET", "/v1/payments/cust-1", nil)
		r.Header.Set("Authorization", "Bearer "+f.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.wantStatus {
			t.Fatalf("agent %q: status %d, want %d: %s", tc.agent, rec.Code, tc.wantStatus, rec.Body)
		}
		if got.SessionID != "sess-1" || got.OnBehalfOf != "alice" || got.Credential != f.token {
			t.Errorf("agent %q: request %+v", tc.agent, got)
		}
		if tc.wantStatus == 200 && s.identity != (agenttrust.Identity{AgentID: "billing-bot", SessionID: "sess-1", OnBehalfOf: "alice"}) {
			t.Errorf("agent %q: handler saw %+v", tc.agent, s.identity)
		}
	}
}

func TestHTTPClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string // "" for the zero address
	}{
		{"peer", nil, "203.0.113.7:5555", nil, "203.0.113.7"},
		{"xff ignored by default", nil, "10.0.0.1:5555", []string{"198.51.100.1"}, "10.0.0.1"},
		{"untrusted peer's xff ignored", proxies, "203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted peer, one hop", proxies, "10.0.0.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"right-most untrusted", proxies, "10.0.0.1:5555", []string{"192.0.2.66, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"spoofed entries left of it", proxies, "10.0.0.1:5555", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"several header lines", proxies, "10.0.0.1:5555", []string{"192.0.2.66", "198.51.100.1, 10.0.0.3"}, "198.51.100.1"},
		{"all trusted: left-most", proxies, "10.0.0.1:5555", []string{"10.0.0.7, 10.0.0.2"}, "10.0.0.7"},
		{"no header", proxies, "10.0.0.1:5555", nil, "10.0.0.1"},
		{"garbage hop", proxies, "10.0.0.1:5555", []string{"198.51.100.1, nonsense"}, ""},
		{"empty hop", proxies, "10.0.0.1:5555", []string{"198.51.100.1,"}, ""},
		{"hop with port", proxies, "10.0.0.1:5555", []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"ipv6", proxies, "[fd00::1]:443", []string{"[2001:db8::1]:1234"}, "2001:db8::1"},
		{"4in6 peer", proxies, "[::ffff:10.0.0.1]:443", []string{"2001:db8::2"}, "2001:db8::2"},
		{"unparsable peer", proxies, "@", []string{"198.51.100.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got netip.Addr
			checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
				got = req.RemoteAddr
				return agenttrust.Decision{Effect: agenttrust.Allow}, nil
			})
			h := middleware.HTTP(checker, middleware.Options{Action: paymentRoutes(t), TrustedProxies: tt.trusted})(http.NotFoundHandler())
			r := httptest.NewRequest("GET", "/v1/payments/c", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("Authorization", "Bearer att_x")
			for _, x := range tt.xff {
				r.Header.Add("X-Forwarded-For", x)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			want := netip.Addr{}
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("client address %v, want %v", got, want)
			}
		})
	}
}

func TestExtractors(t *testing.T) {
	tests := []struct {
		name    string
		ext     middleware.Extractor
		headers [][2]string
		want    string
		wantErr bool
	}{
		{"bearer", middleware.BearerExtractor{}, [][2]string{{"Authorization", "Bearer att_1"}}, "att_1", false},
		{"bearer mixed case, spaces", middleware.BearerExtractor{}, [][2]string{{"Authorization", "BEARER   att_1 "}}, "att_1", false},
		{"bearer absent", middleware.BearerExtractor{}, nil, "", false},
		{"basic ignored", middleware.BearerExtractor{}, [][2]string{{"Authorization", "Basic eA=="}}, "", false},
		{"bearer twice", middleware.BearerExtractor{}, [][2]string{{"Authorization", "Bearer a"}, {"Authorization", "Bearer b"}}, "", true},
		{"header", middleware.HeaderExtractor("X-API-Key"), [][2]string{{"x-api-key", " atk_1 "}}, "atk_1", false},
		{"header absent", middleware.HeaderExtractor("X-API-Key"), nil, "", false},
		{"header twice", middleware.HeaderExtractor("X-API-Key"), [][2]string{{"X-API-Key", "a"}, {"X-API-Key", "b"}}, "", true},
		{"multi: first wins", middleware.MultiExtractor(middleware.BearerExtractor{}, middleware.HeaderExtractor("X-API-Key")),
			[][2]string{{"X-API-Key", "atk_1"}, {"Authorization", "Bearer att_1"}}, "att_1", false},
		{"multi: falls through", middleware.MultiExtractor(middleware.BearerExtractor{}, middleware.HeaderExtractor("X-API-Key")),
			[][2]string{{"X-API-Key", "atk_1"}}, "atk_1", false},
		{"multi: error stops", middleware.MultiExtractor(middleware.BearerExtractor{}, middleware.HeaderExtractor("X-API-Key")),
			[][2]string{{"Authorization", "Bearer"}, {"X-API-Key", "atk_1"}}, "", true},
		{"func", middleware.ExtractorFunc(func(r *http.Request) (string, error) { return r.URL.Query().Get("k"), nil }), nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tt.headers {
				r.Header.Add(h[0], h[1])
			}
			got, err := tt.ext.Extract(r)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Extract = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHTTPHeaderExtractor(t *testing.T) {
	f := newHTTPFixture(t)
	var s seen
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Extractor: middleware.HeaderExtractor("X-API-Key")})(s.handler())
	r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
	r.Header.Set("X-API-Key", f.key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || s.cred != f.key {
		t.Fatalf("status %d, credential %q", rec.Code, s.cred)
	}
}

func TestRoutes(t *testing.T) {
	action, err := middleware.Routes(
		middleware.Route{Pattern: "POST /v1/payments/{id}", Tool: "payments.charge", Resource: "payment:{id}"},
		middleware.Route{Pattern: "POST /v1/payments/{id}/refund", Tool: "payments.refund", Resource: "{id}"},
		middleware.Route{Pattern: "GET /v1/payments/", Tool: "payments.read"},
		middleware.Route{Pattern: "GET /files/{owner}/{path...}", Tool: "files.read", Resource: "file:{owner}:{path}"},
		middleware.Route{Pattern: "GET /static", Tool: "static", Resource: "fixed"},
		middleware.Route{Pattern: "admin.example.com/", Tool: "admin"},
		middleware.Route{Pattern: "GET /{$}", Tool: "home"},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, target      string
		wantTool, wantResrc string
		wantOK              bool
	}{
		{"POST", "/v1/payments/42", "payments.charge", "payment:42", true},
		{"POST", "/v1/payments/a%2Fb", "payments.charge", "payment:a/b", true},
		{"POST", "/v1/payments/42/refund", "payments.refund", "42", true},
		{"GET", "/v1/payments/42/anything", "payments.read", "/v1/payments/42/anything", true},
		{"HEAD", "/v1/payments/", "payments.read", "/v1/payments/", true},
		{"GET", "/files/alice/a/b%20c.txt", "files.read", "file:alice:a/b c.txt", true},
		{"GET", "/static", "static", "fixed", true},
		{"GET", "http://admin.example.com/x", "admin", "/x", true},
		{"GET", "/", "home", "/", true},
		{"PUT", "/v1/payments/42", "", "", false},             // method not allowed
		{"GET", "/nothing", "", "", false},                    // not found
		{"GET", "/v1/payments", "", "", false},                // the mux would redirect
		{"POST", "/v1/payments/../payments/1", "", "", false}, // not clean: redirect
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.target, nil)
		tool, res, ok := action(r)
		if tool != tt.wantTool || res != tt.wantResrc || ok != tt.wantOK {
			t.Errorf("%s %s = %q %q %v, want %q %q %v", tt.method, tt.target, tool, res, ok, tt.wantTool, tt.wantResrc, tt.wantOK)
		}
	}
}

// TestRoutesBehindMux: middleware wrapping a single handler inside a
// ServeMux uses the mux's own match (r.Pattern, r.PathValue).
func TestRoutesBehindMux(t *testing.T) {
	f := newHTTPFixture(t)
	var s seen
	mw := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t), Attributes: middleware.JSONBodyAttributes(512)})
	mux := http.NewServeMux()
	mux.Handle("POST /v1/payments/{customer}", mw(s.handler()))
	r := httptest.NewRequest("POST", "/v1/payments/cust-3", strings.NewReader(`{"amount":10}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+f.token)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, r)
	if rec.Code != 200 || s.path != "cust-3" {
		t.Fatalf("status %d %s, path value %q", rec.Code, rec.Body, s.path)
	}
}

func TestRoutesErrors(t *testing.T) {
	tests := []struct {
		name   string
		routes []middleware.Route
	}{
		{"bad pattern", []middleware.Route{{Pattern: "POST v1", Tool: "t"}}},
		{"empty pattern", []middleware.Route{{Pattern: "", Tool: "t"}}},
		{"conflict", []middleware.Route{{Pattern: "GET /a/{x}", Tool: "t"}, {Pattern: "GET /a/{y}", Tool: "u"}}},
		{"empty tool", []middleware.Route{{Pattern: "GET /a"}}},
		{"unknown wildcard", []middleware.Route{{Pattern: "GET /a/{x}", Tool: "t", Resource: "r:{y}"}}},
		{"unclosed template", []middleware.Route{{Pattern: "GET /a/{x}", Tool: "t", Resource: "r:{x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := middleware.Routes(tt.routes...); !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// TestRoutesCache: requests that differ only in method, host or escaping
// never get each other's remembered route, however often and in whatever
// order they come, and from several goroutines at once.
func TestRoutesCache(t *testing.T) {
	action, err := middleware.Routes(
		middleware.Route{Pattern: "GET /v1/items/{id}", Tool: "items.read", Resource: "item:{id}"},
		middleware.Route{Pattern: "POST /v1/items/{id}", Tool: "items.write", Resource: "item:{id}"},
		middleware.Route{Pattern: "DELETE /v1/items/{id}", Tool: "items.delete", Resource: "item:{id}"},
		middleware.Route{Pattern: "GET api.example.com/v1/items/{id}", Tool: "items.api", Resource: "api:{id}"},
		middleware.Route{Pattern: "GET /v1/items/special", Tool: "items.special"},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, url         string
		wantTool, wantResrc string
		wantOK              bool
	}{
		{"GET", "http://example.com/v1/items/1", "items.read", "item:1", true},
		{"HEAD", "http://example.com/v1/items/1", "items.read", "item:1", true},
		{"POST", "http://example.com/v1/items/1", "items.write", "item:1", true},
		{"DELETE", "http://example.com/v1/items/1", "items.delete", "item:1", true},
		{"PUT", "http://example.com/v1/items/1", "", "", false},
		{"GET", "http://api.example.com/v1/items/1", "items.api", "api:1", true},
		{"GET", "http://api.example.com:8443/v1/items/1", "items.api", "api:1", true},
		{"POST", "http://api.example.com/v1/items/1", "items.write", "item:1", true},
		{"GET", "http://other.example.com/v1/items/1", "items.read", "item:1", true},
		{"GET", "http://example.com/v1/items/2", "items.read", "item:2", true},
		{"GET", "http://example.com/v1/items/special", "items.special", "/v1/items/special", true},
		{"GET", "http://example.com/v1/items/a%2Fb", "items.read", "item:a/b", true},
		{"GET", "http://example.com/v1/items/a/b", "", "", false}, // same Path as a%2Fb, other RawPath
		{"GET", "http://example.com/v1/items/x%79", "items.read", "item:xy", true},
		{"GET", "http://example.com/v1/items/xy", "items.read", "item:xy", true},
		{"POST", "http://example.com/v1/items/../items/1", "", "", false}, // the mux would redirect
	}
	check := func(i int) error {
		tt := tests[i]
		tool, res, ok := action(httptest.NewRequest(tt.method, tt.url, nil))
		if tool != tt.wantTool || res != tt.wantResrc || ok != tt.wantOK {
			return fmt.Errorf("%s %s = %q %q %v, want %q %q %v", tt.method, tt.url, tool, res, ok, tt.wantTool, tt.wantResrc, tt.wantOK)
		}
		return nil
	}
	for round := range 3 {
		for i := range tests {
			if round == 1 {
				i = len(tests) - 1 - i
			}
			if err := check(i); err != nil {
				t.Errorf("round %d: %v", round, err)
			}
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 50 * len(tests) {
				if err := check((n + g*5) % len(tests)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestRoutesCacheBounded: a flood of distinct paths, each mapped to a
// route, leaves the route table holding no more than a bounded amount of
// memory, and the routes still map right afterwards.
func TestRoutesCacheBounded(t *testing.T) {
	action, err := middleware.Routes(middleware.Route{Pattern: "GET /files/{path...}", Tool: "files.read"})
	if err != nil {
		t.Fatal(err)
	}
	const n, pathLen = 40000, 400 // kept, they would take n*pathLen = 16 MB
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := range n {
		p := fmt.Sprintf("/files/%0*d", pathLen-len("/files/"), i)
		r := &http.Request{Method: "GET", Host: "example.com", URL: &url.URL{Path: p}}
		if tool, res, ok := action(r); !ok || tool != "files.read" || res != p {
			t.Fatalf("GET %s = %q %q %v", p, tool, res, ok)
		}
	}
	if grew := int64(heap()) - int64(before); grew > 4<<20 {
		t.Errorf("the route table grew by %d bytes over %d distinct paths", grew, n)
	}
	r := httptest.NewRequest("GET", "/files/a/b", nil)
	if tool, res, ok := action(r); !ok || tool != "files.read" || res != "/files/a/b" {
		t.Errorf("after the flood: GET /files/a/b = %q %q %v", tool, res, ok)
	}
}

// FuzzRoutes checks Routes against a real http.ServeMux with the same
// patterns: the same requests are mapped (served), to the same tool, with
// wildcard values as r.PathValue sees them.
func FuzzRoutes(f *testing.F) {
	routes := []middleware.Route{
		{Pattern: "POST /v1/payments/{id}", Tool: "charge", Resource: "payment:{id}"},
		{Pattern: "POST /v1/payments/{id}/refund", Tool: "refund", Resource: "{id}"},
		{Pattern: "GET /v1/payments/", Tool: "read"},
		{Pattern: "GET /files/{owner}/{path...}", Tool: "files", Resource: "{owner}:{path}"},
		{Pattern: "/a/{x}/b/{y}", Tool: "ab", Resource: "{y}-{x}"},
		{Pattern: "GET /{$}", Tool: "home"},
	}
	action, err := middleware.Routes(routes...)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			res := r.URL.Path
			if rt.Resource != "" {
				res = rt.Resource
				for _, name := range []string{"id", "owner", "path", "x", "y"} {
					res = strings.ReplaceAll(res, "{"+name+"}", r.PathValue(name))
				}
			}
			w.Header().Set("X-Tool", rt.Tool)
			w.Header().Set("X-Resource", res)
		})
	}
	for _, s := range []string{"POST /v1/payments/42", "POST /v1/payments/a%2Fb/refund", "GET /v1/payments/x/y",
		"GET /files/al%20ice/a/b%2F/c", "PUT /a/1/b/2", "GET /", "GET /v1/payments", "GET /a//b", "POST /v1/payments/%zz"} {
		m, p, _ := strings.Cut(s, " ")
		f.Add(m, p)
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if method != "GET" && method != "POST" && method != "PUT" && method != "HEAD" {
			return
		}
		u, err := url.ParseRequestURI(path)
		if err != nil || u.Host != "" || u.Scheme != "" {
			return
		}
		r := &http.Request{Method: method, URL: u, Host: "example.com", Header: http.Header{}}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r.Clone(context.Background()))
		wantTool := rec.Header().Get("X-Tool")
		// Twice: the second answer may come from the route cache.
		for range 2 {
			tool, res, ok := action(r)
			if ok != (wantTool != "") || tool != wantTool || (ok && res != rec.Header().Get("X-Resource")) {
				t.Fatalf("%s %q: Routes %q %q %v; mux %q %q (status %d)", method, path, tool, res, ok, wantTool, rec.Header().Get("X-Resource"), rec.Code)
			}
		}
	})
}

// FuzzClientAddress: the client address is the zero address, the peer
// or one of the X-Forwarded-For hops, never anything else.
func FuzzClientAddress(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1, 10.0.0.2")
	f.Add("[fd00::1]:1", "2001:db8::1,nonsense")
	f.Add("10.0.0.1:1", ",,")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	var got netip.Addr
	checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		got = req.RemoteAddr
		return agenttrust.Decision{}, nil
	})
	action := func(*http.Request) (string, string, bool) { return "t", "", true }
	h := middleware.HTTP(checker, middleware.Options{Action: action, TrustedProxies: trusted})(http.NotFoundHandler())
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "Bearer x")
		r.Header.Set("X-Forwarded-For", xff)
		got = netip.Addr{}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !got.IsValid() {
			return
		}
		candidates := append(strings.Split(xff, ","), remote)
		for _, c := range candidates {
			c = strings.TrimSpace(c)
			if ap, err := netip.ParseAddrPort(c); err == nil && ap.Addr().Unmap() == got {
				return
			}
			if a, err := netip.ParseAddr(c); err == nil && a.Unmap() == got {
				return
			}
		}
		t.Fatalf("peer %q, X-Forwarded-For %q: client address %v comes from nowhere", remote, xff, got)
	})
}

// FuzzPeerAddress: with no trusted proxies the client address is the
// connection's peer exactly as netip parses "addr:port" or "addr", and
// the zero address when neither parses.
func FuzzPeerAddress(f *testing.F) {
	for _, s := range []string{
		"192.0.2.1:1234", "192.0.2.1:0", "192.0.2.1:65535", "192.0.2.1:65536", "192.0.2.1:0000080",
		"192.0.2.1:", "192.0.2.1:+80", "192.0.2.1:8_0", "192.0.2.1:-1", "192.0.2.1", "192.0.2.01:80",
		"1.2.3.4:5:6", ":80", "", "[192.0.2.1]:80", "[::1]:80", "::1", "::ffff:192.0.2.1:80",
		"[::ffff:192.0.2.1]:80", "[fe80::1%eth0]:80", "192.0.2.1%eth0:80",
		"0.0.0.0:1", "255.255.255.255:1", "256.1.1.1:1", "1.2.3:1", "1.2.3.4.5:1", "1..2.3:1", ".1.2.3:1",
		"1.2.3.:1", "00.1.2.3:1", "0.1.2.3:1", "1.2.3.0400:1", "1.2.3.4 :1",
	} {
		f.Add(s)
	}
	var (
		got    netip.Addr
		called bool
	)
	checker := agenttrust.CheckerFunc(func(_ context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
		got, called = req.RemoteAddr, true
		return agenttrust.Decision{}, nil
	})
	action := func(*http.Request) (string, string, bool) { return "t", "", true }
	h := middleware.HTTP(checker, middleware.Options{Action: action})(http.NotFoundHandler())
	f.Fuzz(func(t *testing.T, remote string) {
		var want netip.Addr
		if ap, err := netip.ParseAddrPort(remote); err == nil {
			want = ap.Addr().Unmap()
		} else if a, err := netip.ParseAddr(remote); err == nil {
			want = a.Unmap()
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("Authorization", "Bearer x")
		called = false
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !called {
			t.Fatalf("peer %q: not checked", remote)
		}
		if got != want {
			t.Fatalf("peer %q: client address %v, want %v", remote, got, want)
		}
	})
}

// nopWriter is a ResponseWriter that allocates nothing.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header       { return w.h }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}

// An allowed request costs the middleware two allocations beyond its
// Check: the context carrying the Decision and the request copy that
// carries the context.
func TestHTTPAllowAllocatesTwice(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	f := newHTTPFixture(t)
	var sawDecision bool
	h := middleware.HTTP(f.c, middleware.Options{Action: paymentRoutes(t)})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sawDecision = middleware.DecisionFrom(r.Context())
	}))
	r := httptest.NewRequest("GET", "/v1/payments/cust-1", nil)
	r.Header.Set("Authorization", "Bearer "+f.token)
	w := nopWriter{h: http.Header{}}
	req := agenttrust.Request{Tool: "payments.read", Resource: "/v1/payments/cust-1", Credential: f.token,
		RemoteAddr: netip.MustParseAddr("192.0.2.1")}
	check := testing.AllocsPerRun(200, func() {
		if d, err := f.c.Check(context.Background(), req); !d.Allowed() {
			t.Fatal(d, err)
		}
	})
	behind := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, r) })
	if !sawDecision {
		t.Fatal("handler saw no decision")
	}
	if behind-check != 2 {
		t.Fatalf("middleware allocates %v times beyond its Check (%v), want 2", behind-check, check)
	}
}

// otherLast returns s with its last byte changed: to 'x', or to 'y' when
// it is 'x' already, so the result always differs from s.
func otherLast(s string) string {
	c := byte('x')
	if s[len(s)-1] == c {
		c = 'y'
	}
	return s[:len(s)-1] + string(c)
}

// defaultTokenTTL is the lifetime of a token agenttrust mints unless
// configured otherwise.
const defaultTokenTTL = 5 * time.Minute
