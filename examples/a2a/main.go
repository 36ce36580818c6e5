// A2A: three agents over loopback HTTP, each hop narrower. The planner
// hands a research task to the researcher, allowed research and tools;
// the researcher calls the tool-runner, allowed only to fetch. The
// tool-runner sees both hops; a call outside the researcher's caveat is
// refused. Then an operator revokes the planner -> researcher hop: the
// researcher's held token, and everything it would delegate, stops
// working, while the planner itself carries on.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
	"github.com/agenttrust/agenttrust/store/memory"
)

const policy = `
rules:
  - id: planner-work
    effect: allow
    agents: [planner]
    tools: ["research.*", "tools.*"]
`

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// protect puts an agent's handler behind the middleware, one tool per
// route.
func protect(c agenttrust.Checker, h http.Handler, routes ...middleware.Route) (*httptest.Server, error) {
	action, err := middleware.Routes(routes...)
	if err != nil {
		return nil, err
	}
	return httptest.NewServer(middleware.HTTP(c, middleware.Options{Action: action})(h)), nil
}

// post sends an empty POST with ctx (and so its credential) and returns
// the status and the body or, for a refusal, "code: message".
func post(ctx context.Context, client *http.Client, url string) (int, string) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, string(raw)
	}
	var e middleware.ErrorBody
	json.Unmarshal(raw, &e)
	return resp.StatusCode, e.Error.Code + ": " + e.Error.Message
}

func hops(ctx context.Context) string {
	d, _ := middleware.DecisionFrom(ctx)
	return fmt.Sprintf("(agent %s, rule %s, %d hop(s))", d.AgentID, d.Rule, len(d.HopIDs))
}

func run() error {
	ctx := context.Background()
	p, err := agenttrust.ParsePolicy([]byte(policy), "yaml")
	if err != nil {
		return err
	}
	c, err := agenttrust.New(memory.New(), agenttrust.WithPolicy(p))
	if err != nil {
		return err
	}
	defer c.Close()

	// Tool-runner: runs tools.
	runner, err := protect(c, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("  tool-runner: %s %s\n", r.URL.Path, hops(r.Context()))
		io.WriteString(w, "done")
	}),
		middleware.Route{Pattern: "POST /tools/fetch", Tool: "tools.fetch"},
		middleware.Route{Pattern: "POST /tools/exec", Tool: "tools.exec"},
	)
	if err != nil {
		return err
	}
	defer runner.Close()

	// Researcher: takes tasks, keeps each task's token to resume it later,
	// and may only fetch through the tool-runner.
	toRunner := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in tools.fetch")}}
	var mu sync.Mutex
	held := map[string]string{} // task -> the token it was delegated
	useTools := func(ctx context.Context, tools ...string) {
		for _, tool := range tools {
			status, out := post(ctx, toRunner, runner.URL+"/tools/"+tool)
			fmt.Printf("  researcher -> tool-runner %-5s %d %s\n", tool, status, out)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("  researcher: new task %s %s\n", r.PathValue("id"), hops(r.Context()))
		tok, _ := agenttrust.CredentialFrom(r.Context())
		mu.Lock()
		held[r.PathValue("id")] = tok
		mu.Unlock()
		useTools(r.Context(), "fetch", "exec")
		d, _ := middleware.DecisionFrom(r.Context())
		io.WriteString(w, d.HopIDs[len(d.HopIDs)-1]) // the hop that reached the researcher
	})
	mux.HandleFunc("POST /tasks/{id}/resume", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("  researcher: resume task %s %s\n", r.PathValue("id"), hops(r.Context()))
		mu.Lock()
		tok := held[r.PathValue("id")]
		mu.Unlock()
		// The task goes on with the authority it was given, not the new call's.
		useTools(agenttrust.WithCredential(r.Context(), tok), "fetch")
		io.WriteString(w, "resumed")
	})
	researcher, err := protect(c, mux,
		middleware.Route{Pattern: "POST /tasks/{id}", Tool: "research.start", Resource: "task:{id}"},
		middleware.Route{Pattern: "POST /tasks/{id}/resume", Tool: "research.resume", Resource: "task:{id}"},
	)
	if err != nil {
		return err
	}
	defer researcher.Close()

	// Planner: exchanges its key for a token and delegates, narrowed.
	key, _, err := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner", Name: "planner"})
	if err != nil {
		return err
	}
	token, err := c.Exchange(ctx, key)
	if err != nil {
		return err
	}
	plannerCtx := agenttrust.WithCredential(ctx, token)
	toResearcher := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*,tools.*")}}

	fmt.Println("planner -> researcher: task t1 (token narrowed to research.*, tools.*)")
	status, hop := post(plannerCtx, toResearcher, researcher.URL+"/tasks/t1")
	if status != http.StatusOK {
		return fmt.Errorf("task t1: %d %s", status, hop)
	}

	fmt.Printf("\noperator: revoke %s, the planner -> researcher hop of task t1\n", hop)
	if err := c.Revoke(ctx, hop); err != nil {
		return err
	}

	fmt.Println("\nplanner -> researcher: resume task t1 (a new delegation)")
	if status, out := post(plannerCtx, toResearcher, researcher.URL+"/tasks/t1/resume"); status != http.StatusOK {
		return fmt.Errorf("resume: %d %s", status, out)
	}
	fmt.Println("\nthe planner's new delegation works; the revoked branch stays dead.")
	return nil
}
