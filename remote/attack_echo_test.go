package remote_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/middleware"
)

// TestAttackCredentialEchoed: a proxy, an echo service or anything else
// between the client and the server may answer with text that reflects
// the request, or holds other credentials. No answer puts the bearer the
// client sent, the Credential it checked, or anything shaped like an
// agenttrust credential (an API key, a token, a JWT) into the error,
// which middleware.ToolResultMessage shows the model. Not even its
// start: a credential cut where an answer's snippet ends.
func TestAttackCredentialEchoed(t *testing.T) {
	otherKey, err := apikey.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	const (
		opaque = "opaque-partner-token-5f1d8c27"
		jwt    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
		token  = "att_AgJFYXQxfHRva193eGphM21oanFvb3J2d3dzM21sc2MzbnJibXxrZXlf"
	)
	text := func(status int, ctype string, body func(auth, cred string) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Credential string `json:"credential"`
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &req)
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body(r.Header.Get("Authorization"), req.Credential))
		}
	}
	jsonErr := func(code, msg string) string {
		c, _ := json.Marshal(code)
		m, _ := json.Marshal(msg)
		return `{"error":{"code":` + string(c) + `,"message":` + string(m) + `}}`
	}
	for _, tc := range []struct {
		name    string
		cred    string // the request's Credential
		secret  string // what must not show
		handler http.HandlerFunc
	}{
		{"bearer in a text body", "", agentKey, text(400, "text/plain", func(auth, _ string) string {
			return "Authorization: " + auth + "\n"
		})},
		{"bearer in a 502 page", "", agentKey, text(502, "text/html", func(auth, _ string) string {
			return "<pre>" + auth + "</pre>"
		})},
		{"bearer in a 200 answer that is not JSON", "", agentKey, text(200, "text/plain", func(auth, _ string) string {
			return "echo " + auth
		})},
		{"bearer in a JSON error message", "", agentKey, text(400, "application/json", func(auth, _ string) string {
			return jsonErr("invalid_request", "you sent "+auth)
		})},
		{"bearer as a JSON error code", "", agentKey, text(401, "application/json", func(auth, _ string) string {
			return jsonErr(strings.TrimPrefix(auth, "Bearer "), "no")
		})},
		{"bearer in a header-like line cut by the snippet", "", agentKey, text(400, "text/plain", func(auth, _ string) string {
			return strings.Repeat(".", 88) + "Authorization: " + auth + "\r\n"
		})},
		{"bearer in a denied decision's reason", "", agentKey, text(200, "application/json", func(auth, _ string) string {
			return `{"allowed":false,"effect":"deny","reason":"` + auth + `","rule_id":"","decision_id":"` + decisionID +
				`","approval_id":"","agent_id":"bot","staleness_ns":0,"error":"revoked"}`
		})},
		{"Credential in a JSON error message", opaque, opaque, text(400, "application/json", func(_, cred string) string {
			return jsonErr("invalid_request", "bad credential "+cred)
		})},
		{"Credential in a text body", opaque, opaque, text(503, "text/plain", func(_, cred string) string {
			return `{"credential":"` + cred + `"}`
		})},
		{"a JWT not sent", "", jwt, text(400, "text/plain", func(string, string) string {
			return "Cookie: session=" + jwt
		})},
		{"a token not sent", "", token, text(400, "application/json", func(string, string) string {
			return jsonErr("invalid_request", "try "+token)
		})},
		{"an API key not sent", "", otherKey, text(502, "text/plain", func(string, string) string {
			return "X-Upstream-Key: " + otherKey
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.mux.HandleFunc("/", tc.handler)
			c := f.client()
			leak := tc.secret[:10]
			d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t", Credential: tc.cred})
			if d.Allowed() || err == nil {
				t.Fatalf("Check = %+v, %v; want a deny with an error", d, err)
			}
			if strings.Contains(err.Error(), leak) || strings.Contains(d.Reason, leak) {
				t.Errorf("Check's error holds %q: %v (reason %q)", leak, err, d.Reason)
			}
			ctx := agenttrust.WithAgent(t.Context(), "bot", "")
			if tc.cred != "" {
				ctx = agenttrust.WithCredential(ctx, tc.cred)
			}
			_, gerr := middleware.CheckToolCall(ctx, c, "t", []byte(`{}`))
			if msg := middleware.ToolResultMessage(gerr); strings.Contains(msg, leak) {
				t.Errorf("the model is shown %q: %s", leak, strconv.Quote(msg))
			}
		})
	}
}
