package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const validTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// seqReader is a random source that yields 0, 1, 2, ...
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// TestRequestID: every answer, whatever its status, carries an
// X-Request-Id: the caller's when it is acceptable, else the trace id of
// its traceparent, else a made one; a hostile id is never echoed.
func TestRequestID(t *testing.T) {
	e := newEnv(t, WithRandom(&seqReader{}))
	admin := e.key("acme/alice")
	made := func(id string) bool {
		// The made ids' random half comes from WithRandom: bytes 0-7.
		return len(id) == 32 && strings.HasPrefix(id, "0001020304050607") && lowerHex(id)
	}
	check := `{"agent_id":"bot","tool_name":"docs.read"}`
	long := strings.Repeat("a", maxRequestIDLen+1)
	for _, tc := range []struct {
		name         string
		method, path string
		cred, body   string
		hdr          map[string][]string
		status       int
		want         string // "" means a made id
	}{
		{name: "made", method: "POST", path: "/v1/actions/check", cred: admin, body: check, status: 200},
		{name: "caller's", method: "POST", path: "/v1/actions/check", cred: admin, body: check, status: 200,
			hdr: map[string][]string{"X-Request-Id": {"req-42.a:b/c+d=e@f_g"}}, want: "req-42.a:b/c+d=e@f_g"},
		{name: "traceparent", method: "POST", path: "/v1/actions/check", cred: admin, body: check, status: 200,
			hdr: map[string][]string{"Traceparent": {validTraceparent}}, want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "X-Request-Id wins over traceparent", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"mine"}, "Traceparent": {validTraceparent}}, want: "mine"},
		{name: "unauthenticated", method: "GET", path: "/v1/keys", status: 401,
			hdr: map[string][]string{"X-Request-Id": {"r401"}}, want: "r401"},
		{name: "bad credential", method: "GET", path: "/v1/keys", cred: "atk_nonsense", status: 401},
		{name: "not found", method: "GET", path: "/v1/nothing", status: 404,
			hdr: map[string][]string{"X-Request-Id": {"r404"}}, want: "r404"},
		{name: "method not allowed", method: "DELETE", path: "/v1/keys", status: 405},
		{name: "bad request", method: "POST", path: "/v1/actions/check", cred: admin, body: `{"tool_name":1}`, status: 400},
		{name: "too long", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {long}}},
		{name: "newline", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"a\nlevel=ERROR msg=forged"}}},
		{name: "space", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"a b"}}},
		{name: "quote", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {`a"b`}}},
		{name: "non-ASCII", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"ré"}}},
		{name: "empty", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {""}}},
		{name: "repeated", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"a", "b"}}},
		{name: "refused id falls back on traceparent", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"X-Request-Id": {"a b"}, "Traceparent": {validTraceparent}}, want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "uppercase traceparent", method: "GET", path: "/healthz", status: 200,
			hdr: map[string][]string{"Traceparent": {strings.ToUpper(validTraceparent)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var r *http.Request
			if body != nil {
				r = httptest.NewRequest(tc.method, tc.path, body)
				r.Header.Set("Content-Type", "application/json")
			} else {
				r = httptest.NewRequest(tc.method, tc.path, nil)
			}
			if tc.cred != "" {
				r.Header.Set("Authorization", "Bearer "+tc.cred)
			}
			for k, v := range tc.hdr {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			got := w.Header().Values(RequestIDHeader)
			if len(got) != 1 {
				t.Fatalf("X-Request-Id %q, want one value", got)
			}
			if tc.want == "" && !made(got[0]) {
				t.Errorf("X-Request-Id %q, want a made id", got[0])
			}
			if tc.want != "" && got[0] != tc.want {
				t.Errorf("X-Request-Id %q, want %q", got[0], tc.want)
			}
		})
	}
}

