package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// MaxWait caps the long poll of GET /v1/approvals/{id}?wait=.
const MaxWait = 60 * time.Second

// maxWaitsPerKey is how many long polls the credentials of one API key
// may hold at once; further ones are answered at once.
const maxWaitsPerKey = 8

// maxStreamsPerKey is how many audit streams the credentials of one API
// key may hold at once; further ones are refused.
const maxStreamsPerKey = 8

// listApprovals answers GET /v1/approvals. Admins and approvers see every
// approval of their tenant; an agent sees its own only.
func (s *Server) listApprovals(c *call) error {
	q := c.r.URL.Query()
	f := agenttrust.ApprovalFilter{AgentID: q.Get("agent_id"), Limit: 100}
	switch st := q.Get("status"); st {
	case "":
	case string(agenttrust.ApprovalPending):
		// Those still awaiting a decision: the store keeps a lapsed
		// approval as pending, and lapsed ones, oldest first, would fill
		// the page before any that can still be decided.
		f.Status, f.PendingAt = agenttrust.ApprovalPending, s.now()
	case string(agenttrust.ApprovalApproved), string(agenttrust.ApprovalDenied), string(agenttrust.ApprovalConsumed):
		f.Status = store.ApprovalStatus(st)
	default:
		return badRequest("invalid_parameter", "status must be pending, approved, denied or consumed")
	}
	if f.AgentID != "" {
		if err := validID("agent_id", f.AgentID, ""); err != nil {
			return err
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("invalid_parameter", "limit must be 1-1000")
		}
		f.Limit = n
	}
	if !c.canSeeAll() {
		if f.AgentID != "" && f.AgentID != c.p.AgentID {
			return forbidden("an agent may only list its own approvals")
		}
		f.AgentID = c.p.AgentID
	}
	as, err := c.t.client.Approvals(c.r.Context(), f)
	if err != nil {
		return err
	}
	out := wire.ApprovalList{Approvals: make([]wire.ApprovalView, 0, len(as))}
	for _, a := range as {
		if a.Tenant != c.p.Tenant || !c.covers(&a) {
			continue
		}
		out.Approvals = append(out.Approvals, viewApproval(a))
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// getApproval answers GET /v1/approvals/{id}. With ?wait=30s it holds the
// request until the approval is decided or lapses, or the wait (at most
// MaxWait) ends, and then answers with the approval as it stands.
func (s *Server) getApproval(c *call) error {
	id := c.r.PathValue("id")
	if err := validID("approval id", id, "apr_"); err != nil {
		return err
	}
	var wait time.Duration
	if v := c.r.URL.Query().Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return badRequest("invalid_parameter", "wait must be a duration such as 30s")
		}
		wait = min(d, MaxWait)
	}
	ctx := c.r.Context()
	a, err := c.t.client.Approval(ctx, id)
	if err != nil {
		return err
	}
	if !c.canSeeAll() && a.AgentID != c.p.AgentID {
		return forbidden("an agent may only see its own approvals")
	}
	if !c.covers(&a) {
		return forbidden("the credential's caveats do not cover this approval's request")
	}
	if wait > 0 && a.Status == agenttrust.ApprovalPending {
		wk := waitKey{c.p.Tenant, c.p.KeyID}
		if !s.waits.take(wk, maxWaitsPerKey) {
			// Past the key's long polls: answered as if the wait had ended.
			writeJSON(c, http.StatusOK, viewApproval(a))
			return nil
		}
		defer s.waits.done(wk)
		wctx, cancel := context.WithTimeout(ctx, wait)
		stop := context.AfterFunc(s.ctx, cancel)
		got, err := c.t.client.WaitApproval(wctx, id)
		stop()
		cancel()
		switch {
		case err == nil, errors.Is(err, errs.ApprovalResolved) && got.ID != "":
			a = got
		case wctx.Err() != nil:
			// The wait is over, run out or cut (agenttrust serve cuts long
			// polls when it begins to shut down, and a client that left
			// cuts its own): answer with the approval as it stands.
			if got.ID != "" {
				a = got
			}
		default:
			return err
		}
		// The wait may outlive the credential: it is judged again before
		// the answer, as a new request would be, so a credential revoked,
		// suspended or expired meanwhile gets 401, not the decision. (Not
		// on the request's context, which a shutdown or the wait's end may
		// have cut: the answer is due all the same.)
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), reauthTimeout)
		_, err = c.t.client.Authenticate(actx, c.bearer, c.addr)
		acancel()
		if err != nil {
			return authError(err)
		}
	}
	writeJSON(c, http.StatusOK, viewApproval(a))
	return nil
}

// waitKey names the API key at the root of a long-lived request's
// credential (a long poll, an audit stream).
type waitKey struct{ tenant, keyID string }

// waits counts the long-lived requests of one kind each API key holds. A
// key is in the map only while it holds one, so the map is no larger
// than the requests held.
type waits struct {
	mu sync.Mutex
	n  map[waitKey]int
}

// take counts one more request of k, or reports false when k holds max
// already.
func (w *waits) take(k waitKey, max int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[k] >= max {
		return false
	}
	if w.n == nil {
		w.n = map[waitKey]int{}
	}
	w.n[k]++
	return true
}

