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
	"github.com/agenttrust/agenttrust/internal/redact"
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
	who := actor.From(ctx)
	g := store.Grant{
		Tenant: c.tenant, ID: gid, ApprovalID: a.ID, AgentID: a.AgentID, OnBehalfOf: a.OnBehalfOf,
		Tool: a.Tool, Rule: a.Rule, Resource: a.Resource, Resources: append([]string(nil), r.Resources...),
		Uses: r.Uses, UsesLeft: r.Uses, ExpiresAt: now.Add(r.For), CreatedBy: approver, CreatedAt: now,
		// The key the server authenticated the approver by, and the token
		// or JWT (and hops) derived from it that it presented: the grant
		// is that credential's standing word, and ends with it.
		CreatedByKey: who.KeyID, CreatedByCredentials: slices.Clone(who.Credentials),
	}
	op := operation{tool: opRemember, resource: gid, approval: id, reason: note, kvs: []attrKV{
		{Name: "approver", Value: approver},
		{Name: "resources", Value: strings.Join(r.Resources, ",")},
		{Name: "uses", Value: strconv.Itoa(r.Uses)},
		{Name: "valid_for", Value: r.For.String()},
	}}
	err = c.audited(ctx, op, func() error {
		err := gs.CreateGrant(ctx, g)
		if err == nil {
			return nil
		}
		// No answer is not a refusal: the store may have committed the
		// grant before its reply was lost. Reported and noted as not
		// made, it would allow its uses all the same, a standing
		// permission its approver has no reason to revoke.
		switch stored, rerr := c.grantStored(ctx, gs, &g); {
		case stored:
			return nil
		case rerr != nil:
			return fmt.Errorf("%w (whether grant %s was stored is unknown: %v)", storeErr("create grant", err), gid, rerr)
		}
		return storeErr("create grant", err)
	})
	if err != nil {
		return store.Grant{}, fmt.Errorf("approved once, not remembered: %w", err)
	}
	c.event(ctx, observe.Event{Kind: observe.ApprovalDecided, Agent: approver, Outcome: "remembered"})
	return g, nil
}

// grantStored reads grant g back after a CreateGrant that got no answer,
// and reports whether the store holds it: its id, made with its
// approval by its approver. By its id when the store reads one
// (store.GrantReader), whatever uses it has left: a check may have taken
// them all before the answer was lost, and a grant that allowed requests
// was made. Otherwise among the grants listed, which holds no used-up
// one. The read outlives ctx (which may be what ended the call), for a
// few seconds.
func (c *Client) grantStored(ctx context.Context, gs store.Grants, g *store.Grant) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), decisionReadBack)
	defer cancel()
	var list []store.Grant
	err := recovered("grant read back", func() (err error) {
		if gr, ok := gs.(store.GrantReader); ok {
			var h store.Grant
			switch h, err = gr.Grant(rctx, c.tenant, g.ID); {
			case err == nil:
				list = []store.Grant{h}
			case isNotFound(err):
				err = nil
			}
			return err
		}
		list, err = gs.Grants(rctx, c.tenant, g.AgentID, g.Tool, g.CreatedAt)
		return err
	})
	if err != nil {
		return false, err
	}
	for i := range list {
		if h := &list[i]; h.ID == g.ID && h.ApprovalID == g.ApprovalID && h.CreatedBy == g.CreatedBy {
			return true, nil
		}
	}
	return false, nil
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
		if redact.MayHold(p) && redact.Credentials(p) != p {
			// Stored with the grant and listed to its readers, while
			// its record redacts it; redacted, the glob would match
			// other resources. Refused, quoting nothing.
			return bad("resources: a glob holds an agenttrust credential")
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
	ps := c.policy.Load()
	if ps == nil || ps.compiled == nil {
		return store.Grant{}, errs.ApprovalNotFound
	}
	cr := ps.compiled.byID[res.Rule]
	if cr == nil || cr.rememberUses == 0 || cr.reason != res.Reason || !slices.Equal(cr.approvers, res.Approvers) {
		// Not the rule that decided: the policy changed meanwhile.
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
			g.OnBehalfOf != req.OnBehalfOf || !grantCovers(&g, req.Resource) {
			continue
		}
		switch left, _, err := c.grantLeft(ctx, &g, cr, now); {
		case err != nil:
			return store.Grant{}, err
		case left == 0:
			continue
		}
		used, err := gs.UseGrant(ctx, c.tenant, g.ID, now)
		switch {
		case isNotFound(err): // used up by another check meanwhile: try the next
			continue
		case err != nil:
			return store.Grant{}, err
		}
		// Its standing again, now that the use is taken: an end that
		// returned between the reads above and the use (the approval
		// withdrawn, the approver or its key stopped) is not outlived.
		// The use is lost, never more than that.
		switch stands, _, err := c.grantStands(ctx, &used, cr, now); {
		case err != nil:
			return store.Grant{}, err
		case stands:
			return used, nil
		}
	}
	return store.Grant{}, errs.ApprovalNotFound
}

