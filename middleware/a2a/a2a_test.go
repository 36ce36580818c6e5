package a2a_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
	"github.com/agenttrust/agenttrust/store/memory"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeTracker records whether a request body was closed.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

const chainPolicy = `
rules:
  - id: planner-work
    effect: allow
    agents: [planner]
    tools: ["research.*", "tools.*"]
`

func newClient(t *testing.T) (*agenttrust.Client, string, string) {
	t.Helper()
	p, err := agenttrust.ParsePolicy([]byte(chainPolicy), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	key, _, err := c.CreateKey(context.Background(), agenttrust.KeySpec{AgentID: "planner"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Exchange(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return c, key, tok
}

func TestTransport(t *testing.T) {
	_, key, tok := newClient(t)
	tests := []struct {
		name    string
		url     string
		cred    string
		tr      a2a.Transport
		wantErr error
		wantCav string // a caveat the sent token must carry
	}{
		{name: "loopback http", url: "http://127.0.0.1:8080/x", cred: tok},
		{name: "localhost", url: "http://localhost:8080/x", cred: tok},
		{name: "ipv6 loopback", url: "http://[::1]:8080/x", cred: tok},
		{name: "https", url: "https://researcher.internal/x", cred: tok,
			tr: a2a.Transport{Caveats: a2a.Caveats("tool in research.*")}, wantCav: "tool in research.*"},
		{name: "caveats per request", url: "https://researcher.internal/x", cred: tok,
			tr: a2a.Transport{Caveats: func(r *http.Request) []string { return []string{"resource in " + r.URL.Host + "/*"} }}, wantCav: "resource in researcher.internal/*"},
		{name: "plain http to a remote host", url: "http://researcher.internal/x", cred: tok, wantErr: a2a.ErrInsecureTransport},
		{name: "plain http allowed", url: "http://researcher.internal/x", cred: tok, tr: a2a.Transport{InsecureAllowHTTP: true}},
		{name: "no credential", url: "https://r/x", wantErr: a2a.ErrNoCredential},
		{name: "api key never forwarded", url: "https://r/x", cred: key, wantErr: a2a.ErrAPIKey},
		{name: "jwt cannot be narrowed", url: "https://r/x", cred: "eyJhbGciOiJFZERTQSJ9.e30.sig", wantErr: errs.UnsupportedCredential},
		{name: "malformed token", url: "https://r/x", cred: "att_!!", wantErr: agenttrust.ErrMalformedCredential},
		{name: "bad caveat", url: "https://r/x", cred: tok, tr: a2a.Transport{Caveats: a2a.Caveats("tool frobnicates x")}, wantErr: agenttrust.ErrCaveat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent *http.Request
			tr := tt.tr
			tr.Base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent = r
				return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
			})
			ctx := context.Background()
			if tt.cred != "" {
				ctx = agenttrust.WithCredential(ctx, tt.cred)
			}
			body := &closeTracker{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequestWithContext(ctx, "POST", tt.url, body)
			req.Header.Set("Authorization", "Bearer caller-set")
			req.Header.Set("X-Trace", "t1")
			resp, err := tr.RoundTrip(req)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || resp != nil || sent != nil {
					t.Fatalf("err = %v, want %v; sent %v", err, tt.wantErr, sent != nil)
				}
				if !body.closed {
					t.Error("body not closed on error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sent == req {
				t.Fatal("sent the caller's request itself")
			}
			if got := req.Header.Get("Authorization"); got != "Bearer caller-set" {
				t.Errorf("caller's request changed: Authorization %q", got)
			}
			if sent.Header.Get("X-Trace") != "t1" || sent.Body != req.Body {
				t.Errorf("clone lost headers or body")
			}
			scheme, sentTok, _ := strings.Cut(sent.Header.Get("Authorization"), " ")
			if scheme != "Bearer" || !strings.HasPrefix(sentTok, agenttrust.TokenPrefix) || sentTok == tok {
				t.Fatalf("sent Authorization %q", sent.Header.Get("Authorization"))
			}
			parent, _ := agenttrust.InspectTokenUnverified(tok)
			info, err := agenttrust.InspectTokenUnverified(sentTok)
			if err != nil || info.ID != parent.ID || len(info.HopIDs) != len(parent.HopIDs)+1 {
				t.Fatalf("sent token %+v (parent %+v): %v", info, parent, err)
			}
			if tt.wantCav != "" && !slices.Contains(info.Caveats, tt.wantCav) {
				t.Errorf("sent token caveats %q, want %q among them", info.Caveats, tt.wantCav)
			}
		})
	}
}

// agent is one agent's HTTP service behind the middleware, recording the
// decisions that let calls in.
type agent struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []agenttrust.Decision
}

func (a *agent) record(ctx context.Context) {
	d, _ := middleware.DecisionFrom(ctx)
	a.mu.Lock()
	a.log = append(a.log, d)
	a.mu.Unlock()
}

func (a *agent) last() agenttrust.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log[len(a.log)-1]
}

func serve(t *testing.T, c agenttrust.Checker, routes []middleware.Route, h http.Handler) *httptest.Server {
	t.Helper()
	action, err := middleware.Routes(routes...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(middleware.HTTP(c, middleware.Options{Action: action})(h))
	t.Cleanup(srv.Close)
	return srv
}

// call posts to url through client with ctx (and so its credential) and
// returns the status and the error, if any.
func call(t *testing.T, ctx context.Context, client *http.Client, url string) (int, middleware.ErrorDetail) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err) // not Fatal: handlers call this too
		return 0, middleware.ErrorDetail{}
	}
	defer resp.Body.Close()
	var body middleware.ErrorBody
	if resp.StatusCode != http.StatusOK {
		json.NewDecoder(resp.Body).Decode(&body)
	}
	return resp.StatusCode, body.Error
}

