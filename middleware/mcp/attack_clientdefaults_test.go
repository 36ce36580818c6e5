package mcp_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	atmcp "github.com/agenttrust/agenttrust/middleware/mcp"
)

// TestAttackClientSchemaDefaultUnchecked: ClientMiddleware guards the
// calls an agent makes to a server that checks nothing itself (a third
// party's). That server's SDK fills a typed tool's omitted arguments
// from its input schema's defaults, so a call that leaves out the
// customer or the amount was checked without them and served with the
// default: the deny of customer 100 and of charges over 100 did not hold
// for what the server then did. The client guard now reads the tool's
// schema as the server middleware does and refuses such a call as
// invalid; it never leaves the agent.
func TestAttackClientSchemaDefaultUnchecked(t *testing.T) {
	// The server checks nothing; the tools record what they act on.
	c, srv, served := defaultsServer(t)

	client := sdk.NewClient(&sdk.Implementation{Name: "agent", Version: "v1"}, nil)
	client.AddSendingMiddleware(atmcp.ClientMiddleware(c, atmcp.ResourceArg("customer")))
	cs := connect(t, context.Background(), srv, client)
	ctx := agenttrust.WithAgent(context.Background(), "billing-bot", "")

	for _, tc := range []struct {
		tool, args string
		allow      bool
	}{
		{"crm.read", `{}`, false},
		{"crm.read", `{"note":"hi"}`, false},
		{"crm.read", ``, false},
		{"payments.charge", `{}`, false},
		{"payments.charge", `{"memo":"lunch"}`, false},
		{"orders.place", `{"order":{"item":"bolts"}}`, false},
		{"orders.place", `{}`, false},
		// controls: every defaulted argument sent
		{"crm.read", `{"customer":42}`, true},
		{"payments.charge", `{"amount":40}`, true},
		{"orders.place", `{"order":{"item":"bolts","quantity":10}}`, true},
	} {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			*served = nil
			var args any
			if tc.args != "" {
				args = json.RawMessage(tc.args)
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tc.tool, Arguments: args})
			if tc.allow {
				if err != nil || res.IsError || len(*served) != 1 {
					t.Errorf("control: err=%v served %v", err, *served)
				}
				return
			}
			var de *middleware.DeniedError
			if !errors.As(err, &de) || !errors.Is(err, agenttrust.ErrInvalidRequest) || de.Decision.Effect != agenttrust.Deny {
				t.Errorf("err = %v, want a DeniedError for an invalid request", err)
			}
			if len(*served) != 0 {
				t.Errorf("the server acted on %v, a value no check saw", *served)
			}
		})
	}
}
