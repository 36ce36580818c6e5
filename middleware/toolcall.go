package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agenttrust/agenttrust"
)

// ToolCallOption configures CheckToolCall and CheckToolCallValue.
type ToolCallOption func(*toolCallConfig)

type toolCallConfig struct {
	resourceKey string
	inputKey    string
	resumed     bool
	edits       []func(*agenttrust.Request)
}

// ResourceKey names the argument whose value is the request's resource,
// such as ResourceKey("customer_id"). It must be a string or an integer
// in its plain spelling of at most 2^53 in magnitude (not 1e2 or 100.0,
// which a tool reads as 100); when absent the resource is empty. The
// argument stays an attribute too.
// A member spelled in another case ("Customer_ID") is the resource all the
// same, as encoding/json would fill a customer_id field from it.
func ResourceKey(name string) ToolCallOption {
	return func(c *toolCallConfig) { c.resourceKey = name }
}

// InputKey accepts arguments that are one JSON value other than an object
// (a string, a number, a list), for tools whose input is not an object:
// the value becomes the one attribute name, such as InputKey("input").
// Without it such arguments are invalid.
func InputKey(name string) ToolCallOption {
	return func(c *toolCallConfig) { c.inputKey = name }
}

// EditRequest has f change the request after it is built from the
// context and the arguments, and before it is checked: to name the
// resource, replace the attributes, or take the caller from where a
// framework keeps it. Edits run in the order given. f must not put
// anything unverified where the checker trusts it: a caller it sets is
// believed as if it came from the context.
func EditRequest(f func(*agenttrust.Request)) ToolCallOption {
	return func(c *toolCallConfig) { c.edits = append(c.edits, f) }
}

// Resumed says whether the call runs again after its approval was asked
// for (a resumed interrupt, a confirmed confirmation). A resumed call
// that still needs approval is denied, "approval <id> not granted",
// rather than asked about once more.
func Resumed(resumed bool) ToolCallOption {
	return func(c *toolCallConfig) { c.resumed = resumed }
}

// CheckToolCall checks a tool call a model asked for, before anything
// runs it: in a hand-written tool loop (openai-go, anthropic-sdk-go and
// the like), and in this module's adapters for agent frameworks, which
// all call it so they decide alike. name is the tool; argumentsJSON is
// the call's arguments as the model wrote them, which become the
// request's attributes (see JSONAttributes). Empty arguments and null
// have no attributes. The agent, session and credential come from ctx,
// as for Guard; EditRequest changes the request before the check.
//
// It returns the Decision and, unless it is an Allow, an error like
// Guard's: one matching ErrDenied (an *DeniedError,
// which also unwraps to the check's failure, or to
// agenttrust.ErrInvalidRequest for arguments JSONAttributes refuses, or
// to agenttrust.ErrInvalidConfig for a nil checker) or
// ErrApprovalRequired (an *ApprovalRequiredError).
// Invalid arguments are refused before the checker is asked, as is a
// resource not in Unicode NFC, which the checker would judge in that form
// while the tool runs on the one it was given. The error
// is set exactly when the Decision is not an Allow, and a deny always has
// a reason. Run the tool only when the error is nil; ToolResultMessage
// turns the error into a tool result the model can read.
func CheckToolCall(ctx context.Context, checker agenttrust.Checker, name string, argumentsJSON []byte, opts ...ToolCallOption) (agenttrust.Decision, error) {
	return checkToolCall(ctx, checker, name, argumentsJSON, nil, opts)
}

// CheckToolCallValue is CheckToolCall for arguments a framework holds
// decoded, such as a map[string]any or a tool's input struct: they are
// checked as the JSON encoding/json makes of them, which is what ADK,
// Genkit and the MCP SDK hand their tools. A map naming one member in two
// cases is refused, as is a value with no JSON form (NaN, a channel).
func CheckToolCallValue(ctx context.Context, checker agenttrust.Checker, name string, arguments any, opts ...ToolCallOption) (agenttrust.Decision, error) {
	b, err := json.Marshal(arguments)
	if err != nil {
		err = badArguments(err.Error())
	}
	return checkToolCall(ctx, checker, name, b, err, opts)
}

