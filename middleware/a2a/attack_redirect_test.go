package a2a_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware/a2a"
)

// TestAttackA2ARedirect: a callee (or an open redirect on its host) answers
// 307 to another origin. http.Client follows it, but the request it sends
// there must carry no token, neither a freshly narrowed one nor the
// Authorization the caller set, and Caveats must not be asked about it. A
// redirect within the origin keeps its token: the callee already holds one
// as wide.
func TestAttackA2ARedirect(t *testing.T) {
	_, _, tok := newClient(t)
	tests := []struct {
		name string
		// hops are the URLs requested in turn: each answers 307 to the next,
		// the last 200.
		hops []string
		// withToken says which hops may receive a token.
		withToken []bool
		// noRequest: the base transport leaves Response.Request nil, as a
		// RoundTripper may.
		noRequest bool
	}{
		{name: "same origin", hops: []string{"https://callee.example/a2a", "https://callee.example/v2/a2a"}, withToken: []bool{true, true}},
		{name: "same origin, default port spelled", hops: []string{"https://callee.example/a2a", "https://CALLEE.example:443/v2"}, withToken: []bool{true, true}},
		{name: "same origin, relative location", hops: []string{"https://callee.example/a2a", "/v2"}, withToken: []bool{true, true}},
		{name: "same origin, base sets no Response.Request", hops: []string{"https://callee.example/a2a", "https://callee.example/v2"}, withToken: []bool{true, true}, noRequest: true},
		{name: "other host", hops: []string{"https://callee.example/a2a", "https://thief.example/steal"}, withToken: []bool{true, false}},
		{name: "subdomain", hops: []string{"https://callee.example/a2a", "https://evil.callee.example/steal"}, withToken: []bool{true, false}},
		{name: "other port", hops: []string{"https://callee.example/a2a", "https://callee.example:8443/steal"}, withToken: []bool{true, false}},
		{name: "other scheme", hops: []string{"https://localhost/a2a", "http://localhost/steal"}, withToken: []bool{true, false}},
		{name: "other host, base sets no Response.Request", hops: []string{"https://callee.example/a2a", "https://thief.example/steal"}, withToken: []bool{true, false}, noRequest: true},
		{name: "away and back", hops: []string{"https://callee.example/a2a", "https://thief.example/bounce", "https://callee.example/a2a?steer=1"}, withToken: []bool{true, false, false}},
		{name: "two hops away", hops: []string{"https://callee.example/a2a", "https://callee.example/v2", "https://thief.example/steal"}, withToken: []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				sent    []string // Authorization of each request sent
				asked   []string // URLs Caveats was asked about
				targets []string // URLs requested
			)
			base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
				n := len(sent)
				sent = append(sent, r.Header.Get("Authorization"))
				targets = append(targets, r.URL.String())
				resp := &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}
				if !tt.noRequest {
					resp.Request = r
				}
				if n+1 < len(tt.hops) {
					resp.StatusCode = http.StatusTemporaryRedirect
					resp.Header.Set("Location", tt.hops[n+1])
				}
				return resp, nil
			})
			hc := &http.Client{Transport: &a2a.Transport{
				Base: base,
				Caveats: func(r *http.Request) []string {
					asked = append(asked, r.URL.String())
					return []string{"tool in research.*"}
				},
			}}
			req, _ := http.NewRequestWithContext(agenttrust.WithCredential(t.Context(), tok), http.MethodPost, tt.hops[0], strings.NewReader(`{}`))
			req.Header.Set("Authorization", "Bearer caller-set")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(sent) != len(tt.hops) {
				t.Fatalf("sent %d requests (%q), want %d", len(sent), targets, len(tt.hops))
			}
			var wantAsked int
			for i, auth := range sent {
				if !tt.withToken[i] {
					if auth != "" {
						t.Errorf("hop %d (%s) received Authorization %.40q...", i, targets[i], auth)
					}
					continue
				}
				wantAsked++
				if !strings.HasPrefix(auth, "Bearer "+agenttrust.TokenPrefix) || auth == "Bearer "+tok {
					t.Errorf("hop %d (%s) got Authorization %.40q..., want a narrowed token", i, targets[i], auth)
				}
			}
			if len(asked) != wantAsked {
				t.Errorf("Caveats asked about %q, want only the %d hop(s) given a token", asked, wantAsked)
			}
		})
	}

	// The reviewer's case, over real connections: a callee on 127.0.0.1
	// redirects to a server on localhost.
	t.Run("real servers", func(t *testing.T) {
		var mu sync.Mutex
		var stolen string
		thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			stolen = r.Header.Get("Authorization")
			mu.Unlock()
		}))
		defer thief.Close()
		thiefURL := strings.Replace(thief.URL, "127.0.0.1", "localhost", 1) + "/steal"
		callee := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, thiefURL, http.StatusTemporaryRedirect)
		}))
		defer callee.Close()
		hc := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*")}}
		req, _ := http.NewRequestWithContext(agenttrust.WithCredential(t.Context(), tok), http.MethodPost, callee.URL+"/a2a", strings.NewReader(`{}`))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		if stolen != "" {
			t.Fatalf("a redirect to another host received Authorization %.40q...", stolen)
		}
	})
}