// TestRequestIDsDiffer: made ids are unique.
func TestRequestIDsDiffer(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 50 {
		r := e.do("GET", "/healthz", "", nil)
		id := r.header.Get(RequestIDHeader)
		if len(id) != 32 || seen[id] {
			t.Fatalf("request id %q: not 32 characters or repeated", id)
		}
		seen[id] = true
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b.b.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestAccessLog: one line per request with the route pattern (not the
// path), status, tenant, request id and a check's decision id; never a
// credential.
func TestAccessLog(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, WithAccessLog(slog.New(slog.NewJSONHandler(&buf, nil))))
	admin := e.key("acme/alice")

	ck := e.do("POST", "/v1/actions/check", admin, map[string]any{"agent_id": "bot", "tool_name": "docs.read"}, "X-Request-Id", "req-check")
	decision := ck.json(t)["decision_id"].(string)
	e.do("POST", "/v1/keys/key_sensitive-looking-id/revoke", "atk_bogus", nil, "X-Request-Id", "req-401")
	e.do("GET", "/v1/no/such/"+admin, "", nil, "X-Request-Id", "req-404")
	e.do("GET", "/healthz", "", nil, "X-Request-Id", "bad id")

	// A line is written once its answer has left: wait for the last.
	lines := buf.lines(t)
	for deadline := time.Now().Add(5 * time.Second); len(lines) < 4 && time.Now().Before(deadline); lines = buf.lines(t) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(lines) != 4 {
		t.Fatalf("%d access log lines, want 4:\n%s", len(lines), buf.String())
	}
	for _, tc := range []struct {
		route, reqID, tenant, decision string
		status                         float64
	}{
		{"POST /v1/actions/check", "req-check", "acme", decision, 200},
		{"POST /v1/keys/{id}/revoke", "req-401", "", "", 401},
		{"unmatched", "req-404", "", "", 404},
		{"GET /healthz", "", "", "", 200},
	} {
		l := lines[0]
		lines = lines[1:]
		if l["msg"] != "agenttrust/server: request" || l["route"] != tc.route || l["status"] != tc.status {
			t.Errorf("line %v: want route %q, status %v", l, tc.route, tc.status)
		}
		if tc.reqID != "" && l["request_id"] != tc.reqID {
			t.Errorf("line %v: request_id, want %q", l, tc.reqID)
		}
		if tc.reqID == "" && (l["request_id_replaced"] != true || len(l["request_id"].(string)) != 32) {
			t.Errorf("line %v: want a made request id, marked as replacing the caller's", l)
		}
		if got, _ := l["tenant"].(string); got != tc.tenant {
			t.Errorf("line %v: tenant %q, want %q", l, got, tc.tenant)
		}
		if got, _ := l["decision_id"].(string); got != tc.decision {
			t.Errorf("line %v: decision_id %q, want %q", l, got, tc.decision)
		}
		if _, ok := l["latency"]; !ok {
			t.Errorf("line %v: no latency", l)
		}
	}
	out := buf.String()
	for _, secret := range []string{admin, "atk_bogus", "Bearer", "key_sensitive", "bad id"} {
		if strings.Contains(out, secret) {
			t.Errorf("access log holds %q:\n%s", secret, out)
		}
	}
}

// TestErrorLogRequestID: the log line of a failed request names its
// request id.
func TestErrorLogRequestID(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, WithLogger(slog.New(slog.NewJSONHandler(&buf, nil))))
	e.st.Close() // every store call now fails: a 503
	r := e.do("GET", "/v1/keys", e.key("acme/alice"), nil, "X-Request-Id", "req-503")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.status, r.body)
	}
	found := false
	for _, l := range buf.lines(t) {
		if l["level"] == "ERROR" && l["request_id"] == "req-503" {
			found = true
		}
	}
	if !found {
		t.Errorf("no error log line names request req-503:\n%s", buf.String())
	}
}

func TestTraceID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{validTraceparent, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", ""}, // version 00 has no more fields
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", ""},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", ""},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", ""},
		{"", ""},
	} {
		if got := traceID(tc.in); got != tc.want {
			t.Errorf("traceID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRequestIDHeaders: whatever the headers, the id echoed is a safe
// one, and the caller's own only when it is valid.
func FuzzRequestIDHeaders(f *testing.F) {
	f.Add("req-1", validTraceparent)
	f.Add("a\nb", "00-")
	f.Add(strings.Repeat("x", 200), strings.ToUpper(validTraceparent))
	f.Add("", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more")
	f.Fuzz(func(t *testing.T, rid, tp string) {
		if tid := traceID(tp); tid != "" && (len(tid) != 32 || !lowerHex(tid) || !strings.Contains(tp, tid)) {
			t.Fatalf("traceID(%q) = %q", tp, tid)
		}
		if validRequestID(rid) {
			for _, r := range rid {
				if r > 0x7e || r <= ' ' || r == '"' || r == '\\' {
					t.Fatalf("validRequestID accepts %q", rid)
				}
			}
		}
	})
}

// TestRequestIDInAudit: a check's audit record names the request that
// made it, the caller's X-Request-Id or the id the server made, and the
// chain verifies with it.
func TestRequestIDInAudit(t *testing.T) {
	e := newEnv(t)
	admin := e.key("acme/alice")
	check := `{"agent_id":"bot","tool_name":"docs.read"}`
	record := func(decisionID string) map[string]any {
		t.Helper()
		e.sync()
		recs := e.must(200, "GET", "/v1/audit?decision_id="+decisionID, admin, nil).json(t)["records"].([]any)
		if len(recs) != 1 {
			t.Fatalf("%d records of decision %s, want 1", len(recs), decisionID)
		}
		return recs[0].(map[string]any)
	}

	r := e.do("POST", "/v1/actions/check", admin, check, RequestIDHeader, "abc-123")
	if r.status != 200 || r.header.Get(RequestIDHeader) != "abc-123" {
		t.Fatalf("check: %d, X-Request-Id %q: %s", r.status, r.header.Get(RequestIDHeader), r.body)
	}
	if got := record(r.json(t)["decision_id"].(string))["request_id"]; got != "abc-123" {
		t.Errorf("record of the check with X-Request-Id: request_id %v, want abc-123", got)
	}

	r = e.do("POST", "/v1/actions/check", admin, check)
	made := r.header.Get(RequestIDHeader)
	if r.status != 200 || len(made) != 32 {
		t.Fatalf("check: %d, X-Request-Id %q: %s", r.status, made, r.body)
	}
	if got := record(r.json(t)["decision_id"].(string))["request_id"]; got != made {
		t.Errorf("record of the check without X-Request-Id: request_id %v, want the made id %s", got, made)
	}

	if v := e.must(200, "GET", "/v1/audit/verify", admin, nil).json(t); v["ok"] != true {
		t.Errorf("verify of a chain with request ids: %v", v)
	}
}
