package server

import (
	"encoding/json"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// The JSON bodies of the API are in internal/wire; these build them.

func viewKey(k agenttrust.Key, revoked bool) wire.KeyView {
	v := wire.KeyView{
		ID: k.ID, Tenant: k.Tenant, AgentID: k.AgentID, Name: k.Name,
		Roles: nonNil(k.Roles), AllowedIPs: nonNil(k.AllowedIPs), Caveats: nonNil(k.Caveats),
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, Revoked: revoked,
	}
	return v
}

func viewHop(h agenttrust.Hop) wire.HopView {
	return wire.HopView{ID: h.ID, Parent: h.Parent, TokenID: h.TokenID, KeyID: h.KeyID, AgentID: h.AgentID,
		Caveats: nonNil(h.Caveats), CreatedAt: h.CreatedAt, ExpiresAt: h.ExpiresAt}
}

func viewApproval(a agenttrust.Approval) wire.ApprovalView {
	attrs := a.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	return wire.ApprovalView{
		ID: a.ID, AgentID: a.AgentID, SessionID: a.SessionID, OnBehalfOf: a.OnBehalfOf,
		ToolName: a.Tool, Resource: a.Resource, Attributes: attrs, RuleID: a.Rule, Reason: a.Reason,
		Approvers: nonNil(a.Approvers), Status: string(a.Status), CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt,
		DecidedAt: a.DecidedAt, DecidedBy: a.DecidedBy, Note: a.Note,
		GrantExpiresAt: a.GrantExpiresAt, ConsumedAt: a.ConsumedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
