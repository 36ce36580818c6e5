package middleware

import (
	"context"
	"errors"

	"github.com/agenttrust/agenttrust"
)

var (
	// ErrDenied matches the error Guard returns when a decision denies.
	ErrDenied = errors.New("agenttrust: denied")
	// ErrApprovalRequired matches the error Guard returns when a decision
	// needs approval.
	ErrApprovalRequired = errors.New("agenttrust: approval required")
)

// DeniedError is returned by Guard when a decision denies. It matches
// ErrDenied, carries the Decision and unwraps to the check's error, if the
// denial came from one (such as agenttrust.ErrStoreUnavailable).
type DeniedError struct {
	Decision agenttrust.Decision
	Err      error
}

func (e *DeniedError) Error() string {
	return "agenttrust: denied: " + e.Decision.Reason
}

// Unwrap returns the check's error, or nil.
func (e *DeniedError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDenied) hold.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// ApprovalRequiredError is returned by Guard when a decision needs
// approval. It matches ErrApprovalRequired.
type ApprovalRequiredError struct {
	Decision   agenttrust.Decision
	ApprovalID string
}

func (e *ApprovalRequiredError) Error() string {
	return "agenttrust: approval required (approval " + e.ApprovalID + "): " + e.Decision.Reason
}

// Is makes errors.Is(err, ErrApprovalRequired) hold.
func (e *ApprovalRequiredError) Is(target error) bool { return target == ErrApprovalRequired }

// ApprovalWaiter is implemented by checkers that can block until an
// approval is decided: *agenttrust.Client and the remote client. Guard
// needs one for WaitForApproval.
type ApprovalWaiter interface {
	WaitApproval(ctx context.Context, id string) (agenttrust.Approval, error)
}

var _ ApprovalWaiter = (*agenttrust.Client)(nil)