// grantLeft is how many more requests grant g allows at now, as a check
// holds it: 0 unless the rule cr (g's, as the policy stands) still holds
// its requests for approval and allows remembering, as g's approver saw
// it (reason and approvers, kept by its approval), and within the rule's
// remember_for and remember_uses as they stand: a shortened window ends
// older grants, and a lowered number of uses ends those made with more
// (however many they have used; a grant stored before its uses were
// kept is held to those it has left, the most it is known to have been
// made with). Its approver must stand behind it still (approverStands).
// end is when it stops allowing, whatever its uses: the first of its own
// expiry, the end its rule's remember_for sets and the end of its
// approver's key (zero when it allows nothing now).
func (c *Client) grantLeft(ctx context.Context, g *store.Grant, cr *compiledRule, now time.Time) (left int, end time.Time, err error) {
	made := max(g.Uses, g.UsesLeft)
	if cr == nil || cr.id != g.Rule || cr.effect != NeedsApproval || cr.rememberUses == 0 ||
		g.UsesLeft <= 0 || made > cr.rememberUses ||
		!now.Before(g.ExpiresAt) || !now.Before(g.CreatedAt.Add(cr.rememberFor)) {
		return 0, time.Time{}, nil
	}
	stands, keyEnd, err := c.grantStands(ctx, g, cr, now)
	switch {
	case err != nil:
		return 0, time.Time{}, err
	case !stands:
		return 0, time.Time{}, nil
	}
	end = g.ExpiresAt
	for _, t := range [...]time.Time{g.CreatedAt.Add(cr.rememberFor), keyEnd} {
		if !t.IsZero() && t.Before(end) {
			end = t
		}
	}
	return g.UsesLeft, end, nil
}

// grantStands reports whether what g rests on stands at now: its
// approval, approved (or used) under the rule cr as it stands, and its
// approver and the approver's key (approverUntil), and when that key
// ends (zero for no end).
func (c *Client) grantStands(ctx context.Context, g *store.Grant, cr *compiledRule, now time.Time) (bool, time.Time, error) {
	a, err := c.store.Approval(ctx, c.tenant, g.ApprovalID)
	switch {
	case isNotFound(err):
		return false, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, err
	case a.Rule != g.Rule || !asApproved(&a, cr.reason, cr.approvers):
		return false, time.Time{}, nil
	case a.Status != ApprovalApproved && a.Status != ApprovalConsumed:
		// Withdrawn (DenyApproval of the approval after it was
		// approved): the grant goes with it.
		return false, time.Time{}, nil
	}
	// A revocation of the grant's id ends it too, read in the same
	// lookup: Revoke ends the grant it finds, but one stored after
	// Revoke looked for it (ApproveAndRemember names the grant in the
	// trail before it stores it) would otherwise outlive its revocation.
	return c.approverUntil(ctx, g.CreatedBy, g.CreatedByKey, g.CreatedByCredentials, now, g.ID)
}

