// Package eino checks the tool calls of CloudWeGo Eino
// (github.com/cloudwego/eino) agents and graphs with an
// agenttrust.Checker.
//
// # Use
//
// Middleware is a compose.ToolMiddleware: add it to the ToolsNodeConfig of
// a ToolsNode, a ReAct agent or an adk.ChatModelAgent, and every call of
// every tool (invokable, streamable or enhanced) is checked before the
// tool runs:
//
//	cfg := adk.ToolsConfig{ToolsNodeConfig: compose.ToolsNodeConfig{
//		Tools:               tools,
//		ToolCallMiddlewares: []compose.ToolMiddleware{eino.Middleware(checker)},
//	}}
//
// # Requests
//
// Every call is checked by middleware.CheckToolCall, as in the other
// adapters. The tool's name is Request.Tool and its JSON arguments are
// Request.Attributes as middleware.JSONAttributes makes them: numbers are
// json.Number, objects and lists map[string]any and []any, and a value that is not
// an object becomes the attribute "input". Arguments that name a member
// twice (exactly, through an escape, or in another case) or hold more than
// one JSON value are denied as invalid and never checked: a tool made by
// Eino's utils.InferTool decodes them with bytedance/sonic, which, like
// encoding/json, keeps the last of two members and matches names
// case-insensitively, so it could see an amount the policy never did. WithResource, WithAttributes and any other
// middleware.ToolCallOption (such as middleware.ResourceKey) change the
// request. Eino has no
// notion of who is acting: the agent, session and credential come from
// agenttrust.WithAgent and agenttrust.WithCredential on the context given to
// Runner.Run or Invoke. Without them every call is denied.
//
// The check names the tool as the model called it. With Eino's
// ToolAliases that is the alias, not the tool's own name: a deny rule
// written for "delete_customer" does not stop a call of its alias
// "remove_customer", which Eino then runs as delete_customer. The
// middleware is not told the alias map. Do not give a tool aliases, or
// name every alias in the policy as the tool is named (an allow list,
// the default deny, fails closed on an alias it does not name).
//
// # Decisions
//
// Allow runs the tool. Deny, invalid arguments and any error of the check
// skip the tool and give the model "agenttrust: denied: <reason>" as its
// result. NeedsApproval skips the tool and interrupts the run at the
// tool with compose.StatefulInterrupt; the interrupt's info is a *Pending
// naming the agenttrust approval, and a CheckPointStore keeps the run.
// Once a human has decided in agenttrust (Client.Approve), resume the run:
// the tool is checked again and runs if agenttrust now allows it,
// consuming the approval. If it still needs approval, a tool that is the
// explicit target of the resume (ResumeWithParams) is denied, naming the
// approval; otherwise it interrupts again.
package eino
