package mcp

import (
	"context"
	"encoding/json"
	"fmt"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
)

// ClientMiddleware returns middleware for Client.AddSendingMiddleware that
// checks every CallTool with checker before it is sent. The agent, session
// and credential come from the call's context (agenttrust.WithAgent,
// WithCredential); the tool's name and arguments make the request as
// ServerMiddleware makes it (ResourceArg applies), so a policy sees the same
// request on both sides. As ServerMiddleware does, it refuses as invalid a
// call that leaves out an argument to which the tool's input schema gives
// a default (the server's SDK would fill it in unchecked), reading the
// schema with tools/list from the server before the check.
//
// A call that is not allowed fails locally and never reaches the server:
// with an error matching middleware.ErrDenied (an *middleware.DeniedError
// carrying the Decision) or, for needs-approval, middleware.ErrApprovalRequired
// (an *middleware.ApprovalRequiredError with the approval id).
// middleware.ToolResultMessage turns either into text for the model. A nil
// checker fails every call.
//
// Every other request that reads or acts (resources/read,
// resources/subscribe, subscriptions/listen, prompts/get,
// completion/complete, custom methods) is checked before it is sent too,
// mapped to a Request as ServerMiddleware maps it (see the package doc),
// and fails the same way; UnsafeUncheckedMethods opts methods out. The
// SDK's ClientSession.Subscribe sends subscriptions/listen, under the
// protocol versions that have it, with a context of its own that names
// no agent, so the check refuses it: opt subscriptions/listen out to
// subscribe.
//
// When the server checks calls too, each call is checked, and audited,
// once on each side.
func ClientMiddleware(checker agenttrust.Checker, opts ...Option) sdk.Middleware {
	g := newGuard(checker, opts)
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			switch {
			case method == methodCallTool:
			case method == methodListTools || passes(method) || g.cfg.unchecked[method]:
				return next(ctx, method, req)
			default:
				acts, err := requestActs(method, req)
				if err != nil {
					return nil, err
				}
				for _, a := range acts {
					if _, err := middleware.CheckToolCallValue(ctx, g.checker, a.tool, a.attrs, middleware.EditRequest(func(r *agenttrust.Request) { r.Resource = a.resource })); err != nil {
						return nil, err
					}
				}
				return next(ctx, method, req)
			}
			p, ok := req.GetParams().(*sdk.CallToolParams)
			cs, _ := req.GetSession().(*sdk.ClientSession)
			if !ok || p == nil || cs == nil {
				return nil, denial("tool call not understood", fmt.Errorf("%w: tools/call without parameters", agenttrust.ErrInvalidRequest))
			}
			// The server's SDK fills in what its schema gives a default
			// after this check, as it does behind ServerMiddleware; a
			// server that checks nothing itself would act on it unseen.
			if args, err := json.Marshal(p.Arguments); err == nil {
				// Through the session, which adds what the protocol
				// version needs; this middleware passes tools/list on.
				list := func(cursor string) (sdk.Result, error) {
					return cs.ListTools(ctx, &sdk.ListToolsParams{Cursor: cursor})
				}
				if err := omittedDefault(list, p.Name, args); err != nil {
					return nil, err
				}
				if err := g.resourceSpelling(args); err != nil {
					return nil, err
				}
			}
			if _, err := middleware.CheckToolCallValue(ctx, g.checker, p.Name, p.Arguments, g.call...); err != nil {
				return nil, err
			}
			return next(ctx, method, req)
		}
	}
}
