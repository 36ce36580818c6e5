package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/memnet"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store"
)

const (
	agentKey   = "atk_agentagentagentagentagentagent000000"
	decisionID = "0190d3c4-5b6a-7c8d-8e9f-a0b1c2d3e4f5"
)

// fake is a stand-in for the server: each test routes requests to its own
// handlers, and the fake records what it was sent.
type fake struct {
	t    *testing.T
	mux  *http.ServeMux
	srv  *httptest.Server
	hc   *http.Client // the in-process network's, or nil for TCP
	hits atomic.Int32

	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method, path, rawPath, query, auth, ctype string
	body                                      []byte
}

func newFake(t *testing.T) *fake { return newFakeOn(t, nil) }

// newBubbleFake is newFake on an in-process network, for tests that run
// in a testing/synctest bubble, so that timeouts and pacing pass on the
// bubble's clock.
func newBubbleFake(t *testing.T) *fake {
	l, err := memnet.Listen("127.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	return newFakeOn(t, l)
}

// newFakeOn serves on l, or on a loopback TCP port when l is nil.
func newFakeOn(t *testing.T, l *memnet.Listener) *fake {
	f := &fake{t: t, mux: http.NewServeMux()}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		f.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		f.mux.ServeHTTP(w, r)
	}))
	if l != nil {
		f.srv.Listener.Close()
		f.srv.Listener = l
	}
	f.srv.Start()
	if l != nil {
		f.hc = f.srv.Client()
		f.hc.Transport.(*http.Transport).DialContext = l.DialContext
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) first() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("the fake got no request")
	}
	return f.reqs[0]
}

func (f *fake) last() seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("the fake got no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// client returns a client of the fake with short timeouts and fast
// retries.
func (f *fake) client(opts ...remote.Option) *remote.Client {
	f.t.Helper()
	base := []remote.Option{remote.WithTimeout(2 * time.Second), remote.WithBackoff(time.Millisecond, 2*time.Millisecond)}
	if f.hc != nil {
		base = append(base, remote.WithHTTPClient(f.hc))
	}
	c, err := remote.New(f.srv.URL, agentKey, append(base, opts...)...)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// answer returns a handler writing status and body as JSON.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func decisionJSON(effect string, allowed bool, extra string) string {
	b, _ := json.Marshal(allowed)
	s := `{"allowed":` + string(b) + `,"effect":"` + effect + `","reason":"because","rule_id":"r1","decision_id":"` + decisionID +
		`","approval_id":"","agent_id":"bot","staleness_ns":0`
	return s + extra + "}"
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, url, key string
		opts           []remote.Option
		ok             bool
	}{
		{"HTTPS", "https://agenttrust.example", agentKey, nil, true},
		{"PathPrefix", "https://gw.example/agenttrust/", agentKey, nil, true},
		{"Loopback", "http://127.0.0.1:8080", agentKey, nil, true},
		{"Localhost", "http://localhost:8080", agentKey, nil, true},
		{"IPv6Loopback", "http://[::1]:8080", agentKey, nil, true},
		{"PlainHTTP", "http://agenttrust.example", agentKey, nil, false},
		{"PlainHTTPAllowed", "http://agenttrust.example", agentKey, []remote.Option{remote.WithInsecureHTTP()}, true},
		{"NoHost", "https://", agentKey, nil, false},
		{"Query", "https://a.example/?x=1", agentKey, nil, false},
		{"UserInfo", "https://u:p@a.example", agentKey, nil, false},
		{"Scheme", "ftp://a.example", agentKey, nil, false},
		{"EmptyKey", "https://a.example", "", nil, false},
		{"KeyWithSpace", "https://a.example", "atk_ x", nil, false},
		{"NilOption", "https://a.example", agentKey, []remote.Option{nil}, false},
		{"ZeroTimeout", "https://a.example", agentKey, []remote.Option{remote.WithTimeout(0)}, false},
		{"NegativeRetries", "https://a.example", agentKey, []remote.Option{remote.WithRetries(-1)}, false},
		{"NilHTTPClient", "https://a.example", agentKey, []remote.Option{remote.WithHTTPClient(nil)}, false},
		{"UserAgentNewline", "https://a.example", agentKey, []remote.Option{remote.WithUserAgent("x\r\nEvil: 1")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := remote.New(tt.url, tt.key, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q) = %v, want ok %v", tt.url, err, tt.ok)
			}
			if err != nil && !errors.Is(err, agenttrust.ErrInvalidConfig) {
				t.Fatalf("error %v does not match ErrInvalidConfig", err)
			}
		})
	}
}

