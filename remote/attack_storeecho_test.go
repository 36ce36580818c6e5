package remote_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/storeapi"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackStoreAPICredentialEchoed: NewStore, NewPolicyEngine and
// NewAuditSink send a system tenant's admin key, which is as powerful as
// a database writer. A proxy or echo service in front of the store API
// that reflects the request, or an answer holding another credential,
// must not put that key (nor its start, where a snippet is cut) into
// their errors, which a process logs or returns, as the remote client's
// own errors do not (TestAttackCredentialEchoed).
func TestAttackStoreAPICredentialEchoed(t *testing.T) {
	adminKey, err := apikey.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := apikey.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	echo := func(status int, api bool, body func(auth string) string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if api {
				w.Header().Set(storeapi.APIHeader, storeapi.APIVersion)
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body(r.Header.Get("Authorization")))
		}
	}
	for _, tc := range []struct {
		name    string
		secret  string
		handler http.HandlerFunc
	}{
		{"bearer in a 502 page", adminKey, echo(502, false, func(auth string) string { return "<pre>" + auth + "</pre>" })},
		{"bearer in a 200 answer that is not the store API's", adminKey, echo(200, false, func(auth string) string { return "echo " + auth })},
		{"bearer in a header-like line cut by the snippet", adminKey, echo(400, false, func(auth string) string {
			return strings.Repeat(".", 88) + "Authorization: " + auth + "\r\n"
		})},
		{"bearer in an error message", adminKey, echo(400, true, func(auth string) string {
			return `{"error":{"code":"invalid","message":"you sent ` + auth + `"}}`
		})},
		{"bearer as an error code", adminKey, echo(401, true, func(auth string) string {
			return `{"error":{"code":"` + strings.TrimPrefix(auth, "Bearer ") + `","message":"no"}}`
		})},
		{"bearer in a malformed error answer", adminKey, echo(403, true, func(auth string) string { return `{"denied":"` + auth + `"}` })},
		{"bearer as an unknown key of an answer", adminKey, echo(200, true, func(auth string) string { return `{"` + auth + `":1}` })},
		{"bearer as a block kind", adminKey, echo(200, true, func(auth string) string {
			return `{"blocks":[{"tenant":"acme","id":"x","kind":"` + auth + `"}]}`
		})},
		{"an API key not sent", otherKey, echo(502, false, func(string) string { return "X-Upstream-Key: " + otherKey })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			leak := tc.secret[:10]
			st, err := remote.NewStore(srv.URL, adminKey)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			if _, err := st.Blocks(t.Context(), "acme"); err == nil || strings.Contains(err.Error(), leak) {
				t.Errorf("store: Blocks error %v; want one without %q", err, leak)
			}
			eng, err := remote.NewPolicyEngine(srv.URL, adminKey)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = eng.Close() })
			res, err := eng.Evaluate(t.Context(), &agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "t"})
			if err == nil || res.Effect != agenttrust.Deny || strings.Contains(err.Error(), leak) {
				t.Errorf("engine: Evaluate = %v, %v; want a deny with an error without %q", res.Effect, err, leak)
			}
		})
	}
}
