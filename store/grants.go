package store

import (
	"context"
	"time"
)

// Remember asks that an approval, once granted, also allow later requests
// like the approved one without asking again.
type Remember struct {
	// Uses is how many later requests the grant allows, at least 1.
	Uses int
	// For is how long the grant lasts from its approval.
	For time.Duration
	// Resources are resource globs the grant covers; empty means only the
	// approved request's resource.
	Resources []string
}

// Grant is a remembered approval. A request is allowed under it, without
// a new approval, when the rule Rule holds it for approval and it comes
// from AgentID on behalf of OnBehalfOf, calls Tool on a resource Resources
// covers (Resource exactly, when Resources is empty), while UsesLeft is
// positive and before ExpiresAt. Each such request takes one use.
type Grant struct {
	Tenant     string
	ID         string
	ApprovalID string // the approval the grant was made with
	AgentID    string
	OnBehalfOf string
	Tool       string
	Rule       string
	Resource   string
	Resources  []string
	// Uses is how many requests the grant was made to allow, and UsesLeft
	// how many it has left. Uses is 0 in grants stored before it was kept.
	Uses      int
	UsesLeft  int
	ExpiresAt time.Time
	CreatedBy string
	// CreatedByKey is the API key at the root of the credential its
	// approver decided with, "" when none is known (a library caller's
	// approval). The grant allows nothing once that key is revoked,
	// suspended or expired, or is no longer in the store.
	CreatedByKey string
	// CreatedByCredentials are the ids of the credential derived from
	// CreatedByKey that the approver decided with, oldest first: the
	// token or JWT id, then its delegation hops; none when it used the
	// key itself. The grant allows nothing once any of them is revoked.
	CreatedByCredentials []string
	CreatedAt            time.Time
}

// Grants holds remembered approvals. It is optional: a client whose store
// lacks it refuses to remember an approval, and no request is ever allowed
// by a grant there.
type Grants interface {
	// CreateGrant stores g; ErrConflict if its id exists in the tenant.
	CreateGrant(ctx context.Context, g Grant) error
	// Grants lists the tenant's grants with uses left and ExpiresAt after
	// now, oldest first, for agentID and tool ("" for any).
	Grants(ctx context.Context, tenant, agentID, tool string, now time.Time) ([]Grant, error)
	// UseGrant takes one use of a grant with uses left and ExpiresAt after
	// now, and returns it with UsesLeft after the use. It returns
	// ErrNotFound otherwise; however many callers race, a grant is never
	// used more times than it was created with.
	UseGrant(ctx context.Context, tenant, id string, now time.Time) (Grant, error)
	// EndGrant takes every use left of a grant; ErrNotFound for an
	// unknown id. Ending an ended grant is not an error.
	EndGrant(ctx context.Context, tenant, id string) error
}

// GrantReader reads one grant by its id. It is optional: a client reads
// back with it a grant whose CreateGrant got no answer, which Grants
// does not list once its uses are taken.
type GrantReader interface {
	// Grant returns grant id of tenant, whatever uses it has left and
	// whenever it expires, or ErrNotFound.
	Grant(ctx context.Context, tenant, id string) (Grant, error)
}
