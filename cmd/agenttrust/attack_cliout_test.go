package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// hostileChars are characters an agent (or a server) may plant in a
// string to rewrite what an operator's terminal shows: C0 controls and
// ESC sequences, DEL, C1 controls, bidi controls, invisible format
// characters, line and paragraph separators, invalid UTF-8.
var hostileChars = []struct{ name, s string }{
	{"ESC CSI colour", "\x1b[31m"},
	{"ESC OSC title", "\x1b]0;pwned\x07"},
	{"BEL", "\x07"},
	{"CR", "\r"},
	{"backspace", "\x08"},
	{"DEL", "\x7f"},
	{"C1 CSI", "\u009b31m"},
	{"C1 NEL", "\u0085"},
	{"C1 OSC", "\u009d0;x\u009c"},
	{"ALM U+061C", "\u061c"},
	{"LRM U+200E", "\u200e"},
	{"RLM U+200F", "\u200f"},
	{"LRE U+202A", "\u202a"},
	{"RLE U+202B", "\u202b"},
	{"PDF U+202C", "\u202c"},
	{"LRO U+202D", "\u202d"},
	{"RLO U+202E", "\u202e"},
	{"LRI U+2066", "\u2066"},
	{"RLI U+2067", "\u2067"},
	{"FSI U+2068", "\u2068"},
	{"PDI U+2069", "\u2069"},
	{"LS U+2028", "\u2028"},
	{"PS U+2029", "\u2029"},
	{"ZWSP U+200B", "\u200b"},
	{"ZWJ U+200D", "\u200d"},
	{"word joiner U+2060", "\u2060"},
	{"BOM U+FEFF", "\ufeff"},
	{"soft hyphen U+00AD", "\u00ad"},
	{"tag character U+E0041", "\U000e0041"},
	{"interlinear annotation U+FFF9", "\ufff9"},
	{"invalid UTF-8", "\xff"},
}

// hostileServer answers GET /v1/audit with one record whose every
// agent-chosen string holds evil, and every other request with a 503
// whose message holds it.
func hostileServer(t *testing.T, evil string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/approvals" {
			a := wire.ApprovalView{
				ID: "apr_1", AgentID: "bot" + evil, SessionID: "s" + evil, OnBehalfOf: "alice" + evil,
				ToolName: "mail.send" + evil, Resource: "mailbox:" + evil,
				Attributes: json.RawMessage(`{"note":` + rawJSONString(evil) + `}`),
				RuleID:     "r" + evil, Reason: "because " + evil, Approvers: []string{"carol" + evil}, Status: "pending",
				CreatedAt: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC),
			}
			w.Write([]byte(`{"approvals":[` + rawJSONObject(t, a) + `]}`))
			return
		}
		if r.URL.Path != "/v1/audit" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"error":{"code":"store_unavailable","message":%s}}`, rawJSONString(evil))
			return
		}
		rec := agenttrust.AuditRecord{
			Chain: "n1/acme", Seq: 1, Time: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), Tenant: "acme",
			AgentID: "bot" + evil, Tool: "docs.read" + evil, Resource: "doc:" + evil, Effect: agenttrust.Deny,
			Rule: "r" + evil, Reason: "because " + evil,
			Attributes: json.RawMessage(`{"note":` + rawJSONString(evil) + `}`),
		}
		w.Write([]byte(`{"records":[` + rawJSONObject(t, rec) + `]}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// rawJSONObject encodes v as a hostile server would: with the
// characters encoding/json escapes beyond ASCII controls (U+2028,
// U+2029) sent raw.
func rawJSONObject(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Error(err)
	}
	out := strings.ReplaceAll(string(b), `\u2028`, "\u2028")
	return strings.ReplaceAll(out, `\u2029`, "\u2029")
}

// rawJSONString quotes s as JSON, leaving every character but '"', '\'
// and C0 controls raw.
func rawJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestAttackCLIOutput: whatever an agent put in its tool name, resource,
// attributes or reason, and whatever a server puts in an error message,
// the CLI prints it with no character that could drive or fool the
// terminal: --json output escapes them as \uXXXX (and stays the same
// JSON), tables and messages escape them visibly.
func TestAttackCLIOutput(t *testing.T) {
	for _, hc := range hostileChars {
		t.Run("json/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "audit", "query", "--json")
			if !utf8.ValidString(hc.s) {
				refused(t, res)
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			// Still the same JSON: one record per line, the strings intact.
			sc := bufio.NewScanner(strings.NewReader(res.stdout))
			n := 0
			for sc.Scan() {
				var rec agenttrust.AuditRecord
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				want := strings.ToValidUTF8(hc.s, "\ufffd")
				if rec.Tool != "docs.read"+want || rec.Reason != "because "+want {
					t.Errorf("record changed: tool %q reason %q", rec.Tool, rec.Reason)
				}
				n++
			}
			if n != 1 {
				t.Errorf("%d records printed", n)
			}
		})
		t.Run("table/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "audit", "query")
			if !utf8.ValidString(hc.s) {
				refused(t, res)
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			if !strings.Contains(res.stdout, "docs.read") {
				t.Errorf("table lacks the record: %q", res.stdout)
			}
		})
		t.Run("approvals json/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "approvals", "list", "--json")
			if !utf8.ValidString(hc.s) {
				refused(t, res)
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			var views []struct {
				Tool       string          `json:"tool_name"`
				Attributes json.RawMessage `json:"attributes"`
			}
			if err := json.Unmarshal([]byte(res.stdout), &views); err != nil || len(views) != 1 {
				t.Fatalf("output %q: %v", res.stdout, err)
			}
			var attrs struct{ Note string }
			if err := json.Unmarshal(views[0].Attributes, &attrs); err != nil || attrs.Note != hc.s || !strings.HasSuffix(views[0].Tool, hc.s) {
				t.Errorf("approval changed: %q %s %v", views[0].Tool, views[0].Attributes, err)
			}
		})
		t.Run("approvals table/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "approvals", "list")
			if !utf8.ValidString(hc.s) {
				refused(t, res)
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			if !strings.Contains(res.stdout, "apr_1") {
				t.Errorf("table lacks the approval: %q", res.stdout)
			}
		})
		t.Run("error message/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "key", "list", "--retries", "0")
			if res.code == 0 {
				t.Fatalf("a 503 exited 0: %s", res.stdout)
			}
			assertNoRaw(t, res.stderr, hc.s)
			if !strings.Contains(res.stderr, "store_unavailable") {
				t.Errorf("stderr lacks the error code: %q", res.stderr)
			}
		})
	}
}

// refused: an answer that is not valid UTF-8 is refused whole, and
// nothing of it printed.
func refused(t *testing.T, res cliResult) {
	t.Helper()
	if res.code == 0 || res.stdout != "" || !strings.Contains(res.stderr, "not valid UTF-8") {
		t.Errorf("invalid UTF-8 answer: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	assertNoRaw(t, res.stderr, "\xff")
}

// assertNoRaw fails if out holds any character of evil that is not
// printable, or any invalid UTF-8.
func assertNoRaw(t *testing.T, out, evil string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q", out)
	}
	for _, r := range strings.ToValidUTF8(evil, "") {
		if r >= 0x20 && r < 0x7f {
			continue // the printable rest of a sequence
		}
		if strings.ContainsRune(out, r) {
			t.Errorf("output holds %U raw: %q", r, out)
		}
	}
}
