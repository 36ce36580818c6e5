package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
)

// slowClient sends a request head, then its body as send says, over a
// raw connection, and reads the answer. A server that waits for the body
// forever never answers: the test's guard deadline ends the read.
func slowClient(t *testing.T, e *env, head string, send func(net.Conn, <-chan struct{})) (*http.Response, []byte) {
	t.Helper()
	conn, err := e.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go send(conn, stop)
	// The guard: far beyond the server's bound, so that only a server
	// that never answers trips it.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// oneByte sends one byte of the body and nothing more.
// slowHead is the head of a request whose body is yet to come: announced
// by Content-Length (100,000 bytes), or chunked.
func slowHead(method, path, contentType string, chunked bool) string {
	h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n", method, path, contentType)
	if chunked {
		return h + "Transfer-Encoding: chunked\r\n\r\n"
	}
	return h + "Content-Length: 100000\r\n\r\n"
}

func oneByte(conn net.Conn, _ <-chan struct{}) { conn.Write([]byte("{")) }

// oneChunk sends one chunk of a chunked body and nothing more.
func oneChunk(conn net.Conn, _ <-chan struct{}) { conn.Write([]byte("1\r\n{\r\n")) }

// trickle sends one byte of the body at every tick of the client, for
// as long as the server reads: the deadline bounds the whole body, not
// the gap between two bytes.
func trickle(conn net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}
}