// Reasons of the denials CheckToolCall makes without asking the checker.
const (
	reasonMisconfigured = "tool call check misconfigured"
	reasonInvalid       = "invalid tool arguments"
)

func checkToolCall(ctx context.Context, checker agenttrust.Checker, name string, args []byte, argsErr error, opts []ToolCallOption) (agenttrust.Decision, error) {
	var cfg toolCallConfig
	for _, o := range opts {
		if o == nil {
			// Options are often built conditionally: a nil one refuses
			// the call rather than panic on every call.
			return decide(agenttrust.Decision{Reason: reasonMisconfigured}, fmt.Errorf("%w: CheckToolCall has a nil option", agenttrust.ErrInvalidConfig))
		}
		o(&cfg)
	}
	if checker == nil {
		return decide(agenttrust.Decision{Reason: reasonMisconfigured}, fmt.Errorf("%w: CheckToolCall has a nil checker", agenttrust.ErrInvalidConfig))
	}
	for _, edit := range cfg.edits {
		if edit == nil {
			return decide(agenttrust.Decision{Reason: reasonMisconfigured}, fmt.Errorf("%w: CheckToolCall has EditRequest of a nil function", agenttrust.ErrInvalidConfig))
		}
	}
	attrs, resource, err := cfg.arguments(args)
	if argsErr != nil {
		err = argsErr
	}
	if err != nil {
		return decide(agenttrust.Decision{Reason: reasonInvalid}, err)
	}
	req := callerRequest(ctx, name)
	req.Resource, req.Attributes = resource, attrs
	for _, edit := range cfg.edits {
		edit(&req)
	}
	if err := resourceForm(req.Resource); err != nil {
		return decide(agenttrust.Decision{Reason: reasonResourceForm}, err)
	}
	d, err := checker.Check(ctx, req)
	if err == nil && d.Effect == agenttrust.NeedsApproval && cfg.resumed {
		d.Effect, d.Reason = agenttrust.Deny, "approval "+d.ApprovalID+" not granted"
	}
	return decide(d, err)
}

// arguments turns a call's JSON arguments into the request's attributes
// and resource.
func (c *toolCallConfig) arguments(data []byte) (map[string]any, string, error) {
	data = trimJSONSpace(data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		return nil, "", nil
	case data[0] != '{' && c.inputKey != "":
		return jsonValueAttribute(data, c.inputKey, c.resourceKey)
	}
	return jsonAttributes(data, c.resourceKey)
}

// ToolResultMessage turns an error from CheckToolCall or Guard into a
// tool result for the model: what happened, in words, and whether to
// retry. It says only what the decision's reason says, never a secret,
// and returns "" for nil.
func ToolResultMessage(err error) string {
	if err == nil {
		return ""
	}
	var ae *ApprovalRequiredError
	if errors.As(err, &ae) {
		msg := "Not done: this action needs a person's approval (approval id " + ae.ApprovalID + ")"
		if ae.Decision.Reason != "" {
			msg += ": " + ae.Decision.Reason
		}
		return msg + ". Tell the user it is waiting for approval; do not retry it until then."
	}
	var de *DeniedError
	if !errors.As(err, &de) {
		return "Not done: the action could not be authorized. Do not retry it."
	}
	switch cause := de.Err; {
	case errors.Is(cause, agenttrust.ErrStoreUnavailable), errors.Is(cause, agenttrust.ErrAuditUnavailable), errors.Is(cause, agenttrust.ErrClosed):
		return "Not done: authorization is temporarily unavailable. Try again later."
	case errors.Is(cause, agenttrust.ErrInvalidRequest):
		return "Not done: the tool call is invalid (" + cause.Error() + "). Fix the arguments and call again."
	case errors.Is(cause, agenttrust.ErrUnauthorized):
		return "Not done: the agent's credential does not allow this action (" + de.Decision.Reason + "). Do not retry it."
	}
	reason := de.Decision.Reason
	if reason == "" {
		reason = "denied"
	}
	return "Not done: permission denied (" + reason + "). Do not retry it; choose another way or ask the user."
}
