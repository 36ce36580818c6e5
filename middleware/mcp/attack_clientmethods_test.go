package mcp_test

import (
	"context"
	"errors"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackClientUncheckedMethods: ClientMiddleware checked only
// CallTool, so an agent whose own guard allows no resource, prompt or
// completion (testPolicy names none) read a server's files, got its
// prompts and had names completed all the same, from a server that
// checks nothing itself. Every request that reads or acts is now checked
// before it leaves, mapped as ServerMiddleware maps it, and fails with an
// error matching middleware.ErrDenied.
func TestAttackClientUncheckedMethods(t *testing.T) {
	c := newClient(t)
	srv, ran := newMethodServer()
	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c))
	cs := connect(t, context.Background(), srv, client)

	tests := []struct {
		name   string
		method string
		do     func() error
	}{
		{"read a resource", "resources/read", func() error {
			_, err := cs.ReadResource(agentCtx, &sdk.ReadResourceParams{URI: "file:///data/secret.txt"})
			return err
		}},
		{"get a prompt", "prompts/get", func() error {
			_, err := cs.GetPrompt(agentCtx, &sdk.GetPromptParams{Name: "summarize", Arguments: map[string]string{"topic": "layoffs"}})
			return err
		}},
		{"complete", "completion/complete", func() error {
			_, err := cs.Complete(agentCtx, &sdk.CompleteParams{Ref: &sdk.CompleteReference{Type: "ref/resource", URI: "file:///data/{name}"}, Argument: sdk.CompleteParamsArgument{Name: "name", Value: "s"}})
			return err
		}},
		{"subscribe", "resources/subscribe", func() error {
			return cs.Subscribe(agentCtx, &sdk.SubscribeParams{URI: "file:///data/secret.txt"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ran.get(tt.method)
			err := tt.do()
			var de *middleware.DeniedError
			if !errors.Is(err, middleware.ErrDenied) || !errors.As(err, &de) || de.Decision.Effect != agenttrust.Deny {
				t.Fatalf("err = %v, want a denial matching middleware.ErrDenied", err)
			}
			if n := ran.get(tt.method) - before; n != 0 {
				t.Errorf("the server's %s handler ran %d times", tt.method, n)
			}
		})
	}
}