// TestHopChain: planner -> researcher -> tool-runner, each hop narrower.
// The tool-runner sees both hops; a call outside the researcher's narrowed
// caveat is refused; revoking the planner -> researcher hop kills that
// branch, and only that branch.
func TestHopChain(t *testing.T) {
	c, _, plannerTok := newClient(t)

	var runner agent
	runner.srv = serve(t, c, []middleware.Route{
		{Pattern: "POST /tools/fetch", Tool: "tools.fetch"},
		{Pattern: "POST /tools/exec", Tool: "tools.exec"},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runner.record(r.Context())
		io.WriteString(w, "ran")
	}))

	// The researcher may only fetch through the tool-runner.
	toRunner := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in tools.fetch")}}
	var researcher agent
	var heldCred string // the token the researcher was given, kept for later
	type report struct{ Fetch, Exec int }
	researcher.srv = serve(t, c, []middleware.Route{{Pattern: "POST /research", Tool: "research.search"}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			researcher.record(r.Context())
			heldCred, _ = agenttrust.CredentialFrom(r.Context())
			var rep report
			rep.Fetch, _ = call(t, r.Context(), toRunner, runner.srv.URL+"/tools/fetch")
			rep.Exec, _ = call(t, r.Context(), toRunner, runner.srv.URL+"/tools/exec")
			json.NewEncoder(w).Encode(rep)
		}))

	// The planner lets the researcher research and use tools.
	toResearcher := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*,tools.*")}}
	plannerCtx := agenttrust.WithCredential(context.Background(), plannerTok)

	research := func() report {
		req, _ := http.NewRequestWithContext(plannerCtx, "POST", researcher.srv.URL+"/research", nil)
		resp, err := toResearcher.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("research: %d %s", resp.StatusCode, b)
		}
		var rep report
		json.NewDecoder(resp.Body).Decode(&rep)
		return rep
	}

	rep := research()
	if rep.Fetch != 200 || rep.Exec != http.StatusForbidden {
		t.Fatalf("researcher's calls: fetch %d, exec %d; want 200, 403", rep.Fetch, rep.Exec)
	}
	atResearcher, atRunner := researcher.last(), runner.last()
	if len(atResearcher.HopIDs) != 1 || len(atRunner.HopIDs) != 2 || atRunner.HopIDs[0] != atResearcher.HopIDs[0] {
		t.Fatalf("hops at researcher %q, at tool-runner %q", atResearcher.HopIDs, atRunner.HopIDs)
	}
	if atResearcher.AgentID != "planner" || atRunner.AgentID != "planner" || atRunner.CredentialID != atResearcher.CredentialID {
		t.Fatalf("the chain acts for the planner's token: %+v / %+v", atResearcher, atRunner)
	}
	// The exec call was refused by the researcher's caveat, not by policy
	// (the policy allows tools.*).
	ctx := agenttrust.WithCredential(context.Background(), heldCred)
	if st, det := call(t, ctx, toRunner, runner.srv.URL+"/tools/exec"); st != http.StatusForbidden || det.Code != middleware.CodeInsufficientScope || !strings.Contains(det.Message, "tools.fetch") {
		t.Fatalf("exec outside the caveat: %d %+v", st, det)
	}
	// Only the researcher's narrowing excluded it: the planner's caveat
	// (tools.*) alone lets it through.
	wide := &http.Client{Transport: &a2a.Transport{}}
	if st, _ := call(t, ctx, wide, runner.srv.URL+"/tools/exec"); st != http.StatusOK {
		t.Fatalf("exec within the planner's caveat: %d", st)
	}

	// Revoke the planner -> researcher hop: the researcher's token and
	// everything it delegated die.
	if err := c.Revoke(context.Background(), atResearcher.HopIDs[0]); err != nil {
		t.Fatal(err)
	}
	st, det := call(t, ctx, toRunner, runner.srv.URL+"/tools/fetch")
	if st != http.StatusUnauthorized || det.Code != middleware.CodeInvalidToken || det.Message != agenttrust.ErrRevoked.Error() {
		t.Fatalf("tool-runner after revocation: %d %+v", st, det)
	}
	// A sibling branch (a new delegation from the planner) lives on.
	if rep := research(); rep.Fetch != 200 {
		t.Fatalf("new branch after revocation: %+v", rep)
	}
	if hops := runner.last().HopIDs; len(hops) != 2 || hops[0] == atResearcher.HopIDs[0] {
		t.Fatalf("new branch hops %q", hops)
	}
}