func TestCheckDecisions(t *testing.T) {
	f := newFake(t)
	var body atomic.Value
	f.mux.HandleFunc("POST /v1/actions/check", func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		d := json.NewDecoder(r.Body)
		d.UseNumber()
		if err := d.Decode(&req); err != nil {
			t.Errorf("check body: %v", err)
		}
		body.Store(req)
		switch req["tool_name"] {
		case "docs.read":
			answer(200, decisionJSON("allow", true, ""))(w, r)
		case "payments.charge":
			answer(200, strings.Replace(decisionJSON("needs_approval", false, ""), `"approval_id":""`, `"approval_id":"apr_1"`, 1))(w, r)
		default:
			answer(200, decisionJSON("deny", false, ""))(w, r)
		}
	})
	c := f.client(remote.WithUserAgent("test-agent/1"))
	ctx := t.Context()

	d, err := c.Check(ctx, agenttrust.Request{
		AgentID: "bot", Tool: "docs.read", Resource: "doc/1", SessionID: "s1", OnBehalfOf: "alice",
		Credential: "att_token", Attributes: map[string]any{"size": 3, "tag": "<b>"},
	})
	if err != nil || !d.Allowed() || d.Rule != "r1" || d.Reason != "because" || d.ID.String() != decisionID || d.AgentID != "bot" {
		t.Fatalf("Check docs.read = %+v, %v", d, err)
	}
	got := body.Load().(map[string]any)
	want := map[string]any{
		"agent_id": "bot", "tool_name": "docs.read", "resource": "doc/1", "session_id": "s1", "on_behalf_of": "alice",
		"credential": "att_token", "attributes": map[string]any{"size": json.Number("3"), "tag": "<b>"},
	}
	if js(got) != js(want) {
		t.Errorf("check body = %s, want %s", js(got), js(want))
	}
	last := f.last()
	if last.auth != "Bearer "+agentKey || last.ctype != "application/json" {
		t.Errorf("request headers: auth %q, content type %q", last.auth, last.ctype)
	}

	d, err = c.Check(ctx, agenttrust.Request{Tool: "payments.charge"})
	if err != nil || d.Effect != agenttrust.NeedsApproval || d.ApprovalID != "apr_1" {
		t.Fatalf("Check payments.charge = %+v, %v", d, err)
	}
	d, err = c.Check(ctx, agenttrust.Request{Tool: "docs.delete"})
	if err != nil || d.Effect != agenttrust.Deny {
		t.Fatalf("Check docs.delete = %+v, %v", d, err)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCheckFailsClosed runs Check against servers that are down, slow,
// failing or garbled, and requires a Deny with an error every time.
func TestCheckFailsClosed(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error // the error must match it
	}{
		{"500", answer(500, `{"error":{"code":"internal","message":"internal error"}}`), agenttrust.ErrStoreUnavailable},
		{"503", answer(503, `{"error":{"code":"store_unavailable","message":"down"}}`), agenttrust.ErrStoreUnavailable},
		{"502HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html>Bad Gateway</html>")
		}, agenttrust.ErrStoreUnavailable},
		{"InvalidJSON", answer(200, `{"allowed":true,`), agenttrust.ErrStoreUnavailable},
		{"NotJSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, decisionJSON("allow", true, ""))
		}, agenttrust.ErrStoreUnavailable},
		{"Empty", answer(200, ``), agenttrust.ErrStoreUnavailable},
		{"Array", answer(200, `[true]`), agenttrust.ErrStoreUnavailable},
		{"AllowedButDeny", answer(200, decisionJSON("deny", true, "")), agenttrust.ErrStoreUnavailable},
		{"AllowNotAllowed", answer(200, decisionJSON("allow", false, "")), agenttrust.ErrStoreUnavailable},
		{"AllowWithError", answer(200, decisionJSON("allow", true, `,"error":"store_unavailable"`)), agenttrust.ErrStoreUnavailable},
		{"UnknownEffect", answer(200, decisionJSON("permit", true, "")), agenttrust.ErrStoreUnavailable},
		{"MissingEffect", answer(200, `{"allowed":true,"reason":"","rule_id":"","decision_id":"`+decisionID+`","approval_id":"","agent_id":"","staleness_ns":0}`), agenttrust.ErrStoreUnavailable},
		{"MissingDecisionID", answer(200, `{"allowed":true,"effect":"allow","reason":"","rule_id":"","approval_id":"","agent_id":"","staleness_ns":0}`), agenttrust.ErrStoreUnavailable},
		{"BadDecisionID", answer(200, strings.Replace(decisionJSON("allow", true, ""), decisionID, "nope", 1)), agenttrust.ErrStoreUnavailable},
		{"DuplicateAllowed", answer(200, decisionJSON("deny", false, `,"allowed":true`)), agenttrust.ErrStoreUnavailable},
		{"CaseVariant", answer(200, decisionJSON("deny", false, `,"Allowed":true`)), agenttrust.ErrStoreUnavailable},
		{"NullAllowed", answer(200, strings.Replace(decisionJSON("allow", true, ""), `"allowed":true`, `"allowed":null`, 1)), agenttrust.ErrStoreUnavailable},
		{"StringAllowed", answer(200, strings.Replace(decisionJSON("allow", true, ""), `"allowed":true`, `"allowed":"true"`, 1)), agenttrust.ErrStoreUnavailable},
		{"Trailing", answer(200, decisionJSON("allow", true, "")+`{"allowed":true}`), agenttrust.ErrStoreUnavailable},
		{"NeedsApprovalWithoutID", answer(200, decisionJSON("needs_approval", false, "")), agenttrust.ErrStoreUnavailable},
		{"WrongStatus", answer(201, decisionJSON("allow", true, "")), agenttrust.ErrStoreUnavailable},
		{"Redirect", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotModified)
		}, agenttrust.ErrStoreUnavailable},
		{"CheckError", answer(200, decisionJSON("deny", false, `,"error":"store_unavailable"`)), agenttrust.ErrStoreUnavailable},
		{"CheckErrorUnknownCode", answer(200, decisionJSON("deny", false, `,"error":"gremlins"`)), agenttrust.ErrStoreUnavailable},
		{"CheckErrorRevoked", answer(200, decisionJSON("deny", false, `,"error":"revoked"`)), agenttrust.ErrRevoked},
		{"Unauthorized", answer(401, `{"error":{"code":"revoked","message":"agenttrust: unauthorized: revoked"}}`), agenttrust.ErrRevoked},
		{"Forbidden", answer(403, `{"error":{"code":"forbidden","message":"no"}}`), remote.ErrForbidden},
		{"BadRequest", answer(400, `{"error":{"code":"missing_field","message":"tool_name is required"}}`), agenttrust.ErrInvalidRequest},
		{"Hangup", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}, agenttrust.ErrStoreUnavailable},
		{"CutMidBody", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"allowed\":true,")
			_ = buf.Flush()
			conn.Close()
		}, agenttrust.ErrStoreUnavailable},
		{"Slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, agenttrust.ErrStoreUnavailable},
	}
	allows := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newBubbleFake(t)
				f.mux.HandleFunc("/", tt.handler)
				c := f.client(remote.WithTimeout(100 * time.Millisecond))
				d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				if d.Allowed() {
					allows++
				}
				if err == nil || d.Effect != agenttrust.Deny || d.Allowed() {
					t.Fatalf("Check = %+v, %v; want a Deny with an error", d, err)
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v does not match %v", err, tt.want)
				}
				if d.Reason == "" {
					t.Errorf("a deny without a reason")
				}
				if errors.Is(err, agenttrust.ErrStoreUnavailable) && tt.name != "CheckError" && tt.name != "CheckErrorUnknownCode" && d.Reason != remote.ReasonUnreachable {
					t.Errorf("reason %q, want %q", d.Reason, remote.ReasonUnreachable)
				}
				if strings.Contains(err.Error(), agentKey) {
					t.Errorf("the error shows the credential: %v", err)
				}
			})
		})
	}
	if allows != 0 {
		t.Fatalf("%d allows from broken servers", allows)
	}
}

func TestCheckServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, err := remote.New(url, agentKey, remote.WithRetries(2), remote.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
	if d.Allowed() || d.Reason != remote.ReasonUnreachable || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
		t.Fatalf("Check with the server down = %+v, %v", d, err)
	}
	var e *remote.Error
	if !errors.As(err, &e) || e.Status != 0 {
		t.Fatalf("error %#v: want a *remote.Error without status", err)
	}
}

func TestCheckUnencodable(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/", answer(200, decisionJSON("allow", true, "")))
	c := f.client()
	zero := 0.0
	for name, attrs := range map[string]map[string]any{
		"NaN":     {"x": zero / zero},
		"Channel": {"x": make(chan int)},
		"BadUTF8": {"x": "\xff"},
	} {
		d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t", Attributes: attrs})
		if d.Allowed() || !errors.Is(err, agenttrust.ErrInvalidRequest) {
			t.Errorf("%s: Check = %+v, %v; want a Deny with ErrInvalidRequest", name, d, err)
		}
	}
	if n := f.hits.Load(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCheckContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFake(t)
		f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		c := f.client(remote.WithRetries(3))
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		d, err := c.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "t"})
		if d.Allowed() || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Fatalf("Check past its deadline = %+v, %v", d, err)
		}
		if n := f.hits.Load(); n != 1 {
			t.Errorf("%d attempts, want 1 (the caller's deadline is not retried)", n)
		}
	})
}

func TestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newBubbleFake(t)
		f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		c := f.client(remote.WithTimeout(30*time.Millisecond), remote.WithRetries(2))
		start := time.Now()
		_, err := c.ListKeys(t.Context())
		if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Fatalf("ListKeys on a stuck server: %v", err)
		}
		if n := f.hits.Load(); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
		// Three attempts of 30ms, and two backoffs of at most 1ms and 2ms.
		if el := time.Since(start); el < 90*time.Millisecond || el > 93*time.Millisecond {
			t.Errorf("took %v, want 90-93ms", el)
		}
	})
}

// flaky answers 503 to the first n requests, then with ok.
func flaky(n int32, ok http.HandlerFunc) http.HandlerFunc {
	var calls atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			answer(503, `{"error":{"code":"store_unavailable","message":"busy"}}`)(w, r)
			return
		}
		ok(w, r)
	}
}

func TestRetries(t *testing.T) {
	approval := `{"id":"apr_1","agent_id":"bot","session_id":"","on_behalf_of":"","tool_name":"t","resource":"","attributes":{},"rule_id":"","reason":"","approvers":[],"status":"approved","created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T01:00:00Z","decided_by":"carol","note":""}`
	tests := []struct {
		name     string
		route    string
		ok       http.HandlerFunc
		call     func(c *remote.Client) error
		attempts int32
	}{
		{"Check", "POST /v1/actions/check", answer(200, decisionJSON("allow", true, "")), func(c *remote.Client) error {
			_, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t"})
			return err
		}, 3},
		{"ListKeys", "GET /v1/keys", answer(200, `{"keys":[]}`), func(c *remote.Client) error {
			_, err := c.ListKeys(t.Context())
			return err
		}, 3},
		{"Revoke", "POST /v1/revocations", answer(204, ``), func(c *remote.Client) error {
			return c.Revoke(t.Context(), "bot")
		}, 3},
		{"Suspend", "POST /v1/agents/bot/suspend", answer(204, ``), func(c *remote.Client) error {
			return c.Suspend(t.Context(), "bot", "loop")
		}, 3},
		{"Approval", "GET /v1/approvals/apr_1", answer(200, approval), func(c *remote.Client) error {
			_, err := c.Approval(t.Context(), "apr_1")
			return err
		}, 3},
		// Never repeated: each creates something or moves a state.
		{"CreateKey", "POST /v1/keys", answer(201, `{}`), func(c *remote.Client) error {
			_, _, err := c.CreateKey(t.Context(), agenttrust.KeySpec{AgentID: "bot"})
			return err
		}, 1},
		{"Exchange", "POST /v1/tokens", answer(201, `{}`), func(c *remote.Client) error {
			_, err := c.Exchange(t.Context(), "")
			return err
		}, 1},
		{"Delegate", "POST /v1/tokens/delegate", answer(201, `{}`), func(c *remote.Client) error {
			_, _, err := c.Delegate(t.Context(), "att_x", time.Minute)
			return err
		}, 1},
		{"Approve", "POST /v1/approvals/apr_1/approve", answer(200, approval), func(c *remote.Client) error {
			_, err := c.Approve(t.Context(), "apr_1", "ok")
			return err
		}, 1},
		{"Resume", "POST /v1/agents/bot/resume", answer(204, ``), func(c *remote.Client) error {
			return c.Resume(t.Context(), "bot")
		}, 1},
		{"ApplyPolicy", "PUT /v1/policy", answer(200, `{"version":2}`), func(c *remote.Client) error {
			_, err := c.ApplyPolicy(t.Context(), []byte(`{"rules":[]}`), "json", 1)
			return err
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			f.mux.HandleFunc(tt.route, flaky(2, tt.ok))
			c := f.client(remote.WithRetries(2))
			err := tt.call(c)
			if n := f.hits.Load(); n != tt.attempts {
				t.Fatalf("%d attempts, want %d", n, tt.attempts)
			}
			if tt.attempts == 1 && !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Fatalf("error %v, want ErrStoreUnavailable", err)
			}
			if tt.attempts > 1 && err != nil {
				t.Fatalf("error %v after retries", err)
			}
		})
	}
	t.Run("NotOn500", func(t *testing.T) {
		f := newFake(t)
		f.mux.HandleFunc("/", answer(500, `{"error":{"code":"internal","message":"internal error"}}`))
		if _, err := f.client(remote.WithRetries(3)).ListKeys(t.Context()); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Fatalf("error %v", err)
		}
		if n := f.hits.Load(); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}
	})
	t.Run("TransportErrors", func(t *testing.T) {
		f := newFake(t)
		var calls atomic.Int32
		f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				conn, _, _ := http.NewResponseController(w).Hijack()
				conn.Close()
				return
			}
			answer(200, decisionJSON("deny", false, ""))(w, r)
		})
		d, err := f.client(remote.WithRetries(2)).Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t"})
		if err != nil || d.Effect != agenttrust.Deny {
			t.Fatalf("Check = %+v, %v", d, err)
		}
		if n := f.hits.Load(); n != 3 {
			t.Fatalf("%d attempts, want 3", n)
		}
	})
	t.Run("Default", func(t *testing.T) {
		f := newFake(t)
		f.mux.HandleFunc("/", flaky(1, answer(200, `{"keys":[]}`)))
		if _, err := f.client().ListKeys(t.Context()); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
			t.Fatalf("error %v: the default is no retry", err)
		}
	})
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		status int
		code   string
		want   []error
	}{
		{401, "unauthenticated", []error{agenttrust.ErrUnauthorized}},
		{401, "expired", []error{agenttrust.ErrExpired, agenttrust.ErrUnauthorized}},
		{401, "suspended", []error{agenttrust.ErrSuspended}},
		{401, "store_unavailable", []error{agenttrust.ErrUnauthorized}}, // a code outside its status's class is not believed
		{403, "forbidden", []error{remote.ErrForbidden}},
		{403, "approver_not_allowed", []error{errs.ApproverNotAllowed, remote.ErrForbidden}},
		{404, "not_found", []error{errs.ApprovalNotFound}},
		{409, "approval_resolved", []error{errs.ApprovalResolved}},
		{409, "conflict", []error{remote.ErrConflict}},
		{400, "invalid_id", []error{agenttrust.ErrInvalidRequest}},
		{400, "caveat", []error{agenttrust.ErrCaveat}},
		{400, "invalid_policy", []error{agenttrust.ErrInvalidPolicy}},
		{503, "audit_unavailable", []error{agenttrust.ErrAuditUnavailable}},
		{503, "closed", []error{agenttrust.ErrStoreUnavailable}},
		{500, "internal", []error{agenttrust.ErrStoreUnavailable}},
		{500, "revoked", []error{agenttrust.ErrStoreUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			f := newFake(t)
			f.mux.HandleFunc("/", answer(tt.status, `{"error":{"code":"`+tt.code+`","message":"m"}}`))
			_, err := f.client().Approve(t.Context(), "apr_1", "")
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("%d %s: error %v does not match %v", tt.status, tt.code, err, w)
				}
			}
			var e *remote.Error
			if !errors.As(err, &e) || e.Status != tt.status || e.Code != tt.code || e.Op != "Approve" {
				t.Errorf("error %#v", err)
			}
		})
	}
	// The 404 of an operation that is not about an approval.
	f := newFake(t)
	f.mux.HandleFunc("/", answer(404, `{"error":{"code":"not_found","message":"not suspended"}}`))
	if err := f.client().Resume(t.Context(), "bot"); !errors.Is(err, agenttrust.ErrNotFound) || errors.Is(err, errs.ApprovalNotFound) {
		t.Errorf("Resume: %v, want ErrNotFound", err)
	}
}

