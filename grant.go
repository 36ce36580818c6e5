package agenttrust

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust/internal/actor"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/observe"
	"github.com/agenttrust/agenttrust/store"
)

// Bounds of a remembered approval.
const (
	maxRememberUses      = 10_000
	maxRememberFor       = 30 * 24 * time.Hour
	maxRememberResources = 16
	grantPrefix          = "grt_"
)

// compileRemember checks a rule's remember bounds into cr.
func compileRemember(r *Rule, cr *compiledRule, fail func(format string, args ...any)) {
	if r.RememberUses == 0 && r.RememberFor == "" {
		return
	}
	if r.Effect != NeedsApproval {
		fail("remember_uses and remember_for are only meaningful on a needs_approval rule")
		return
	}
	if r.RememberUses < 1 || r.RememberUses > maxRememberUses {
		fail("remember_uses %d: want 1 to %d, with remember_for", r.RememberUses, maxRememberUses)
		return
	}
	d, err := time.ParseDuration(r.RememberFor)
	if err != nil || d < time.Second || d > maxRememberFor {
		fail("remember_for %q: want a duration from 1s to 720h, with remember_uses", r.RememberFor)
		return
	}
	cr.rememberUses, cr.rememberFor = r.RememberUses, d
}

// ApproveAndRemember grants a pending approval as Approve does and also
// remembers it: later requests of the same agent, on behalf of the same
// principal, to the same tool, that the same rule holds for approval, on
// a resource r.Resources covers (only the approved one when empty), are
// allowed without asking, r.Uses times at most, until r.For has passed.
// The rule must allow it (Rule.RememberUses and RememberFor bound r), so
// the built-in rule engine must have decided, and the store must hold
// grants (store.Grants). A deny rule still denies a request a grant
// covers; Revoke of the grant's id ends it.
//
// Two records go into the audit chain: "agenttrust.approve" and
// "agenttrust.remember" (naming the grant, its uses, lifetime and
// resources). When the approval is granted but the grant cannot be stored,
// the error says so and the approval allows its one request.
func (c *Client) ApproveAndRemember(ctx context.Context, id, approver, note string, r store.Remember) (store.Grant, error) {
	gs, ok := c.store.(store.Grants)
	if !ok {
		return store.Grant{}, fmt.Errorf("%w: the store does not hold grants (store.Grants): an approval cannot be remembered", ErrInvalidConfig)
	}
	a, err := c.Approval(ctx, id)
	if err != nil {
		return store.Grant{}, err
	}
	if err := c.checkRemember(a, r); err != nil {
		return store.Grant{}, err
	}
	if err := c.decideApproval(ctx, id, approver, note, ApprovalApproved); err != nil {
		return store.Grant{}, err
	}
	gid, err := c.newID(grantPrefix)
	if err != nil {
		return store.Grant{}, fmt.Errorf("approved once, not remembered: %w", err)
	}
	now := c.clock.Now()
	g := store.Grant{
		Tenant: c.tenant, ID: gid, ApprovalID: a.ID, AgentID: a.AgentID, OnBehalfOf: a.OnBehalfOf,
		Tool: a.Tool, Rule: a.Rule, Resource: a.Resource, Resources: append([]string(nil), r.Resources...),
		UsesLeft: r.Uses, ExpiresAt: now.Add(r.For), CreatedBy: approver, CreatedAt: now,
		// The key the server authenticated the approver by: the grant is
		// that credential's standing word, and ends with it.
		CreatedByKey: actor.From(ctx).KeyID,
	}
	op := operation{tool: opRemember, resource: gid, approval: id, reason: note, kvs: []attrKV{
		{Name: "approver", Value: approver},
		{Name: "resources", Value: strings.Join(r.Resources, ",")},
		{Name: "uses", Value: strconv.Itoa(r.Uses)},
		{Name: "valid_for", Value: r.For.String()},
	}}
	err = c.audited(ctx, op, func() error {
		if err := gs.CreateGrant(ctx, g); err != nil {
			return storeErr("create grant", err)
		}
		return nil
	})
	if err != nil {
		return store.Grant{}, fmt.Errorf("approved once, not remembered: %w", err)
	}
	c.event(ctx, observe.Event{Kind: observe.ApprovalDecided, Agent: approver, Outcome: "remembered"})
	return g, nil
}

// checkRemember holds r to the bounds of the rule that opened a.
func (c *Client) checkRemember(a Approval, r store.Remember) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: remember: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
	}
	ps := c.policy.Load()
	if ps == nil || ps.compiled == nil {
		return bad("only approvals of the built-in rule engine's rules can be remembered")
	}
	cr := ps.compiled.byID[a.Rule]
	if cr == nil || cr.effect != NeedsApproval || cr.rememberUses == 0 {
		return bad("rule %q does not allow remembering its approvals (remember_uses, remember_for)", a.Rule)
	}
	if !asApproved(&a, cr.reason, cr.approvers) {
		// Its approver may no longer be one, and the grant would allow
		// what the rule now holds for others.
		return bad("rule %q changed since approval %s was opened (reason or approvers): approve it once, or have the request asked again", a.Rule, a.ID)
	}
	if r.Uses < 1 || r.Uses > cr.rememberUses {
		return bad("uses %d: rule %q allows 1 to %d", r.Uses, a.Rule, cr.rememberUses)
	}
	if r.For <= 0 || r.For > cr.rememberFor {
		return bad("for %v: rule %q allows up to %v", r.For, a.Rule, cr.rememberFor)
	}
	if len(r.Resources) > maxRememberResources {
		return bad("more than %d resource globs", maxRememberResources)
	}
	for _, p := range r.Resources {
		if _, err := cond.ParseResourcePattern(p); err != nil {
			return bad("resources: %v", err)
		}
	}
	return nil
}

