package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/store"
)

// pendingApproval makes agent bot of acme ask for something that needs
// approval and returns the approval id.
func (e *env) pendingApproval(cred string, amount int) string {
	e.t.Helper()
	d := e.check(cred, map[string]any{"tool_name": "payments.charge", "resource": "cust-1", "attributes": map[string]any{"amount": amount}})
	if d["effect"] != "needs_approval" {
		e.t.Fatalf("check: %v", d)
	}
	return d["approval_id"].(string)
}

// Tenants are isolated: globex's credentials read and change nothing of
// acme's, whatever the route.
func TestCrossTenantIsolation(t *testing.T) {
	e := newEnv(t)
	bot, alice := e.key("acme/bot"), e.key("acme/alice")
	gadmin, gbot := e.key("globex/gadmin"), e.key("globex/gbot")

	apr := e.pendingApproval(bot, 90)
	botTok := e.exchange(bot)
	e.check(bot, map[string]any{"tool_name": "docs.read"})
	e.sync()
	acmeKeyID := e.ids["acme/bot"]

	// Reads.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/approvals/" + apr},
		{"GET", "/v1/approvals/" + apr + "?wait=1s"},
	} {
		if r := e.do(tc.method, tc.path, gadmin, nil); r.status != 404 {
			t.Errorf("%s %s as globex: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	if as := e.must(200, "GET", "/v1/approvals", gadmin, nil).json(t)["approvals"].([]any); len(as) != 0 {
		t.Errorf("globex lists acme's approvals: %v", as)
	}
	if as := e.must(200, "GET", "/v1/approvals?agent_id=bot", gadmin, nil).json(t)["approvals"].([]any); len(as) != 0 {
		t.Errorf("globex lists acme's approvals by agent: %v", as)
	}
	for _, k := range e.must(200, "GET", "/v1/keys", gadmin, nil).json(t)["keys"].([]any) {
		if k.(map[string]any)["tenant"] != "globex" {
			t.Errorf("globex lists key %v", k)
		}
	}
	for _, path := range []string{"/v1/audit", "/v1/audit?chain=n1/acme", "/v1/audit?after_chain=n1/acme&after_seq=0", "/v1/audit?agent_id=bot"} {
		for _, rec := range e.must(200, "GET", path, gadmin, nil).json(t)["records"].([]any) {
			if rec.(map[string]any)["tenant"] != "globex" {
				t.Errorf("GET %s as globex returns %v", path, rec)
			}
		}
	}
	// acme's chain is to globex a chain it has no record of: nothing
	// verified, as for a chain that does not exist.
	v := e.must(200, "GET", "/v1/audit/verify?chain=n1/acme", gadmin, nil).json(t)
	if cs := v["chains"].([]any); v["ok"] != false || len(cs) != 1 || cs[0].(map[string]any)["records"] != float64(0) {
		t.Errorf("globex verifies acme's chain: %v", v)
	}
	if r := e.do("POST", "/v1/tokens/inspect", gadmin, map[string]any{"token": botTok}); r.status != 404 {
		t.Errorf("globex inspects acme's token: %d %s", r.status, r.body)
	}
	if p := e.must(200, "GET", "/v1/policy", gadmin, nil).json(t); p["version"] != float64(1) {
		t.Errorf("policy: %v", p)
	}

	// Writes.
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/approvals/" + apr + "/approve", nil},
		{"POST", "/v1/approvals/" + apr + "/deny", nil},
		{"POST", "/v1/keys/" + acmeKeyID + "/revoke", nil},
		{"POST", "/v1/agents/bot/resume", nil},
		{"POST", "/v1/tokens/delegate", map[string]any{"token": botTok}},
	} {
		if r := e.do(tc.method, tc.path, gadmin, tc.body); r.status != 404 {
			t.Errorf("%s %s as globex: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	// Revoking or suspending "bot" in globex blocks globex's bot only.
	e.must(204, "POST", "/v1/revocations", gadmin, map[string]any{"id": acmeKeyID})
	e.must(204, "POST", "/v1/agents/bot/suspend", gadmin, nil)
	if got := e.check(bot, map[string]any{"tool_name": "docs.read"}); got["effect"] != "allow" {
		t.Errorf("acme's bot after globex blocks: %v", got)
	}
	// Acme's credentials checked in globex deny: a key of another tenant
	// is unknown there, a token's signature proves nothing there.
	for _, cred := range []string{bot, botTok} {
		got := e.check(gadmin, map[string]any{"tool_name": "docs.read", "credential": cred})
		if got["effect"] != "deny" || got["error"] == nil {
			t.Errorf("acme credential checked in globex: %v", got)
		}
	}
	// A globex agent cannot act as an acme agent.
	if got := e.check(gbot, map[string]any{"tool_name": "docs.read", "credential": bot}); got["effect"] != "deny" {
		t.Errorf("globex agent checking acme key: %v", got)
	}
	// Nothing of acme changed.
	a := e.must(200, "GET", "/v1/approvals/"+apr, alice, nil).json(t)
	if a["status"] != "pending" {
		t.Errorf("acme approval after globex attempts: %v", a)
	}
	if bl := e.must(200, "GET", "/v1/revocations", alice, nil).json(t)["blocks"].([]any); len(bl) != 0 {
		t.Errorf("acme blocks after globex writes: %v", bl)
	}
}

// The agent role cannot approve, not even others' requests, and sees its
// own approvals only; nobody approves their own agent's request.
func TestApprovalRoles(t *testing.T) {
	e := newEnv(t)
	bot, bot2, carol, alice := e.key("acme/bot"), e.key("acme/bot2"), e.key("acme/carol"), e.key("acme/alice")
	apr := e.pendingApproval(bot, 90)
	apr2 := e.pendingApproval(bot2, 91)

	for _, cred := range []string{bot, bot2} {
		for _, verb := range []string{"approve", "deny"} {
			r := e.do("POST", "/v1/approvals/"+apr+"/"+verb, cred, nil)
			if r.status != 403 || r.code(t) != "forbidden" {
				t.Errorf("agent %s: %d %s", verb, r.status, r.body)
			}
		}
	}
	// An agent sees and waits on its own approvals only.
	e.must(200, "GET", "/v1/approvals/"+apr, bot, nil)
	e.must(403, "GET", "/v1/approvals/"+apr, bot2, nil)
	e.must(403, "GET", "/v1/approvals/"+apr+"?wait=1s", bot2, nil)
	e.must(403, "GET", "/v1/approvals?agent_id=bot", bot2, nil)
	own := e.must(200, "GET", "/v1/approvals", bot2, nil).json(t)["approvals"].([]any)
	if len(own) != 1 || own[0].(map[string]any)["id"] != apr2 {
		t.Errorf("bot2's list: %v", own)
	}
	if all := e.must(200, "GET", "/v1/approvals?status=pending", carol, nil).json(t)["approvals"].([]any); len(all) != 2 {
		t.Errorf("approver's list: %v", all)
	}

	// A principal holding the approver role cannot approve its own agent's
	// request.
	selfish := e.key("acme/selfish")
	mine := e.pendingApproval(selfish, 92)
	r := e.do("POST", "/v1/approvals/"+mine+"/approve", selfish, nil)
	if r.status != 403 || r.code(t) != "approver_not_allowed" {
		t.Errorf("self-approval: %d %s", r.status, r.body)
	}

	// The approver approves; the same request is then allowed once.
	a := e.must(200, "POST", "/v1/approvals/"+apr+"/approve", carol, map[string]any{"note": "ok"}).json(t)
	if a["status"] != "approved" || a["decided_by"] != "carol" || a["note"] != "ok" {
		t.Errorf("approved: %v", a)
	}
	// (Denying it now would withdraw it: TestAttackApprovalWithdrawHTTP.)
	if r := e.do("POST", "/v1/approvals/"+apr+"/approve", alice, nil); r.status != 409 || r.code(t) != "approval_resolved" {
		t.Errorf("deciding twice: %d %s", r.status, r.body)
	}
	d := e.check(bot, map[string]any{"tool_name": "payments.charge", "resource": "cust-1", "attributes": map[string]any{"amount": 90}})
	if d["effect"] != "allow" || d["approval_id"] != apr {
		t.Errorf("approved request: %v", d)
	}
	e.must(404, "GET", "/v1/approvals/apr_nosuch", alice, nil)
	e.must(400, "GET", "/v1/approvals/nosuch", alice, nil)
	e.must(400, "GET", "/v1/approvals?status=maybe", alice, nil)
	e.must(200, "POST", "/v1/approvals/"+apr2+"/deny", alice, nil)
}

func TestApprovalLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		bot, carol := e.key("acme/bot"), e.key("acme/carol")
		apr := e.pendingApproval(bot, 90)

		// Undecided: answered with the approval as it stands once the
		// wait is over, not before.
		start := time.Now()
		a := e.must(200, "GET", "/v1/approvals/"+apr+"?wait=100ms", bot, nil).json(t)
		if a["status"] != "pending" || time.Since(start) != 100*time.Millisecond {
			t.Errorf("after the wait: %v in %s, want pending in 100ms", a, time.Since(start))
		}

		// Decided while waiting: answered at once. No time passes in the
		// bubble, so the client's store poll cannot be what woke it.
		done := make(chan resp, 1)
		go func() { done <- e.do("GET", "/v1/approvals/"+apr+"?wait=30s", bot, nil) }()
		synctest.Wait()
		select {
		case r := <-done:
			t.Fatalf("long poll answered before the decision: %d %s", r.status, r.body)
		default:
		}
		start = time.Now()
		e.must(200, "POST", "/v1/approvals/"+apr+"/approve", carol, nil)
		synctest.Wait()
		select {
		case r := <-done:
			if r.status != 200 || r.json(t)["status"] != "approved" {
				t.Errorf("woken with %d %s", r.status, r.body)
			}
		default:
			t.Fatal("long poll not woken by the decision")
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("answered %v after the decision, want at once", waited)
		}
		e.must(400, "GET", "/v1/approvals/"+apr+"?wait=forever", bot, nil)
		e.must(400, "GET", "/v1/approvals/"+apr+"?wait=-1s", bot, nil)
	})
}

