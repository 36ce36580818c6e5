package remote

import (
	"fmt"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// The JSON bodies of the server's API (api/openapi.yaml) are in
// internal/wire, shared with the server. Answers are decoded strictly but
// may grow: unknown keys are skipped, a key that differs from a known one
// only in case is refused, and fields without omitempty or omitzero must
// be present. So a field the client relies on is never silently zero.

// keyInfo is the model of a key view.
func keyInfo(v *wire.KeyView) KeyInfo {
	return KeyInfo{
		Key: agenttrust.Key{
			ID: v.ID, Tenant: v.Tenant, AgentID: v.AgentID, Name: v.Name, Roles: v.Roles,
			AllowedIPs: v.AllowedIPs, Caveats: v.Caveats, CreatedAt: v.CreatedAt, ExpiresAt: v.ExpiresAt,
		},
		Revoked: v.Revoked,
	}
}

// approval is the model of an approval view.
func approval(v *wire.ApprovalView) (agenttrust.Approval, error) {
	st := store.ApprovalStatus(v.Status)
	switch st {
	case agenttrust.ApprovalPending, agenttrust.ApprovalApproved, agenttrust.ApprovalDenied, agenttrust.ApprovalConsumed:
	default:
		return agenttrust.Approval{}, fmt.Errorf("unknown approval status %q", v.Status)
	}
	return agenttrust.Approval{
		ID: v.ID, AgentID: v.AgentID, SessionID: v.SessionID, OnBehalfOf: v.OnBehalfOf,
		Tool: v.ToolName, Resource: v.Resource, Attributes: v.Attributes, Rule: v.RuleID,
		Reason: v.Reason, Approvers: v.Approvers, Status: st, CreatedAt: v.CreatedAt,
		ExpiresAt: v.ExpiresAt, DecidedAt: v.DecidedAt, DecidedBy: v.DecidedBy, Note: v.Note,
		GrantExpiresAt: v.GrantExpiresAt, ConsumedAt: v.ConsumedAt,
	}, nil
}
