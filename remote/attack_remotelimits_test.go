package remote_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/storeapi"
)

// TestAttackRemoteEngineDropsLimits: a tenant's stored policy caps a
// tool's rate. A process deciding with remote.NewPolicyEngine (the store
// API's evaluate route, as package remote's documentation shows) got the
// rules' verdict from the server and applied none of the limits: the
// server leaves them to "the asking Client", and a Client with
// WithPolicyEngine applies no policy limits. Every call past the rate
// was allowed, and a cluster limit (which SECURITY says is never
// silently node-local) was not applied anywhere. The evaluate route now
// refuses a stored policy holding limits, so such a check denies with
// ErrPolicyEngine, naming why, rather than allow past the rate.
func TestAttackRemoteEngineDropsLimits(t *testing.T) {
	for _, scope := range []string{"node", "cluster"} {
		t.Run(scope, func(t *testing.T) {
			d := deploy(t)
			ctx := t.Context()
			policy := `{"rules":[{"id":"read","effect":"allow","tools":["docs.read"]}],` +
				`"limits":[{"id":"reads","tools":["docs.read"],"rate":"2/h","burst":2,"scope":"` + scope + `"}]}`
			d.savePolicy(t, policy)
			local := d.engineClient(t)
			allowed := 0
			var lastErr error
			for range 5 {
				dec, err := local.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"})
				if dec.Allowed() {
					allowed++
				}
				lastErr = err
			}
			if allowed > 2 {
				t.Fatalf("a stored limit of 2 an hour, burst 2: the remote engine allowed %d of 5 calls", allowed)
			}
			if !errors.Is(lastErr, agenttrust.ErrPolicyEngine) {
				t.Fatalf("last check: %v; want ErrPolicyEngine", lastErr)
			}
			// The server's log says why (the store API withholds the
			// message of an internal error): the engine names the limits.
			sp, err := storeapi.NewStoredPolicies(d.st)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sp.Evaluate(ctx, &agenttrust.PolicyInput{Tenant: "acme", AgentID: "bot", Tool: "docs.read"}); !errors.Is(err, agenttrust.ErrInvalidConfig) || !strings.Contains(err.Error(), "rate limits (reads)") {
				t.Fatalf("evaluate route: %v; want ErrInvalidConfig naming limit reads", err)
			}
			// The control: the server, deciding with the stored policy
			// itself, allows two.
			bot := d.client(t, "bot")
			served := 0
			for range 5 {
				if dec, _ := bot.Check(ctx, agenttrust.Request{AgentID: "bot", Tool: "docs.read"}); dec.Allowed() {
					served++
				}
			}
			if served != 2 {
				t.Fatalf("the server allowed %d of 5 under a limit of 2", served)
			}
		})
	}
}
