package agenttrust

import "github.com/agenttrust/agenttrust/store"

// The root names the store's value types it hands out, so that a program
// needs only this package to read a decision, an approval, an audit
// record or a delegation hop. Each is the store's type itself: values
// pass between the client and a store without conversion.

// Effect is the outcome of a decision: Deny (the zero value), Allow or
// NeedsApproval. It marshals as "deny", "allow" and "needs_approval".
type Effect = store.Effect

// The effects.
const (
	Deny          = store.Deny
	Allow         = store.Allow
	NeedsApproval = store.NeedsApproval
)

// DecisionID identifies a decision: 16 bytes, time-ordered, formatted as a
// UUID (version 7 layout). Making one allocates nothing. The zero
// DecisionID names no decision.
type DecisionID = store.DecisionID

// Approval is a request held for a decision; see store.Approval. A plain
// value, like every alias here: safe to copy and to share once made. The
// zero Approval names no approval.
type Approval = store.Approval

// ApprovalFilter selects approvals; see store.ApprovalFilter. The zero
// ApprovalFilter selects every approval of the client's tenant.
type ApprovalFilter = store.ApprovalFilter

// ApprovalStatus is the state of an Approval; see store.ApprovalStatus.
// The zero ApprovalStatus ("") is no state an Approval is in.
type ApprovalStatus = store.ApprovalStatus

// Approval states.
const (
	ApprovalPending  = store.ApprovalPending
	ApprovalApproved = store.ApprovalApproved
	ApprovalDenied   = store.ApprovalDenied
	ApprovalConsumed = store.ApprovalConsumed
)

// AuditRecord is the record of one decision; see store.AuditRecord. The
// zero AuditRecord belongs to no chain: VerifyChain refuses it.
type AuditRecord = store.AuditRecord

// Hop is a recorded step of server-side delegation. The zero Hop names no
// hop.
type Hop = store.Hop
