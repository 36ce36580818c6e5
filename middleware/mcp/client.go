package mcp

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
)

// ClientMiddleware returns middleware for Client.AddSendingMiddleware that
// checks every CallTool with checker before it is sent. The agent, session
// and credential come from the call's context (agenttrust.WithAgent,
// WithCredential); the tool's name and arguments make the request as
// ServerMiddleware makes it (ResourceArg applies), so a policy sees the same
// request on both sides.
//
// A call that is not allowed fails locally and never reaches the server:
// with an error matching agenttrust.ErrDenied (an *agenttrust.DeniedError
// carrying the Decision) or, for needs-approval, agenttrust.ErrApprovalRequired
// (an *agenttrust.ApprovalRequiredError with the approval id).
// middleware.ToolResultMessage turns either into text for the model. A nil
// checker fails every call.
//
// When the server checks calls too, each call is checked, and audited,
// once on each side.
func ClientMiddleware(checker agenttrust.Checker, opts ...Option) sdk.Middleware {
	g := newGuard(checker, "ClientMiddleware", opts)
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if method != methodCallTool {
				return next(ctx, method, req)
			}
			p, ok := req.GetParams().(*sdk.CallToolParams)
			if !ok || p == nil {
				return nil, invalid("tool call not understood", fmt.Errorf("%w: tools/call without parameters", agenttrust.ErrInvalidRequest))
			}
			args, err := argumentsJSON(p.Arguments)
			if err != nil {
				return nil, invalid("tool arguments are not a JSON object", err)
			}
			cl := caller{}
			cl.id, _ = agenttrust.IdentityFrom(ctx)
			cl.cred, _ = agenttrust.CredentialFrom(ctx)
			if _, err := g.check(ctx, cl, p.Name, args); err != nil {
				return nil, err
			}
			return next(ctx, method, req)
		}
	}
}

// argumentsJSON is the JSON the SDK will send for a call's arguments.
func argumentsJSON(v any) ([]byte, error) {
	switch a := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return a, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: arguments: %v", agenttrust.ErrInvalidRequest, err)
	}
	return b, nil
}
