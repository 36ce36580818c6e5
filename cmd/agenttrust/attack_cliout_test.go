package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
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
// agent-chosen string holds evil, GET /v1/approvals with such an
// approval, an approval with a grant id holding evil, policy validation
// with a problem and GET /v1/policy with a document holding it, and every
// other request with a 503 whose message holds it.
func hostileServer(t *testing.T, evil string) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/policy/validate":
			fmt.Fprintf(w, `{"valid":false,"problems":[{"rule":%s,"index":0,"message":%s}]}`, rawJSONString("r1"+evil), rawJSONString("bad "+evil))
			return
		case "/v1/approvals/apr_1/approve":
			a := wire.ApprovalView{ID: "apr_1", AgentID: "bot", ToolName: "mail.send", RuleID: "r1", Status: "approved",
				CreatedAt: time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC), GrantID: "grt_" + evil}
			w.Write([]byte(rawJSONObject(t, a)))
			return
		case "/v1/policy":
			fmt.Fprintf(w, `{"version":3,"format":%s,"body":%s,"updated_at":"2026-11-22T05:00:00Z"}`, rawJSONString("yaml"+evil), rawJSONString("rules: []\n# "+evil+"\n"))
			return
		}
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
		// A server's problems with a policy, as policy validate, apply,
		// replay and advise print them.
		t.Run("policy problems/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			file := filepath.Join(t.TempDir(), "p.yaml")
			if err := os.WriteFile(file, []byte("rules: []\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "policy", "validate", file)
			if res.code == 0 {
				t.Fatalf("exit 0: %q", res.stdout)
			}
			assertNoRaw(t, res.stdout+res.stderr, hc.s)
			if utf8.ValidString(hc.s) && !strings.Contains(res.stderr, "bad ") {
				t.Errorf("stderr lacks the problem: %q", res.stderr)
			}
		})
		// The grant id a server names for an approval remembered.
		t.Run("grant id/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "approvals", "approve", "apr_1", "--remember", "3")
			if !utf8.ValidString(hc.s) {
				assertNoRaw(t, res.stdout+res.stderr, hc.s)
				return
			}
			if res.code != 0 {
				t.Fatalf("exit %d: %q", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			if !strings.Contains(res.stdout, "remembered as grant grt_") {
				t.Errorf("stdout lacks the grant: %q", res.stdout)
			}
		})
		// A stored policy is printed as stored, so one holding such a
		// character is refused (escaped, it would not be the document).
		t.Run("policy show/"+hc.name, func(t *testing.T) {
			ts := hostileServer(t, hc.s)
			res := runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "policy", "show")
			if !utf8.ValidString(hc.s) {
				refused(t, res)
				return
			}
			if res.code == 0 || res.stdout != "" || !strings.Contains(res.stderr, "--json") {
				t.Errorf("exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
			}
			assertNoRaw(t, res.stdout+res.stderr, hc.s)
			res = runCLI(t, map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}, "", "policy", "show", "--json")
			if res.code != 0 {
				t.Fatalf("--json: exit %d: %q", res.code, res.stderr)
			}
			assertNoRaw(t, res.stdout, hc.s)
			var doc struct{ Body string }
			if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || doc.Body != "rules: []\n# "+hc.s+"\n" {
				t.Errorf("--json body %q: %v", doc.Body, err)
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

// TestAttackCLIOutputEveryCommand runs every command of the tree against
// a hostile server, with a hostile argument, and finds no raw control or
// format character in anything it prints: every write to stdout and
// stderr passes a termWriter, whatever path it takes.
func TestAttackCLIOutputEveryCommand(t *testing.T) {
	var evil strings.Builder
	for _, hc := range hostileChars {
		if utf8.ValidString(hc.s) {
			evil.WriteString(hc.s)
		}
	}
	ts := hostileServer(t, evil.String())
	vars := map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x", "AGENTTRUST_RETRIES": "0"}
	file := filepath.Join(t.TempDir(), "p"+evil.String()+".yaml")
	if err := os.WriteFile(file, []byte("rules: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths(commands(), nil) {
		if c := lookup(commands(), p); c == nil || c.subs != nil || p[0] == "serve" {
			continue
		}
		for _, arg := range []string{"apr_1", file, "x" + evil.String()} {
			for _, extra := range [][]string{nil, {"--json"}} {
				args := append(append(slices.Clone(p), arg), extra...)
				res := runCLI(t, vars, "", args...)
				n++
				if strings.ContainsFunc(res.stdout+res.stderr, func(r rune) bool { return r != '\n' && r != '\t' && unsafeRune(r) }) || !utf8.ValidString(res.stdout+res.stderr) {
					t.Errorf("%q printed a raw control or format character: stdout %q, stderr %q", args, res.stdout, res.stderr)
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d runs", n)
	}
}

// lookup returns the command at path p of the tree c, or nil.
func lookup(c *command, p []string) *command {
	for _, name := range p {
		var next *command
		for _, s := range c.subs {
			if s.name == name {
				next = s
			}
		}
		if next == nil {
			return nil
		}
		c = next
	}
	return c
}

func TestTermWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "plain", writes: []string{"key  agent\n", "apr_1 é ü 日本\n"}, want: "key  agent\napr_1 é ü 日本\n"},
		{name: "tab and newline pass", writes: []string{"a\tb\n"}, want: "a\tb\n"},
		{name: "ESC", writes: []string{"x\x1b]0;pwned\x07y"}, want: `x\u001b]0;pwned\u0007y`},
		{name: "CR, also before a newline", writes: []string{"a\rb\r\n"}, want: `a\u000db\u000d` + "\n"},
		{name: "DEL and C1", writes: []string{"\x7f\u0085\u009b"}, want: `\u007f\u0085\u009b`},
		{name: "bidi and format", writes: []string{"\u202e\u2066\u200b\ufeff\u00ad\u2028"}, want: `\u202e\u2066\u200b\ufeff\u00ad\u2028`},
		{name: "beyond U+FFFF", writes: []string{"\U000e0041"}, want: `\udb40\udc41`},
		{name: "character cut between writes", writes: []string{"a\xc3", "\xa9b"}, want: "aéb"},
		{name: "bidi cut in three", writes: []string{"\xe2", "\x80", "\xaeb"}, want: `\u202eb`},
		{name: "tag cut in four", writes: []string{"\xf3", "\xa0", "\x81", "\x81"}, want: `\udb40\udc41`},
		{name: "cut, then not continued", writes: []string{"\xe2\x80", "x"}, want: `\xe2\x80x`},
		{name: "cut at the end", writes: []string{"ok\xe2\x80"}, want: `ok\xe2\x80`},
		{name: "invalid byte", writes: []string{"a\xffb"}, want: `a\xffb`},
		{name: "escaped JSON stays", writes: []string{`{"a":"\u001b\u202e"}` + "\n"}, want: `{"a":"\u001b\u202e"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			w := newTermWriter(&b)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
		})
	}
	// JSON a path forgot to escape is escaped into the same JSON.
	var b strings.Builder
	w := newTermWriter(&b)
	raw := "{\"a\":\"x\u0085\u202e\U000e0041\x1b\"}\n"
	w.Write([]byte(raw))
	var got, want map[string]string
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatalf("%q: %v", b.String(), err)
	}
	json.Unmarshal([]byte(strings.ReplaceAll(raw, "\x1b", `\u001b`)), &want)
	if got["a"] != want["a"] {
		t.Errorf("JSON changed: %q, want %q", got["a"], want["a"])
	}
}