func TestWaitApproval(t *testing.T) {
	pending := `{"id":"apr_1","agent_id":"bot","session_id":"","on_behalf_of":"","tool_name":"t","resource":"","attributes":{},"rule_id":"","reason":"","approvers":[],"status":"pending","created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T01:00:00Z","decided_by":"","note":""}`
	approved := strings.Replace(strings.Replace(pending, `"pending"`, `"approved"`, 1), `"decided_by":""`, `"decided_by":"carol"`, 1)
	at := func(s string) func() time.Time {
		tm, _ := time.Parse(time.RFC3339, s)
		return func() time.Time { return tm }
	}
	t.Run("Decided", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newBubbleFake(t)
			var calls atomic.Int32
			f.mux.HandleFunc("GET /v1/approvals/apr_1", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("wait") != "10ms" {
					t.Errorf("wait = %q", r.URL.Query().Get("wait"))
				}
				if calls.Add(1) <= 2 {
					answer(200, pending)(w, r) // a long poll that ended undecided
					return
				}
				answer(200, approved)(w, r)
			})
			start := time.Now()
			a, err := f.client(remote.WithClock(at("2030-01-01T00:10:00Z")), remote.WithLongPoll(10*time.Millisecond)).WaitApproval(t.Context(), "apr_1")
			if err != nil || a.Status != agenttrust.ApprovalApproved || a.DecidedBy != "carol" || a.ID != "apr_1" {
				t.Fatalf("WaitApproval = %+v, %v", a, err)
			}
			// Two polls the server ended at once, each followed by the
			// client's pause to fill the 10ms it asked for.
			if el := time.Since(start); el != 20*time.Millisecond {
				t.Errorf("WaitApproval took %v, want 20ms", el)
			}
		})
	})
	t.Run("Lapsed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newBubbleFake(t)
			f.mux.HandleFunc("GET /v1/approvals/apr_1", answer(200, pending))
			a, err := f.client(remote.WithClock(at("2030-01-01T02:00:00Z"))).WaitApproval(t.Context(), "apr_1")
			if !errors.Is(err, errs.ApprovalResolved) || a.ID != "apr_1" {
				t.Fatalf("WaitApproval of a lapsed approval = %+v, %v", a, err)
			}
		})
	})
	t.Run("Unknown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newBubbleFake(t)
			f.mux.HandleFunc("/", answer(404, `{"error":{"code":"not_found","message":"no"}}`))
			if _, err := f.client().WaitApproval(t.Context(), "apr_9"); !errors.Is(err, errs.ApprovalNotFound) {
				t.Fatalf("WaitApproval of an unknown approval: %v", err)
			}
		})
	})
	t.Run("ContextEnds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newBubbleFake(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			if _, err := f.client().WaitApproval(ctx, "apr_1"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("WaitApproval past its deadline: %v", err)
			}
		})
	})
	t.Run("GarbledStatus", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newBubbleFake(t)
			f.mux.HandleFunc("/", answer(200, strings.Replace(pending, `"pending"`, `"maybe"`, 1)))
			if _, err := f.client().WaitApproval(t.Context(), "apr_1"); !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Fatalf("WaitApproval with a garbled status: %v", err)
			}
		})
	})
}