// TestApprovalLongPollCut: a long poll whose request context ends while
// the client still waits for the answer (agenttrust serve ends long polls
// so when it begins to shut down) is answered with the approval as it
// stands, as when the wait runs out, not with a 499 no spec declares.
func TestApprovalLongPollCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		bot := e.key("acme/bot")
		apr := e.pendingApproval(bot, 90)
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, "GET", "/v1/approvals/"+apr+"?wait=30s", nil)
		req.Header.Set("Authorization", "Bearer "+bot)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			e.srv.ServeHTTP(rec, req)
			close(done)
		}()
		synctest.Wait()
		cancel()
		<-done
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"pending"`) {
			t.Fatalf("long poll cut: %d %s; want 200 with the pending approval", rec.Code, rec.Body)
		}
	})
}

// Without trusted proxies X-Forwarded-For is not believed: a client
// cannot claim an address that its key's allowlist accepts.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.createKey(ctx, "acme", "fenced", agenttrust.KeySpec{AgentID: "fenced", AllowedIPs: []string{"10.0.0.0/8"}})
	body := map[string]any{"tool_name": "docs.read"}
	for _, xff := range []string{"10.1.2.3", "10.1.2.3, 10.9.9.9", "127.0.0.1, 10.1.2.3"} {
		r := e.do("POST", "/v1/actions/check", key, body, "X-Forwarded-For", xff)
		if r.status != 401 || r.code(t) != "ip_not_allowed" {
			t.Errorf("X-Forwarded-For %q: %d %s", xff, r.status, r.body)
		}
	}
	// An admin checking the fenced key on the agent's behalf: the address
	// is still the connection's.
	got := e.check(e.key("acme/alice"), map[string]any{"tool_name": "docs.read", "credential": key})
	if got["error"] != "ip_not_allowed" {
		t.Errorf("admin-checked fenced key: %v", got)
	}

	// Behind a trusted proxy (the loopback here), the right-most untrusted
	// hop is the caller.
	e2 := newEnv(t, WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8")))
	key2 := e2.createKey(ctx, "acme", "fenced", agenttrust.KeySpec{AgentID: "fenced", AllowedIPs: []string{"10.0.0.0/8"}})
	if r := e2.do("POST", "/v1/actions/check", key2, body, "X-Forwarded-For", "10.1.2.3"); r.status != 200 {
		t.Errorf("trusted proxy: %d %s", r.status, r.body)
	}
	// A forged left-most hop does not help: the right-most untrusted hop
	// (added by the proxy) is what counts.
	if r := e2.do("POST", "/v1/actions/check", key2, body, "X-Forwarded-For", "10.1.2.3, 192.0.2.7"); r.status != 401 {
		t.Errorf("forged left hop: %d %s", r.status, r.body)
	}
	if r := e2.do("POST", "/v1/actions/check", key2, body, "X-Forwarded-For", "10.1.2.3, garbage"); r.status != 401 {
		t.Errorf("garbage hop: %d %s", r.status, r.body)
	}
}

func TestRemoteAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		// A peer not trusted to forward that forwards: neither its own
		// address nor the one it names is the caller's.
		{"no proxies: header makes the address unknown", "192.0.2.1:5000", []string{"1.2.3.4"}, false, "invalid IP"},
		{"untrusted peer: header makes the address unknown", "192.0.2.1:5000", []string{"1.2.3.4"}, true, "invalid IP"},
		{"untrusted peer: empty header", "192.0.2.1:5000", []string{" , "}, true, "192.0.2.1"},
		{"untrusted peer: no header", "192.0.2.1:5000", nil, true, "192.0.2.1"},
		{"one hop", "10.0.0.1:5000", []string{"1.2.3.4"}, true, "1.2.3.4"},
		{"right-most untrusted", "10.0.0.1:5000", []string{"6.6.6.6, 1.2.3.4, 10.0.0.2"}, true, "1.2.3.4"},
		{"several headers", "10.0.0.1:5000", []string{"6.6.6.6", "1.2.3.4", "10.0.0.9"}, true, "1.2.3.4"},
		{"all trusted", "10.0.0.1:5000", []string{"10.0.0.7, 10.0.0.8"}, true, "10.0.0.7"},
		{"no header", "10.0.0.1:5000", nil, true, "10.0.0.1"},
		{"malformed hop", "10.0.0.1:5000", []string{"1.2.3.4, nonsense"}, true, "invalid IP"},
		{"with port", "10.0.0.1:5000", []string{"1.2.3.4:99"}, true, "1.2.3.4"},
		{"ipv6", "[fd00::1]:5000", []string{"[2001:db8::1]"}, true, "2001:db8::1"},
		{"mapped", "[::ffff:10.0.0.1]:5000", []string{"::ffff:1.2.3.4"}, true, "1.2.3.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{}
			if tc.trusted {
				s.trusted = trusted
			}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := s.remoteAddr(r).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// countingReader counts what is read from it.
type countingReader struct {
	n    atomic.Int64
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > c.left {
		n = c.left
	}
	for i := range p[:n] {
		p[i] = ' '
	}
	c.left -= n
	c.n.Add(n)
	return int(n), nil
}

// A 10 MiB body is refused without being read: not at all when its
// Content-Length says so, and no further than the limit when it does not.
func TestLargeBodyNotRead(t *testing.T) {
	e := newEnv(t)
	bot := e.key("acme/bot")
	const size = 10 << 20
	for _, known := range []bool{true, false} {
		body := &countingReader{left: size}
		req := httptest.NewRequest("POST", "/v1/actions/check", body)
		req.Header.Set("Authorization", "Bearer "+bot)
		req.ContentLength = -1
		if known {
			req.ContentLength = size
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code != 400 || !strings.Contains(w.Body.String(), "request_too_large") {
			t.Errorf("known length %v: %d %s", known, w.Code, w.Body)
		}
		read := body.n.Load()
		if known && read != 0 {
			t.Errorf("read %d bytes of a body whose length said it was too large", read)
		}
		if !known && read > MaxBodySize+64<<10 {
			t.Errorf("read %d bytes of an unbounded body", read)
		}
	}

	// Over the loopback, too.
	body := &countingReader{left: size}
	req, _ := http.NewRequest("POST", e.ts.URL+"/v1/actions/check", body)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+bot)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !bytes.Contains(b, []byte("request_too_large")) {
		t.Errorf("loopback: %d %s", res.StatusCode, b)
	}
	if read := body.n.Load(); read > 4<<20 {
		t.Errorf("client sent %d of 10 MiB before the refusal", read)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	bot, alice := e.key("acme/bot"), e.key("acme/alice")
	for _, tc := range []struct {
		name, method, path, cred, body, ctype string
		status                                int
		code                                  string
	}{
		{"unknown field", "POST", "/v1/actions/check", bot, `{"tool_name":"docs.read","tool":"x"}`, "", 400, "unknown_field"},
		{"case-folded field", "POST", "/v1/actions/check", bot, `{"Tool_Name":"docs.read"}`, "", 400, "unknown_field"},
		{"duplicate field", "POST", "/v1/actions/check", bot, `{"tool_name":"docs.read","tool_name":"docs.delete"}`, "", 400, "invalid_json"},
		{"wrong type", "POST", "/v1/actions/check", bot, `{"tool_name":42}`, "", 400, "invalid_json"},
		{"wrong type attributes", "POST", "/v1/actions/check", bot, `{"tool_name":"x","attributes":[1]}`, "", 400, "invalid_json"},
		{"trailing data", "POST", "/v1/actions/check", bot, `{"tool_name":"docs.read"} {}`, "", 400, "invalid_json"},
		{"not JSON", "POST", "/v1/actions/check", bot, `tool_name=docs.read`, "", 400, "invalid_json"},
		{"truncated", "POST", "/v1/actions/check", bot, `{"tool_name":"docs.read"`, "", 400, "invalid_json"},
		{"invalid UTF-8", "POST", "/v1/actions/check", bot, "{\"tool_name\":\"\xff\"}", "", 400, "invalid_json"},
		{"empty body", "POST", "/v1/actions/check", bot, ``, "", 400, "invalid_json"},
		{"null body", "POST", "/v1/actions/check", bot, `null`, "", 400, "missing_field"},
		{"missing tool", "POST", "/v1/actions/check", bot, `{"resource":"x"}`, "", 400, "missing_field"},
		{"control char in tool", "POST", "/v1/actions/check", bot, `{"tool_name":"a\u0000b"}`, "", 400, "invalid_request"},
		{"too many attributes", "POST", "/v1/actions/check", bot, tooManyAttrs(), "", 400, "invalid_request"},
		{"body too large", "POST", "/v1/actions/check", bot, `{"tool_name":"` + strings.Repeat("a", MaxBodySize) + `"}`, "", 400, "request_too_large"},
		{"wrong content type", "POST", "/v1/actions/check", bot, `{"tool_name":"docs.read"}`, "text/plain", 415, "unsupported_media_type"},
		{"unknown query parameter", "GET", "/v1/approvals?mine=1", bot, ``, "", 400, "unknown_parameter"},
		{"repeated query parameter", "GET", "/v1/approvals?limit=1&limit=2", bot, ``, "", 400, "invalid_parameter"},
		{"bad limit", "GET", "/v1/audit?limit=0", alice, ``, "", 400, "invalid_parameter"},
		{"bad effect", "GET", "/v1/audit?effect=maybe", alice, ``, "", 400, "invalid_parameter"},
		{"bad time", "GET", "/v1/audit?since=yesterday", alice, ``, "", 400, "invalid_parameter"},
		{"bad decision id", "GET", "/v1/audit?decision_id=42", alice, ``, "", 400, "invalid_id"},
		{"after_seq alone", "GET", "/v1/audit?after_seq=3", alice, ``, "", 400, "invalid_parameter"},
		{"missing agent_id", "POST", "/v1/keys", alice, `{"name":"x"}`, "", 400, "missing_field"},
		{"unknown role", "POST", "/v1/keys", alice, `{"agent_id":"x","roles":["god"]}`, "", 400, "invalid_request"},
		{"bad IP", "POST", "/v1/keys", alice, `{"agent_id":"x","allowed_ips":["nowhere"]}`, "", 400, "invalid_request"},
		{"bad caveat", "POST", "/v1/keys", alice, `{"agent_id":"x","caveats":["tenant = other"]}`, "", 400, "caveat"},
		{"bad expiry type", "POST", "/v1/keys", alice, `{"agent_id":"x","expires_at":"soon"}`, "", 400, "invalid_json"},
		{"past expiry", "POST", "/v1/keys", alice, `{"agent_id":"x","expires_at":"2001-01-01T00:00:00Z"}`, "", 400, "invalid_request"},
		{"control char in path id", "POST", "/v1/agents/a%01b/suspend", alice, ``, "", 400, "invalid_id"},
		{"long path id", "POST", "/v1/agents/" + strings.Repeat("a", 300) + "/suspend", alice, ``, "", 400, "invalid_id"},
		{"bad key id", "POST", "/v1/keys/k1/revoke", alice, ``, "", 400, "invalid_id"},
		{"body where none is taken", "POST", "/v1/agents/x/resume", alice, `{"force":true}`, "", 400, "invalid_json"},
		{"missing revoke id", "POST", "/v1/revocations", alice, `{}`, "", 400, "missing_field"},
		{"missing policy format", "PUT", "/v1/policy", alice, `{"body":"{}","expect_version":1}`, "", 400, "missing_field"},
		{"bad policy format", "POST", "/v1/policy/validate", alice, `{"format":"toml","body":"x"}`, "", 400, "invalid_request"},
		{"expect_version string", "PUT", "/v1/policy", alice, `{"format":"json","body":"{}","expect_version":"1"}`, "", 400, "invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.ts.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tc.cred)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			res, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{status: res.StatusCode, header: res.Header, body: b}
			if r.status != tc.status || r.code(t) != tc.code {
				t.Errorf("got %d %s, want %d %s", r.status, b, tc.status, tc.code)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func tooManyAttrs() string {
	var b strings.Builder
	b.WriteString(`{"tool_name":"docs.read","attributes":{`)
	for i := range 65 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"a` + string(rune('A'+i%26)) + strings.Repeat("x", i) + `":1`)
	}
	b.WriteString(`}}`)
	return b.String()
}

