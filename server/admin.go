package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// revoke answers POST /v1/revocations: any id of the caller's tenant (an
// agent, session, key, token or hop) is blocked for good.
func (s *Server) revoke(c *call) error {
	var req wire.RevokeRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := validID("id", req.ID, ""); err != nil {
		return err
	}
	if err := c.t.client.Revoke(c.r.Context(), req.ID); err != nil {
		return err
	}
	noContent(c)
	return nil
}

// listBlocks answers GET /v1/revocations: the tenant's revocations and
// suspensions.
func (s *Server) listBlocks(c *call) error {
	bs, err := s.st.Blocks(c.r.Context(), c.p.Tenant)
	if err != nil {
		return storeErr("list revocations", err)
	}
	out := wire.BlockList{Blocks: make([]wire.BlockView, 0, len(bs))}
	for _, b := range bs {
		if b.Tenant != c.p.Tenant {
			continue // the contract says it cannot happen; be sure
		}
		out.Blocks = append(out.Blocks, wire.BlockView{ID: b.ID, Kind: b.Kind.String(), Reason: b.Reason, CreatedAt: b.CreatedAt, ExpiresAt: b.ExpiresAt})
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// suspend answers POST /v1/agents/{id}/suspend, the kill switch.
func (s *Server) suspend(c *call) error {
	id := c.r.PathValue("id")
	if err := validID("agent id", id, ""); err != nil {
		return err
	}
	var req wire.SuspendRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if len(req.Reason) > 1024 || hasControl(req.Reason) {
		return badRequest("invalid_request", "reason must be at most 1024 bytes without control characters")
	}
	reason := req.Reason
	if reason == "" {
		reason = "suspended by " + c.p.AgentID
	}
	if err := c.t.client.Suspend(c.r.Context(), id, reason); err != nil {
		return err
	}
	noContent(c)
	return nil
}

// resume answers POST /v1/agents/{id}/resume; 404 when not suspended.
func (s *Server) resume(c *call) error {
	id := c.r.PathValue("id")
	if err := validID("agent id", id, ""); err != nil {
		return err
	}
	if err := c.noBody(); err != nil {
		return err
	}
	if err := c.t.client.Resume(c.r.Context(), id); err != nil {
		return err
	}
	noContent(c)
	return nil
}

func storeErr(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", agenttrust.ErrStoreUnavailable, op, err)
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
