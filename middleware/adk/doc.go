// Package adk checks the tool calls of Google ADK Go agents
// (google.golang.org/adk/v2) with an agenttrust.Checker.
//
// # Use
//
// Install the plugin on the runner, and every function tool of every agent
// it runs is checked before it runs:
//
//	p, err := adk.Plugin(checker)
//	r, err := runner.New(runner.Config{Agent: a, SessionService: s,
//		PluginConfig: runner.PluginConfig{Plugins: []*plugin.Plugin{p}}})
//
// or give BeforeTool to one agent's llmagent.Config.BeforeToolCallbacks.
//
// # Requests
//
// Every call is checked by middleware.CheckToolCallValue, as in the
// other adapters. The tool's name is Request.Tool and its arguments are
// Request.Attributes as the tool will read them: ADK hands a tool the JSON
// encoding/json makes of them, so numbers are json.Number and objects and
// lists map[string]any and []any (see middleware.JSONAttributes). Arguments that
// name one member in two cases, which the tool would read as one, or that
// have no JSON form are denied as invalid and never checked. WithResource,
// WithAttributes and any other middleware.ToolCallOption (such as
// middleware.ResourceKey) change the request. Who is acting comes from
// agenttrust.WithAgent on the context given to runner.Run; fields it leaves
// empty fall back to ADK's own: the agent's name, the session id and the
// session's user as OnBehalfOf. The credential comes from
// agenttrust.WithCredential.
//
// # Decisions
//
// Allow runs the tool. Deny, invalid arguments and any error of the check
// skip the tool and give the model {"error": "agenttrust: denied: <reason>"}
// as its result. NeedsApproval skips the tool and asks ADK for a tool
// confirmation (the adk_request_confirmation function call), whose payload
// is a Pending naming the agenttrust approval. The human's decision is
// made in agenttrust (Client.Approve); the client then answers the
// confirmation. A rejected confirmation denies; a confirmed one checks
// again, so the tool runs only if agenttrust now allows it, consuming the
// approval. Confirming in ADK without approving in agenttrust runs
// nothing.
//
// ADK calls BeforeToolCallback for function tools only: streaming tools
// and tools the model runs itself (such as Google Search) are not checked
// here; guard their functions with middleware.Guard.
//
// ADK runs the agent of an agent tool (agenttool.New) in a runner of its
// own, without the plugins of the runner that called it, so the plugin
// would never see that agent's tool calls: the plugin denies every call of
// an agent tool as misconfigured. To use agent tools, give every agent
// BeforeTool in its llmagent.Config.BeforeToolCallbacks instead of the
// plugin.
package adk
