package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// node is one node of a key's delegation tree: the key, a token
// exchanged for it that was delegated, or a delegation hop.
type node struct {
	ID        string
	Kind      string // "key", "token" or "hop"
	AgentID   string
	Caveats   []string
	ExpiresAt time.Time
	Status    string // "live", "revoked", "expired"
	LiveBelow int    // live nodes under this one: what a revoke cuts off
	Children  []*node
}

type agentRow struct {
	ID            string
	Suspended     bool
	SuspendReason string
	LastSeen      time.Time
	Checks        int
	Denied        int
	Keys          []*node
}

// agentsData reads the tenant's keys, blocks, recent decisions and hops
// into one row per agent, and an index of every node by id.
func (c *Console) agentsData(r *http.Request, s *session) ([]*agentRow, map[string]*node, error) {
	var keys wire.KeyList
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/keys", nil, &keys); err != nil {
		return nil, nil, err
	}
	var blocks wire.BlockList
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/revocations", nil, &blocks); err != nil {
		return nil, nil, err
	}
	now := c.now()
	revoked := map[string]bool{}
	suspended := map[string]string{}
	for _, b := range blocks.Blocks {
		switch b.Kind {
		case "revoked":
			revoked[b.ID] = true
		case "suspended":
			suspended[b.ID] = b.Reason
		}
	}
	recs, _, err := c.recentAudit(r, s, url.Values{}, now.Add(-recentWindow))
	if err != nil {
		return nil, nil, err
	}
	rows := map[string]*agentRow{}
	row := func(id string) *agentRow {
		a := rows[id]
		if a == nil {
			a = &agentRow{ID: id}
			rows[id] = a
		}
		return a
	}
	for _, rec := range recs {
		a := row(rec.AgentID)
		a.Checks++
		if rec.Effect == store.Deny {
			a.Denied++
		}
		if rec.Time.After(a.LastSeen) {
			a.LastSeen = rec.Time
		}
	}
	index := map[string]*node{}
	for _, k := range keys.Keys {
		kn := &node{ID: k.ID, Kind: "key", AgentID: k.AgentID, Caveats: k.Caveats, ExpiresAt: k.ExpiresAt}
		index[k.ID] = kn
		if err := c.hopTree(r.Context(), s, kn, index); err != nil {
			return nil, nil, err
		}
		settle(kn, revoked, false, now)
		a := row(k.AgentID)
		a.Keys = append(a.Keys, kn)
	}
	out := make([]*agentRow, 0, len(rows))
	for id, a := range rows {
		if id == "" {
			continue
		}
		a.SuspendReason, a.Suspended = suspended[id]
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, index, nil
}

// recentWindow is how far back the Agents page reads decisions for last
// activity and denial rate (at most maxScan of them, the oldest first).
const recentWindow = time.Hour

// hopTree hangs the stored hops under key kn: token nodes, then hops by
// parent. Only admins read hops; the tenant is the person's own.
func (c *Console) hopTree(ctx context.Context, s *session, kn *node, index map[string]*node) error {
	if c.st == nil || !s.isAdmin() {
		return nil
	}
	hops, err := c.st.Hops(ctx, store.HopFilter{Tenant: s.who.Tenant, KeyID: kn.ID})
	if err != nil {
		return err
	}
	sort.Slice(hops, func(i, j int) bool { return hops[i].CreatedAt.Before(hops[j].CreatedAt) })
	for _, hp := range hops {
		if hp.Tenant != s.who.Tenant || hp.KeyID != kn.ID {
			continue
		}
		if index[hp.TokenID] == nil {
			tn := &node{ID: hp.TokenID, Kind: "token", AgentID: kn.AgentID}
			index[hp.TokenID] = tn
			kn.Children = append(kn.Children, tn)
		}
		index[hp.ID] = &node{ID: hp.ID, Kind: "hop", AgentID: hp.AgentID, Caveats: hp.Caveats, ExpiresAt: hp.ExpiresAt}
	}
	for _, hp := range hops {
		n := index[hp.ID]
		if n == nil || hp.KeyID != kn.ID || hp.Tenant != s.who.Tenant {
			continue
		}
		parent := index[hp.TokenID]
		if p := index[hp.Parent]; hp.Parent != "" && p != nil {
			parent = p
		}
		parent.Children = append(parent.Children, n)
	}
	return nil
}

// settle sets each node's status (revoked when it or an ancestor is,
// expired past its expiry) and counts the live nodes under it.
func settle(n *node, revoked map[string]bool, under bool, now time.Time) int {
	switch {
	case under || revoked[n.ID]:
		n.Status = "revoked"
	case !n.ExpiresAt.IsZero() && !n.ExpiresAt.After(now):
		n.Status = "expired"
	default:
		n.Status = "live"
	}
	n.LiveBelow = 0
	for _, ch := range n.Children {
		n.LiveBelow += settle(ch, revoked, n.Status == "revoked", now)
	}
	if n.Status == "live" {
		return n.LiveBelow + 1
	}
	return n.LiveBelow
}

func (c *Console) agentsPage(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	v := c.newView(s, "Agents", "agents")
	if !s.isAdmin() {
		v.Flash, v.FlashErr = "The Agents page is for admins: your key is an approver's.", true
		c.render(w, http.StatusForbidden, "agents", v)
		return
	}
	rows, _, err := c.agentsData(r, s)
	if err != nil {
		c.fail(w, r, s, h, err)
		return
	}
	v.Data = rows
	c.render(w, http.StatusOK, "agents", v)
}

// revokePage asks to confirm a revoke, saying what it cuts off.
func (c *Console) revokePage(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	v := c.newView(s, "Revoke", "agents")
	if !s.isAdmin() {
		v.Flash, v.FlashErr = "Only admins revoke.", true
		c.render(w, http.StatusForbidden, "revoke", v)
		return
	}
	_, index, err := c.agentsData(r, s)
	if err != nil {
		c.fail(w, r, s, h, err)
		return
	}
	n := index[r.URL.Query().Get("id")]
	if n == nil {
		v.Flash, v.FlashErr = "No such key, token or hop in your tenant.", true
		c.render(w, http.StatusNotFound, "revoke", v)
		return
	}
	v.Data = n
	c.render(w, http.StatusOK, "revoke", v)
}

var errNoNode = errors.New("no such key, token or hop in your tenant")

func (c *Console) revoke(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	id := r.PostFormValue("id")
	var err error
	if id == "" {
		err = errNoNode
	} else {
		err = c.callAPI(r, s.key, http.MethodPost, "/v1/revocations", wire.RevokeRequest{ID: id}, nil)
	}
	c.audit(s, "revoke", id, err)
	c.back(w, r, s, h, "/ui/agents", "Revoked "+id+" and everything under it", err)
}