// Grants lists the remembered approvals (see ApproveAndRemember) of this
// client's tenant that the store still counts uses for, of agentID (""
// for every agent), oldest first, each as a check would hold it now:
// UsesLeft is how many more requests it would allow, 0 for a grant that
// allows nothing now (its rule changed, its approver or the approver's
// key stopped, its approval withdrawn), and ExpiresAt is brought forward
// to the end its rule's remember_for sets, or to the end of the API key
// its approver decided with (its ExpiresAt or an "expires" caveat),
// whichever comes first: past it, a check uses the grant no more. A
// grant at 0 may allow again after a later change (an approver resumed,
// a rule restored): Revoke its id to end it for good. A store without
// grants (store.Grants) lists none.
func (c *Client) Grants(ctx context.Context, agentID string) ([]store.Grant, error) {
	if agentID != "" {
		if err := validID("agent id", agentID); err != nil {
			return nil, err
		}
	}
	gs, ok := c.store.(store.Grants)
	if !ok {
		return nil, nil
	}
	now := c.clock.Now()
	list, err := gs.Grants(ctx, c.tenant, agentID, "", now)
	if err != nil {
		return nil, storeErr("list grants", err)
	}
	var rules map[string]*compiledRule // none: a custom engine's grants allow nothing
	if ps := c.policy.Load(); ps != nil && ps.compiled != nil {
		rules = ps.compiled.byID
	}
	out := list[:0]
	for _, g := range list {
		if g.Tenant != c.tenant || agentID != "" && g.AgentID != agentID {
			continue
		}
		left, end, err := c.grantLeft(ctx, &g, rules[g.Rule], now)
		if err != nil {
			return nil, storeErr("list grants", err)
		}
		g.UsesLeft = left
		if left > 0 {
			g.ExpiresAt = end
		}
		out = append(out, g)
	}
	return out, nil
}

// approverStands reports whether approver by, who decided with the API
// key key ("" for none known) through the credential derived from it
// whose ids are creds (a token or JWT and its hops; none for the key
// itself), still stands behind what it decided, at now. An approval or a
// grant is its approver's word: while the approver is suspended or
// revoked (a rogue or compromised approver an operator stopped), or the
// API key it decided with is revoked, suspended, expired (by its
// ExpiresAt or an "expires" caveat) or gone (a leaked key, a key at the
// end of its life), or the token it decided with is revoked, what it
// approved allows nothing. Nor does it while also, when set (a grant's
// id), is revoked or suspended. Revocations are read as Check reads them.
func (c *Client) approverStands(ctx context.Context, by, key string, creds []string, now time.Time, also string) (bool, error) {
	stands, _, err := c.approverUntil(ctx, by, key, creds, now, also)
	return stands, err
}

// approverUntil is approverStands, and when the key's end (its
// ExpiresAt or an "expires" caveat) comes, zero for none: what the
// approver decided stands no longer than that.
func (c *Client) approverUntil(ctx context.Context, by, key string, creds []string, now time.Time, also string) (bool, time.Time, error) {
	ids := make([]string, 0, 3+len(creds))
	ids = append(ids, by)
	if key != "" {
		ids = append(ids, key)
	}
	ids = append(ids, creds...)
	if also != "" {
		ids = append(ids, also)
	}
	err := c.refuseBlockedAt(ctx, ids...)
	switch {
	case errors.Is(err, ErrRevoked) || errors.Is(err, ErrSuspended):
		return false, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, err
	case key == "":
		return true, time.Time{}, nil
	}
	k, err := c.store.Key(ctx, c.tenant, key)
	switch {
	case isNotFound(err):
		return false, time.Time{}, nil
	case err != nil:
		return false, time.Time{}, storeErr("key lookup", err)
	}
	if k.AgentID != by {
		return false, time.Time{}, nil
	}
	// The key's end as its use holds it (keyEnd): an "expires" caveat
	// ends it as its ExpiresAt does. A caveat that no longer parses
	// leaves the key authenticating nothing, and standing behind nothing.
	conds := make([]cond.Cond, 0, len(k.Caveats))
	for _, s := range k.Caveats {
		cv, err := cond.Parse(s)
		if err != nil {
			return false, time.Time{}, nil
		}
		conds = append(conds, cv)
	}
	end := keyEnd(k.ExpiresAt, conds)
	return end.IsZero() || now.Before(end), end, nil
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