func TestAdminRequests(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("POST /v1/keys", answer(201, `{"secret":"atk_new","key":{"id":"key_1","tenant":"acme","agent_id":"bot","name":"n","roles":["agent"],"allowed_ips":[],"caveats":[],"created_at":"2030-01-01T00:00:00Z","expires_at":"2031-01-01T00:00:00Z","revoked":false}}`))
	f.mux.HandleFunc("POST /v1/tokens", answer(201, `{"token":"att_tok","format":"jwt","token_id":"tok_1","expires_at":"2030-01-01T00:05:00Z"}`))
	f.mux.HandleFunc("POST /v1/tokens/delegate", answer(201, `{"token":"att_del","hop":{"id":"hop_1","parent":"","token_id":"tok_1","key_id":"key_1","agent_id":"bot","caveats":["tool = x"],"created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T00:01:00Z"}}`))
	f.mux.HandleFunc("GET /v1/audit", answer(200, `{"records":[],"next":{"after_chain":"n1/acme","after_seq":100}}`))
	f.mux.HandleFunc("POST /v1/policy/validate", answer(200, `{"valid":false,"problems":[{"rule":"r1","index":0,"message":"bad glob"},{"rule":"","index":-1,"message":"no rules"}]}`))
	f.mux.HandleFunc("GET /readyz", answer(503, `{"status":"unavailable","store":"ok","audit":"stuck"}`))
	c := f.client()
	ctx := t.Context()

	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	secret, k, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "bot", Name: "n", ExpiresAt: exp.In(time.FixedZone("X", 3600))})
	if err != nil || secret != "atk_new" || k.ID != "key_1" || !k.ExpiresAt.Equal(exp) {
		t.Fatalf("CreateKey = %q, %+v, %v", secret, k, err)
	}
	if b := string(f.last().body); b != `{"agent_id":"bot","name":"n","expires_at":"2031-01-01T00:00:00Z"}` {
		t.Errorf("CreateKey body %s", b)
	}

	tok, err := c.ExchangeJWT(ctx, "atk_other", "https://mcp.example", "tool = x")
	if err != nil || tok != "att_tok" {
		t.Fatalf("ExchangeJWT = %q, %v", tok, err)
	}
	if l := f.last(); l.auth != "Bearer atk_other" || string(l.body) != `{"format":"jwt","audience":"https://mcp.example","caveats":["tool = x"]}` {
		t.Errorf("ExchangeJWT sent %q %s", l.auth, l.body)
	}

	_, hop, err := c.Delegate(ctx, "att_tok", 1500*time.Millisecond, "tool = x")
	if err != nil || hop.ID != "hop_1" || hop.Caveats[0] != "tool = x" {
		t.Fatalf("Delegate = %+v, %v", hop, err)
	}
	if b := string(f.last().body); b != `{"token":"att_tok","ttl_seconds":2,"caveats":["tool = x"]}` {
		t.Errorf("Delegate body %s (ttl rounds up)", b)
	}

	allow := agenttrust.Allow
	recs, next, err := c.QueryAudit(ctx, store.AuditQuery{AgentID: "bot", Effect: &allow, Since: exp, Limit: 100})
	if err != nil || len(recs) != 0 || next == nil || next.AfterChain != "n1/acme" || next.AfterSeq != 100 || next.AgentID != "bot" {
		t.Fatalf("QueryAudit = %v, %+v, %v", recs, next, err)
	}
	if q := f.last().query; q != "agent_id=bot&effect=allow&limit=100&since=2031-01-01T00%3A00%3A00Z" {
		t.Errorf("QueryAudit query %s", q)
	}

	err = c.ValidatePolicy(ctx, []byte("rules: [}"), "yaml")
	var pe *agenttrust.PolicyError
	if !errors.Is(err, agenttrust.ErrInvalidPolicy) || !errors.As(err, &pe) || pe.Rule != "r1" {
		t.Fatalf("ValidatePolicy = %v", err)
	}

	h, err := c.Health(ctx)
	if !errors.Is(err, agenttrust.ErrAuditUnavailable) || h.Audit != "stuck" {
		t.Fatalf("Health = %+v, %v", h, err)
	}

	f2 := newFake(t)
	f2.mux.HandleFunc("/", answer(404, `{"error":{"code":"not_found","message":"no"}}`))
	if _, err := f2.client().Approval(ctx, "apr/../../keys"); !errors.Is(err, errs.ApprovalNotFound) {
		t.Fatalf("Approval of a path-like id: %v", err)
	}
	if p := f2.first().rawPath; p != "/v1/approvals/apr%2F..%2F..%2Fkeys" {
		t.Errorf("the id travelled as %q, not as one escaped segment", p)
	}
}

