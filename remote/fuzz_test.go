package remote_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzCheckAnswer feeds Check arbitrary answers: it never allows with an
// error, and allows only for an answer that says allow, consistently.
func FuzzCheckAnswer(f *testing.F) {
	for _, s := range []string{
		decisionJSON("allow", true, ""), decisionJSON("deny", false, ""), decisionJSON("allow", true, `,"error":"x"`),
		decisionJSON("allow", false, ""), `{"allowed":true}`, `{"error":{"code":"revoked","message":"m"}}`, `[`, ``,
	} {
		f.Add(200, "application/json", s)
		f.Add(401, "application/json", s)
	}
	f.Fuzz(func(t *testing.T, status int, ctype, body string) {
		if status < 100 || status > 999 {
			return
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: status, Header: http.Header{"Content-Type": {ctype}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r,
			}, nil
		})}
		c, err := remote.New("http://127.0.0.1:1", agentKey, remote.WithHTTPClient(hc))
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Check(t.Context(), agenttrust.Request{AgentID: "bot", Tool: "t"})
		if err != nil && d.Effect != agenttrust.Deny {
			t.Fatalf("%d %q: %+v with error %v", status, body, d, err)
		}
		if d.Allowed() && (status != 200 || !strings.Contains(body, `"allow"`) || !strings.Contains(body, "true")) {
			t.Fatalf("%d %q: allowed", status, body)
		}
		if err == nil && d.Reason == "" && d.Effect == agenttrust.Deny && status != 200 {
			t.Fatalf("%d %q: a deny without an error or a reason", status, body)
		}
	})
}
