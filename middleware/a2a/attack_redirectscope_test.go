package a2a_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// TestAttackA2ARedirectWidens: Caveats narrows each call by its path, as a
// caller fronting several agents on one origin does. A callee given a token
// for its own path answers 307 to another path of that origin: the request
// http.Client sends there must carry no more than the callee was given,
// the caveats of the first request and of the redirect both, never a token
// narrowed afresh from the caller's for a path the caller did not call.
func TestAttackA2ARedirectWidens(t *testing.T) {
	c, _, tok := newClient(t)
	scope := func(r *http.Request) []string {
		switch {
		case strings.HasPrefix(r.URL.Path, "/research"):
			return []string{"tool in research.*"}
		case strings.HasPrefix(r.URL.Path, "/tools"):
			return []string{"tool in tools.*"}
		}
		return []string{"tool in none"}
	}
	tests := []struct {
		name      string
		hops      []string // each answers 307 to the next, the last 200
		tool      string   // checked with the token the last hop received
		wantAllow bool
	}{
		{name: "no redirect", hops: []string{"https://agents.example/tools"}, tool: "tools.delete", wantAllow: true},
		{name: "redirect within the path", hops: []string{"https://agents.example/research", "https://agents.example/research/v2"}, tool: "research.read", wantAllow: true},
		{name: "research redirects to tools", hops: []string{"https://agents.example/research", "https://agents.example/tools"}, tool: "tools.delete"},
		{name: "tools redirects to research", hops: []string{"https://agents.example/tools", "https://agents.example/research"}, tool: "research.read"},
		{name: "two redirects back to tools", hops: []string{"https://agents.example/research", "https://agents.example/research/v2", "https://agents.example/tools"}, tool: "tools.delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent []string
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				n := len(sent)
				sent = append(sent, r.Header.Get("Authorization"))
				resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}
				if n+1 < len(tt.hops) {
					resp.StatusCode = http.StatusTemporaryRedirect
					resp.Header.Set("Location", tt.hops[n+1])
				}
				return resp, nil
			})
			hc := &http.Client{Transport: &a2a.Transport{Base: base, Caveats: scope}}
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(t.Context(), tok), http.MethodPost, tt.hops[0], strings.NewReader(`{}`))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(sent) != len(tt.hops) {
				t.Fatalf("sent %d requests, want %d", len(sent), len(tt.hops))
			}
			last, ok := strings.CutPrefix(sent[len(sent)-1], "Bearer ")
			if !ok {
				t.Fatalf("last hop got Authorization %.40q..., want a token", sent[len(sent)-1])
			}
			d, _ := c.Check(t.Context(), agenttrust.Request{Tool: tt.tool, Credential: last})
			if d.Allowed() != tt.wantAllow {
				t.Errorf("%s with the token %s received: %v (%s), want allowed=%v", tt.tool, tt.hops[len(tt.hops)-1], d.Effect, d.Reason, tt.wantAllow)
			}
		})
	}
}