func TestNoRedirects(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	d, err := f.client().Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t"})
	if d.Allowed() || !errors.Is(err, agenttrust.ErrStoreUnavailable) {
		t.Fatalf("Check answered with a redirect = %+v, %v", d, err)
	}
	if n := f.hits.Load(); n != 1 {
		t.Fatalf("%d requests: the redirect was followed", n)
	}
}

func TestClosed(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/", answer(200, decisionJSON("allow", true, "")))
	c := f.client()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t"})
	if d.Allowed() || !errors.Is(err, agenttrust.ErrClosed) {
		t.Fatalf("Check after Close = %+v, %v", d, err)
	}
	if f.hits.Load() != 0 {
		t.Fatal("a closed client sent a request")
	}
}

func TestCredentialNeverInErrors(t *testing.T) {
	f := newFake(t)
	f.mux.HandleFunc("/", answer(200, decisionJSON("allow", true, "")))
	secret := "att_secret\xffpart"
	d, err := f.client().Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t", Credential: secret})
	if d.Allowed() || err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Check with a credential that is not UTF-8 = %+v, %v", d, err)
	}
	if got := f.client().String(); strings.Contains(got, agentKey) {
		t.Fatalf("String() = %q", got)
	}
}

// Guard's WaitForApproval takes a remote client as it takes a local one.
var _ middleware.ApprovalWaiter = (*remote.Client)(nil)