// TestAttackSlowBody: a client that sends its request body slowly, or
// never ends it, is answered 408 (or the answer its request earns
// without a body) once the body timeout passes, instead of holding a
// connection and a goroutine for ever. Routes that run long (the audit
// stream, the long poll of an approval) take no body and are not cut.
func TestAttackSlowBody(t *testing.T) {
	type slowCase struct {
		name, method, path, cred string // cred: a key name of newEnv's, or a literal
		chunked                  bool
		send                     func(net.Conn, <-chan struct{})
		status                   int
		code                     string
	}
	run := func(t *testing.T, e *env, tc slowCase) {
		t.Helper()
		cred := tc.cred
		if strings.HasPrefix(cred, "acme/") {
			cred = e.key(cred)
		}
		var h strings.Builder
		fmt.Fprintf(&h, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", tc.method, tc.path)
		if cred != "" {
			fmt.Fprintf(&h, "Authorization: Bearer %s\r\n", cred)
		}
		if tc.chunked {
			h.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		} else {
			h.WriteString("Content-Length: 100000\r\n\r\n")
		}
		start := time.Now()
		res, body := slowClient(t, e, h.String(), tc.send)
		if res.StatusCode != tc.status {
			t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
		}
		var eb struct{ Error struct{ Code string } }
		if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != tc.code {
			t.Errorf("code %q, want %q: %s", eb.Error.Code, tc.code, body)
		}
		if tc.status == 408 && time.Since(start) < 100*time.Millisecond {
			t.Errorf("408 after %v, before the body timeout", time.Since(start))
		}
	}
	cases := []slowCase{
		{"check body one byte then silence", "POST", "/v1/actions/check", "acme/bot", false, oneByte, 408, "body_timeout"},
		{"check body one byte per tick", "POST", "/v1/actions/check", "acme/bot", false, trickle, 408, "body_timeout"},
		{"check chunked body one chunk then silence", "POST", "/v1/actions/check", "acme/bot", true, oneChunk, 408, "body_timeout"},
		{"check chunked body never ends", "POST", "/v1/actions/check", "acme/bot", true, func(c net.Conn, stop <-chan struct{}) {
			oneChunk(c, stop)
			trickleChunks(c, stop)
		}, 408, "body_timeout"},
		{"create key body one byte", "POST", "/v1/keys", "acme/alice", false, oneByte, 408, "body_timeout"},
		{"put policy body one byte per tick", "PUT", "/v1/policy", "acme/alice", false, trickle, 408, "body_timeout"},
		{"revoke body one byte", "POST", "/v1/revocations", "acme/alice", false, oneByte, 408, "body_timeout"},
		{"exchange body one byte", "POST", "/v1/tokens", "acme/bot", false, oneByte, 408, "body_timeout"},
		{"approve body one byte", "POST", "/v1/approvals/apr_x/approve", "acme/carol", false, oneByte, 408, "body_timeout"},
		{"no credential slow body", "POST", "/v1/actions/check", "", false, oneByte, 401, "unauthenticated"},
		{"no credential body one byte per tick", "POST", "/v1/keys", "", false, trickle, 401, "unauthenticated"},
		{"forged key slow body", "POST", "/v1/actions/check", "atk_" + strings.Repeat("A", 36), false, oneByte, 401, "key_checksum"},
		{"agent on admin route slow body", "POST", "/v1/keys", "acme/bot", false, oneByte, 403, "forbidden"},
		{"unknown route slow body", "POST", "/v1/nothing", "acme/bot", false, oneByte, 404, "not_found"},
		{"slow body on a GET route", "GET", "/v1/keys", "acme/alice", false, oneByte, 400, "unexpected_body"},
		{"slow body on the audit stream", "GET", "/v1/audit/stream", "acme/alice", false, trickle, 400, "unexpected_body"},
		{"slow body on an approval long poll", "GET", "/v1/approvals/apr_x?wait=30s", "acme/bot", true, oneChunk, 400, "unexpected_body"},
		{"slow body on readyz", "GET", "/readyz", "", false, oneByte, 400, "unexpected_body"},
	}
	// Each case in a synctest bubble on the in-process network, whose
	// pipes honour read deadlines on the bubble's clock...
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				run(t, newBubbleEnv(t, WithBodyTimeout(100*time.Millisecond)), tc)
			})
		})
	}
	// ...and the first over loopback TCP, where the deadline is the
	// socket's, on the real clock.
	t.Run("over TCP", func(t *testing.T) {
		run(t, newEnv(t, WithBodyTimeout(100*time.Millisecond)), cases[0])
	})

	// With a timeout so short that any read deadline would already have
	// passed, the routes that run long still work, and so does a check
	// whose body arrives with its head.
	t.Run("audit stream outlives the body timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, WithBodyTimeout(time.Nanosecond), WithAuditPoll(10*time.Millisecond))
			s := e.stream(e.key("acme/carol"), "")
			c, err := e.srv.Client(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.delete", Resource: "late"})
			if err != nil || d.Effect != agenttrust.Deny {
				t.Fatalf("check: %v %v", d, err)
			}
			if err := c.SyncAudit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := s.next(t); got["resource"] != "late" || got["effect"] != "deny" {
				t.Fatalf("event %v", got)
			}
		})
	})
	t.Run("approval long poll outlives the body timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, WithBodyTimeout(time.Nanosecond))
			c, err := e.srv.Client(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "payments.charge"})
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("check: %v %v", d, err)
			}
			start := time.Now()
			a := e.must(200, "GET", "/v1/approvals/"+d.ApprovalID+"?wait=50ms", e.key("acme/bot"), nil).json(t)
			if a["status"] != "pending" || time.Since(start) < 50*time.Millisecond {
				t.Errorf("long poll: %v after %s", a, time.Since(start))
			}
		})
	})
	t.Run("long poll with an empty body outlives the body timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, WithBodyTimeout(50*time.Millisecond))
			c, err := e.srv.Client(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "payments.charge"})
			if err != nil || d.Effect != agenttrust.NeedsApproval {
				t.Fatalf("check: %v %v", d, err)
			}
			// An empty chunked body, as HTTP/2 clients send with a GET: its
			// end lifts the deadline, which would otherwise end the poll.
			head := "GET /v1/approvals/" + d.ApprovalID + "?wait=200ms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e.key("acme/bot") +
				"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
			start := time.Now()
			res, body := slowClient(t, e, head, func(net.Conn, <-chan struct{}) {})
			if res.StatusCode != 200 || !strings.Contains(string(body), `"status":"pending"`) || time.Since(start) < 200*time.Millisecond {
				t.Errorf("long poll: %d %s after %s", res.StatusCode, body, time.Since(start))
			}
		})
	})
	t.Run("check body sent with its head", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newBubbleEnv(t, WithBodyTimeout(time.Second))
			got := e.check(e.key("acme/bot"), map[string]any{"tool_name": "docs.delete"})
			if got["effect"] != "deny" || got["rule_id"] != "no-delete" {
				t.Errorf("check: %v", got)
			}
		})
	})
}

// trickleChunks sends a one-byte chunk at every tick of the client.
func trickleChunks(conn net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := conn.Write([]byte("1\r\n \r\n")); err != nil {
				return
			}
		}
	}
}
