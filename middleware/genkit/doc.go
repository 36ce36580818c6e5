// Package genkit checks the tool calls of Firebase Genkit Go
// (github.com/firebase/genkit/go) generations with an agenttrust.Checker.
//
// # Use
//
// Middleware is Genkit middleware whose WrapTool hook runs before every
// tool; add it to a generation, a prompt or a flow's Generate call:
//
//	resp, err := genkit.Generate(ctx, g, ai.WithPrompt(...), ai.WithTools(tools...),
//		ai.WithUse(atgenkit.Middleware(checker)))
//
// WrapTool is the same hook, for composing into ai.Hooks of one's own.
//
// # Requests
//
// Every call is checked by middleware.CheckToolCallValue, as in the
// other adapters. The tool's name is Request.Tool and its input is
// Request.Attributes as the tool will read it: Genkit converts the input
// through the JSON encoding/json makes of it, so numbers are json.Number
// and objects and lists map[string]any and []any (see middleware.JSONAttributes),
// and an input that is not an object becomes the attribute "input". Input
// that names one member in two cases, which the tool would read as one, or
// that has no JSON form is denied as invalid and never checked.
// WithResource, WithAttributes and any other middleware.ToolCallOption
// (such as middleware.ResourceKey) change the request. Genkit has no
// notion of who is acting: the agent, session and credential come from
// agenttrust.WithAgent and agenttrust.WithCredential on the context given to
// Generate. Without them every call is denied.
//
// # Decisions
//
// Allow runs the tool. Deny, invalid input and any error of the check skip
// the tool and give the model {"error": "agenttrust: denied: <reason>"} as
// its output.
// NeedsApproval skips the tool and interrupts it, as ToolContext.Interrupt
// would: the response finishes with ai.FinishReasonInterrupted and its
// interrupt part carries a Pending naming the agenttrust approval. Once a
// human has decided in agenttrust (Client.Approve), restart the tool
// (Tool.Restart and ai.WithToolRestarts): it is checked again and runs if
// agenttrust now allows it, consuming the approval; otherwise the model is
// told the approval was not granted. A restart with replaced input is a new
// request and needs its own approval.
package genkit