// useGrant is the approval phase's second chance, for a request the rule
// res.Rule holds for approval and no approval of its own covers: a live
// grant covering it lets it through, using one use. It returns
// errs.ApprovalNotFound when none does.
func (c *Client) useGrant(ctx context.Context, req *Request, res *PolicyResult, now time.Time) (store.Grant, error) {
	gs, ok := c.store.(store.Grants)
	if !ok {
		return store.Grant{}, errs.ApprovalNotFound
	}
	// A grant holds only while its rule still allows remembering, as its
	// approver saw it (reason and approvers, kept by its approval), and
	// within the rule's remember_for and remember_uses as they stand: a
	// shortened window ends older grants, and a lowered number of uses
	// ends those holding more (a grant keeps only what it has left, so
	// that is the bound it can be held to).
	ps := c.policy.Load()
	if ps == nil || ps.compiled == nil {
		return store.Grant{}, errs.ApprovalNotFound
	}
	cr := ps.compiled.byID[res.Rule]
	if cr == nil || cr.rememberUses == 0 {
		return store.Grant{}, errs.ApprovalNotFound
	}
	list, err := gs.Grants(ctx, c.tenant, req.AgentID, req.Tool, now)
	if err != nil {
		return store.Grant{}, err
	}
	for _, g := range list {
		// The agent and tool again, byte for byte: a store's filter is
		// the store's comparison (a collation may pad or fold).
		if g.AgentID != req.AgentID || g.Tool != req.Tool ||
			g.Rule != res.Rule || g.OnBehalfOf != req.OnBehalfOf || !grantCovers(&g, req.Resource) ||
			!now.Before(g.CreatedAt.Add(cr.rememberFor)) || g.UsesLeft > cr.rememberUses {
			continue
		}
		a, err := c.store.Approval(ctx, c.tenant, g.ApprovalID)
		switch {
		case isNotFound(err):
			continue
		case err != nil:
			return store.Grant{}, err
		case !asApproved(&a, res.Reason, res.Approvers):
			continue
		}
		switch stands, err := c.approverStands(ctx, &g, now); {
		case err != nil:
			return store.Grant{}, err
		case !stands:
			continue
		}
		used, err := gs.UseGrant(ctx, c.tenant, g.ID, now)
		switch {
		case err == nil:
			return used, nil
		case !isNotFound(err): // used up by another check meanwhile: try the next
			return store.Grant{}, err
		}
	}
	return store.Grant{}, errs.ApprovalNotFound
}

// approverStands reports whether the approver of g still stands behind
// it at now. A grant is its approver's standing word: while the approver
// is suspended or revoked (a rogue or compromised approver an operator
// stopped), or the API key it approved with is revoked, suspended,
// expired or gone (a leaked key, a key at the end of its life), the
// grants it made allow nothing.
func (c *Client) approverStands(ctx context.Context, g *store.Grant, now time.Time) (bool, error) {
	var err error
	if g.CreatedByKey == "" {
		err = c.refuseBlockedAt(ctx, g.CreatedBy)
	} else {
		err = c.refuseBlockedAt(ctx, g.CreatedBy, g.CreatedByKey)
	}
	switch {
	case errors.Is(err, ErrRevoked) || errors.Is(err, ErrSuspended):
		return false, nil
	case err != nil:
		return false, err
	case g.CreatedByKey == "":
		return true, nil
	}
	k, err := c.store.Key(ctx, c.tenant, g.CreatedByKey)
	switch {
	case isNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return k.AgentID == g.CreatedBy && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)), nil
}

// grantCovers reports whether g covers resource. A glob that no longer
// parses covers nothing.
func grantCovers(g *store.Grant, resource string) bool {
	if len(g.Resources) == 0 {
		return resource == g.Resource
	}
	for _, s := range g.Resources {
		if p, err := cond.ParseResourcePattern(s); err == nil && p.Match(resource) {
			return true
		}
	}
	return false
}

// endGrant ends grant id when the store holds grants, for Revoke.
func (c *Client) endGrant(ctx context.Context, id string) error {
	gs, ok := c.store.(store.Grants)
	if !ok {
		return nil
	}
	if err := gs.EndGrant(ctx, c.tenant, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// asApproved reports whether a rule whose reason and approvers are these
// is still the rule approval a was opened under, as its approver saw it.
func asApproved(a *Approval, reason string, approvers []string) bool {
	return a.Reason == reason && slices.Equal(a.Approvers, approvers)
}
