package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agenttrust/agenttrust"
)

// ToolCallOption configures CheckToolCall.
type ToolCallOption func(*toolCallConfig)

type toolCallConfig struct {
	resourceKey string
}

// ResourceKey names the argument whose value is the request's resource,
// such as ResourceKey("customer_id"). It must be a string or a number;
// when absent the resource is empty. The argument stays an attribute too.
func ResourceKey(name string) ToolCallOption {
	return func(c *toolCallConfig) { c.resourceKey = name }
}

// CheckToolCall checks a tool call a model asked for, in a hand-written
// tool loop (openai-go, anthropic-sdk-go and the like), before the loop
// runs it. name is the tool; argumentsJSON is the call's arguments as the
// model wrote them, which become the request's attributes (see
// JSONAttributes). The agent, session and credential come from ctx, as
// for Guard.
//
// It returns the Decision and, unless it is an Allow, an error like
// Guard's: one matching agenttrust.ErrDenied (an *agenttrust.DeniedError,
// which also unwraps to the check's failure, or to
// agenttrust.ErrInvalidRequest for arguments that are not a JSON object)
// or agenttrust.ErrApprovalRequired (an *agenttrust.ApprovalRequiredError).
// Run the tool only when the error is nil; ToolResultMessage turns the
// error into a tool result the model can read.
func CheckToolCall(ctx context.Context, checker agenttrust.Checker, name string, argumentsJSON []byte, opts ...ToolCallOption) (agenttrust.Decision, error) {
	var cfg toolCallConfig
	for _, o := range opts {
		o(&cfg)
	}
	if checker == nil {
		d := agenttrust.Decision{Reason: "tool call check misconfigured"}
		return d, &agenttrust.DeniedError{Decision: d, Err: fmt.Errorf("%w: CheckToolCall has a nil checker", agenttrust.ErrInvalidConfig)}
	}
	attrs, resource, err := jsonAttributes(argumentsJSON, cfg.resourceKey)
	if err != nil {
		d := agenttrust.Decision{Reason: "invalid tool arguments"}
		return d, &agenttrust.DeniedError{Decision: d, Err: err}
	}
	req := agenttrust.Request{Tool: name, Resource: resource, Attributes: attrs}
	if id, ok := agenttrust.IdentityFrom(ctx); ok {
		req.AgentID, req.SessionID, req.OnBehalfOf = id.AgentID, id.SessionID, id.OnBehalfOf
	}
	req.Credential, _ = agenttrust.CredentialFrom(ctx)
	d, err := checker.Check(ctx, req)
	switch {
	case err != nil:
		d.Effect, d.ApprovalID = agenttrust.Deny, ""
		return d, &agenttrust.DeniedError{Decision: d, Err: err}
	case d.Effect == agenttrust.Allow:
		return d, nil
	case d.Effect == agenttrust.NeedsApproval:
		return d, &agenttrust.ApprovalRequiredError{Decision: d, ApprovalID: d.ApprovalID}
	}
	return d, &agenttrust.DeniedError{Decision: d}
}

// ToolResultMessage turns an error from CheckToolCall or Guard into a
// tool result for the model: what happened, in words, and whether to
// retry. It says only what the decision's reason says, never a secret,
// and returns "" for nil.
func ToolResultMessage(err error) string {
	if err == nil {
		return ""
	}
	var ae *agenttrust.ApprovalRequiredError
	if errors.As(err, &ae) {
		msg := "Not done: this action needs a person's approval (approval id " + ae.ApprovalID + ")"
		if ae.Decision.Reason != "" {
			msg += ": " + ae.Decision.Reason
		}
		return msg + ". Tell the user it is waiting for approval; do not retry it until then."
	}
	var de *agenttrust.DeniedError
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

// JSONAttributes turns a JSON object into request attributes: each
// top-level member becomes one attribute; strings, booleans and null keep
// their value, numbers become json.Number (which conditions such as
// "attr.amount <= 50" compare as numbers, without losing the digits of
// large integers), and objects and arrays become their compact JSON text.
// Empty input (or only whitespace) has no attributes. Input that is not a
// single JSON object, or that names a member twice (ignoring case, as
// encoding/json does when it fills a struct), is an error matching
// agenttrust.ErrInvalidRequest: a policy must see the same value the tool
// will.
func JSONAttributes(data []byte) (map[string]any, error) {
	attrs, _, err := jsonAttributes(data, "")
	return attrs, err
}

// jsonAttributes is JSONAttributes that also returns the text of the
// member named resourceKey, which must be a string, a number or null.
func jsonAttributes(data []byte, resourceKey string) (attrs map[string]any, resource string, err error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, "", nil
	}
	bad := func(msg string) error { return fmt.Errorf("%w: arguments: %s", agenttrust.ErrInvalidRequest, msg) }
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, "", bad("not a JSON object")
	}
	attrs = map[string]any{}
	folded := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, "", bad("not valid JSON")
		}
		key, ok := t.(string)
		if !ok {
			return nil, "", bad("not valid JSON")
		}
		// encoding/json matches struct fields case-insensitively and
		// keeps the last duplicate: refuse any name a tool might read
		// differently.
		f := strings.ToLower(strings.ToUpper(key))
		if folded[f] {
			return nil, "", bad(fmt.Sprintf("member %q appears twice (names are compared case-insensitively)", key))
		}
		folded[f] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, "", bad("not valid JSON")
		}
		v, err := attrValue(raw)
		if err != nil {
			return nil, "", bad("not valid JSON")
		}
		attrs[key] = v
		if key == resourceKey && resourceKey != "" {
			switch raw[0] {
			case '"':
				resource = v.(string)
			case 'n':
			case '{', '[', 't', 'f':
				return nil, "", fmt.Errorf("%w: argument %q names the resource and must be a string or a number", agenttrust.ErrInvalidRequest, key)
			default:
				resource = string(raw)
			}
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, "", bad("not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", bad("data after the JSON object")
	}
	return attrs, resource, nil
}

func attrValue(raw json.RawMessage) (any, error) {
	switch raw[0] {
	case '{', '[':
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, err
		}
		return b.String(), nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return json.Number(raw), nil
}
