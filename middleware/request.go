package middleware

import (
	"context"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/agenttrust/agenttrust"
)

// callerRequest starts the request for a call of tool by the caller ctx
// carries: the agent, session, on-behalf-of and credential. It is the one
// place this package reads a caller from a context for a check.
func callerRequest(ctx context.Context, tool string) agenttrust.Request {
	req := agenttrust.Request{Tool: tool}
	if id, ok := agenttrust.IdentityFrom(ctx); ok {
		req.AgentID, req.SessionID, req.OnBehalfOf = id.AgentID, id.SessionID, id.OnBehalfOf
	}
	req.Credential, _ = agenttrust.CredentialFrom(ctx)
	return req
}

// noDecision is the reason of a deny that came without one.
const noDecision = "no decision"

// decide turns what a Checker answered into what Guard and CheckToolCall
// return: nil only for an Allow, an *ApprovalRequiredError for
// NeedsApproval, and otherwise an *DeniedError carrying err.
// Whenever err is set, or the effect is unknown, the Decision becomes a
// Deny, whatever the checker claimed, and a deny always has a reason.
func decide(d agenttrust.Decision, err error) (agenttrust.Decision, error) {
	switch {
	case err != nil:
	case d.Effect == agenttrust.Allow:
		return d, nil
	case d.Effect == agenttrust.NeedsApproval:
		return d, &ApprovalRequiredError{Decision: d, ApprovalID: d.ApprovalID}
	}
	d.Effect, d.ApprovalID = agenttrust.Deny, ""
	if d.Reason == "" {
		d.Reason = noDecision
	}
	return d, &DeniedError{Decision: d, Err: err}
}

// reasonResourceForm is the reason of a refused resource (resourceForm).
const reasonResourceForm = "resource not in Unicode NFC"

// resourceForm refuses a resource the check would judge in another form
// than the one the tool or handler then serves. Check judges a resource
// in Unicode NFC; the tool gets the text it was given, and where the two
// differ ("cafe\u0301" against "caf\u00e9") a file system that tells them
// apart holds two files: the check would allow one and the tool open the
// other. Text that is not UTF-8 is left to Check, which refuses it.
func resourceForm(resource string) error {
	for i := 0; i < len(resource); i++ {
		if resource[i] >= utf8.RuneSelf {
			if utf8.ValidString(resource) && !norm.NFC.IsNormalString(resource) {
				return fmt.Errorf("%w: resource %q is not in Unicode NFC, the form the check judges; send it as %q", agenttrust.ErrInvalidRequest, resource, norm.NFC.String(resource))
			}
			return nil
		}
	}
	return nil
}
