package mcp_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// countingChecker counts the checks it passes on.
type countingChecker struct {
	c agenttrust.Checker
	n atomic.Int64
}

func (k *countingChecker) Check(ctx context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
	k.n.Add(1)
	return k.c.Check(ctx, req)
}

// TestAttackListenFlood: a subscriptions/listen request is checked once
// for each URI of its resourceSubscriptions, and nothing bounded how many
// it names. One message of a few megabytes, which an MCP client sends at
// no cost, made the server run tens of thousands of checks in a row,
// each an audit record, a rate-limit token and a breaker count, while
// the request held its goroutine (in durable audit mode, through one
// group commit per URI): the work one request bought grew with its size.
// A listen naming more than atmcp.MaxListenSubscriptions URIs is now
// refused as invalid before any check, and its handler does not run.
func TestAttackListenFlood(t *testing.T) {
	p, err := agenttrust.ParsePolicy([]byte(`
rules:
  - id: data
    effect: allow
    agents: [billing-bot]
    tools: ["mcp.resources/subscribe"]
    resources: ["file:///data/*"]
`), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, agenttrust.WithPolicy(p))
	uris := func(n int, distinct bool) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "file:///data/report.txt"
			if distinct {
				out[i] = "file:///data/f" + strconv.Itoa(i) + ".txt"
			}
		}
		return out
	}
	tests := []struct {
		name    string
		uris    []string
		refused bool
	}{
		{"at the bound", uris(atmcp.MaxListenSubscriptions, true), false},
		{"one past the bound", uris(atmcp.MaxListenSubscriptions+1, true), true},
		{"ten thousand files", uris(10000, true), true},
		{"one file ten thousand times", uris(10000, false), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &countingChecker{c: c}
			reached := false
			h := atmcp.ServerMiddleware(k)(func(context.Context, string, sdk.Request) (sdk.Result, error) {
				reached = true
				return nil, nil
			})
			_, err := h(agentCtx, "subscriptions/listen", &sdk.SubscriptionsListenRequest{Params: &sdk.SubscriptionsListenParams{
				Notifications: &sdk.NotificationSubscriptions{ResourceSubscriptions: tt.uris},
			}})
			checks := k.n.Load()
			if !tt.refused {
				if err != nil || !reached || checks != int64(len(tt.uris)) {
					t.Fatalf("err = %v, reached = %v, checks = %d: want the listen allowed after %d checks", err, reached, checks, len(tt.uris))
				}
				return
			}
			if checks != 0 {
				t.Errorf("one request ran %d checks, want none past the bound of %d", checks, atmcp.MaxListenSubscriptions)
			}
			if reached {
				t.Error("the listen reached its handler")
			}
			assertDenied(t, err)
			var we *jsonrpc.Error
			if errors.As(err, &we) && we.Code != jsonrpc.CodeInvalidParams {
				t.Errorf("code = %d, want %d (invalid params)", we.Code, jsonrpc.CodeInvalidParams)
			}
		})
	}
}