// A request that fails changes nothing.
func TestNothingHalfApplied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, bot := e.key("acme/alice"), e.key("acme/bot")
	keys := func() int { ks, _ := e.st.Keys(ctx, "acme"); return len(ks) }
	hops := func() int { hs, _ := e.st.Hops(ctx, store.HopFilter{Tenant: "acme"}); return len(hs) }
	nk, nh := keys(), hops()

	e.must(400, "POST", "/v1/keys", alice, `{"agent_id":"x","roles":["agent"],"caveats":["tool in a","bad caveat"]}`)
	e.must(400, "POST", "/v1/keys", alice, `{"agent_id":"x","roles":["agent"],"unknown":1}`)
	tok := e.exchange(bot)
	e.must(400, "POST", "/v1/tokens/delegate", bot, map[string]any{"token": tok, "caveats": []string{"resource in a", "nonsense"}})
	e.must(403, "POST", "/v1/tokens/delegate", e.key("acme/bot2"), map[string]any{"token": tok})
	if keys() != nk || hops() != nh {
		t.Errorf("keys %d -> %d, hops %d -> %d after refused requests", nk, keys(), nh, hops())
	}
	e.must(400, "POST", "/v1/tenants/fresh/keys", e.key("ops/root"), `{"agent_id":"x","allowed_ips":["bad"]}`)
	if ks, _ := e.st.Keys(ctx, "fresh"); len(ks) != 0 {
		t.Errorf("refused bootstrap left %d keys", len(ks))
	}
}