// done ends a request counted by take.
func (w *waits) done(k waitKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[k]--; w.n[k] <= 0 {
		delete(w.n, k)
	}
}

// reauthTimeout bounds the authentication of a long poll's credential
// again at its end.
const reauthTimeout = 5 * time.Second

// covers reports whether the caller's caveats cover the request an
// approval holds: a narrowed credential sees only approvals of actions it
// could have asked for. Attributes are the approval's redacted copy, so a
// caveat on a redacted attribute hides the approval.
func (c *call) covers(a *agenttrust.Approval) bool {
	if len(c.p.Caveats) == 0 {
		return true
	}
	var attrs map[string]any
	if len(a.Attributes) > 0 {
		// Numbers as their text, as a check's attributes arrive (strict).
		dec := json.NewDecoder(bytes.NewReader(a.Attributes))
		dec.UseNumber()
		if err := dec.Decode(&attrs); err != nil {
			return false
		}
	}
	return permits(&c.p, agenttrust.Request{
		AgentID: a.AgentID, Tool: a.Tool, Resource: a.Resource, SessionID: a.SessionID,
		OnBehalfOf: a.OnBehalfOf, Attributes: attrs,
	}) == nil
}

func (s *Server) approve(c *call) error {
	return s.decide(c, (*agenttrust.Client).Approve)
}

func (s *Server) deny(c *call) error {
	return s.decide(c, (*agenttrust.Client).DenyApproval)
}

// remember grants an approval and remembers it (agenttrust.Client.
// ApproveAndRemember), in the caller's name.
func (s *Server) remember(c *call, id, note string, r *wire.Remember) error {
	d, err := time.ParseDuration(r.ValidFor)
	if err != nil || d <= 0 {
		return badRequest("invalid_request", "remember.valid_for must be a positive duration, such as 30m or 8h")
	}
	ctx := c.r.Context()
	g, err := c.t.client.ApproveAndRemember(ctx, id, c.p.AgentID, note, store.Remember{Uses: r.Uses, For: d, Resources: r.Resources})
	if err != nil {
		return err
	}
	a, err := c.t.client.Approval(ctx, id)
	if err != nil {
		return err
	}
	v := viewApproval(asDecided(a))
	v.GrantID = g.ID
	writeJSON(c, http.StatusOK, v)
	return nil
}

// listGrants lists the tenant's grants, of one agent with agent_id, each
// with the uses a check would allow now (agenttrust.Client.Grants): a
// grant its rule, its approver or its approver's key no longer stands
// behind is listed with none, not as live, and can still be revoked.
func (s *Server) listGrants(c *call) error {
	agent := c.r.URL.Query().Get("agent_id")
	if agent != "" {
		if err := validID("agent_id", agent, ""); err != nil {
			return err
		}
	}
	list, err := c.t.client.Grants(c.r.Context(), agent)
	if err != nil {
		return err
	}
	out := wire.GrantList{Grants: make([]wire.GrantView, 0, len(list))}
	for _, g := range list {
		out.Grants = append(out.Grants, wire.GrantView{
			ID: g.ID, ApprovalID: g.ApprovalID, AgentID: g.AgentID, OnBehalfOf: g.OnBehalfOf, ToolName: g.Tool,
			RuleID: g.Rule, Resource: g.Resource, Resources: append([]string{}, g.Resources...), UsesLeft: g.UsesLeft,
			ExpiresAt: g.ExpiresAt.UTC(), CreatedBy: g.CreatedBy, CreatedAt: g.CreatedAt.UTC(),
		})
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// decide grants or refuses an approval in the caller's name (its agent
// id). The library refuses an approver who is the agent that asked, and
// one the rule's approvers do not name.
func (s *Server) decide(c *call, fn func(*agenttrust.Client, context.Context, string, string, string) error) error {
	id := c.r.PathValue("id")
	if err := validID("approval id", id, "apr_"); err != nil {
		return err
	}
	var req wire.DecideRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if len(req.Note) > 4096 {
		return badRequest("invalid_request", "note is longer than 4096 bytes")
	}
	if req.Remember != nil {
		if strings.HasSuffix(c.r.URL.Path, "/deny") {
			return badRequest("invalid_request", "remember is for approve, not deny")
		}
		return s.remember(c, id, req.Note, req.Remember)
	}
	ctx := c.r.Context()
	if err := fn(c.t.client, ctx, id, c.p.AgentID, req.Note); err != nil {
		return err
	}
	a, err := c.t.client.Approval(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, viewApproval(asDecided(a)))
	return nil
}

// asDecided is an approval read back after this call decided it, as the
// decision left it. Its request may have consumed it in between (a
// guarded call waiting on it checks again at once); answered "consumed",
// an approve reads as failed to the clients, which hold its answer to
// "approved", while the request it allowed went ahead.
func asDecided(a agenttrust.Approval) agenttrust.Approval {
	if a.Status == agenttrust.ApprovalConsumed {
		a.Status, a.ConsumedAt = agenttrust.ApprovalApproved, time.Time{}
	}
	return a
}
