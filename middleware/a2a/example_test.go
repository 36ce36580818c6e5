package a2a_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/middleware/a2a"
	"github.com/agenttrust/agenttrust/store/memory"
)

// A planner delegates to a researcher service, narrowed to research tools.
func ExampleTransport() {
	policy, _ := agenttrust.ParsePolicy([]byte(`
rules:
  - id: planner
    effect: allow
    agents: [planner]
    tools: ["research.*", "payments.*"]
`), "yaml")
	c, _ := agenttrust.New(memory.New(), agenttrust.WithPolicy(policy))
	defer c.Close()
	ctx := context.Background()
	key, _, _ := c.CreateKey(ctx, agenttrust.KeySpec{AgentID: "planner"})
	token, _ := c.Exchange(ctx, key)

	// The researcher: any POST /{tool} runs that tool, if allowed.
	action := func(r *http.Request) (string, string, bool) { return r.URL.Path[1:], "", true }
	researcher := httptest.NewServer(middleware.HTTP(c, middleware.Options{Action: action})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := middleware.DecisionFrom(r.Context())
			fmt.Fprintf(w, "ran as %s after %d hop(s)", d.AgentID, len(d.HopIDs))
		})))
	defer researcher.Close()

	client := &http.Client{Transport: &a2a.Transport{Caveats: a2a.Caveats("tool in research.*")}}
	plannerCtx := agenttrust.WithCredential(ctx, token)
	for _, tool := range []string{"research.search", "payments.charge"} {
		req, _ := http.NewRequestWithContext(plannerCtx, "POST", researcher.URL+"/"+tool, nil)
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body = []byte("refused")
		}
		fmt.Println(tool, resp.StatusCode, string(body))
	}

	// An API key is never sent on.
	req, _ := http.NewRequestWithContext(agenttrust.WithCredential(ctx, key), "POST", researcher.URL+"/research.search", nil)
	_, err := client.Do(req)
	fmt.Println(errors.Is(err, a2a.ErrAPIKey))
	// Output:
	// research.search 200 ran as planner after 1 hop(s)
	// payments.charge 403 refused
	// true
}
