package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

var auditQueryParams = []string{"chain", "agent_id", "tool", "effect", "since", "until", "decision_id", "after_chain", "after_seq", "limit"}

// auditFilter reads the filters shared by the audit query and stream. The
// tenant is always the caller's.
func auditFilter(c *call, q url.Values) (store.AuditQuery, error) {
	aq := store.AuditQuery{Tenant: c.p.Tenant, AgentID: q.Get("agent_id"), Tool: q.Get("tool")}
	for _, f := range [...]struct{ name, v string }{{"agent_id", aq.AgentID}, {"tool", aq.Tool}} {
		if f.v != "" {
			if err := validID(f.name, f.v, ""); err != nil {
				return aq, err
			}
		}
	}
	if v := q.Get("effect"); v != "" {
		e, err := store.ParseEffect(v)
		if err != nil {
			return aq, badRequest("invalid_parameter", "effect must be allow, deny or needs_approval")
		}
		aq.Effect = &e
	}
	var err error
	if aq.Since, err = timeParam(q, "since"); err != nil {
		return aq, err
	}
	if aq.Until, err = timeParam(q, "until"); err != nil {
		return aq, err
	}
	return aq, nil
}

func timeParam(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("invalid_parameter", name+" must be an RFC 3339 time")
	}
	return t, nil
}

// queryAudit answers GET /v1/audit: the tenant's records in (chain, seq)
// order, a page at a time (limit 1-1000, default 100). The response's
// "next" is the cursor of the next page: pass it back as after_chain and
// after_seq. The records of every decision this node answered before the
// query are in the store by then.
func (s *Server) queryAudit(c *call) error {
	q := c.r.URL.Query()
	aq, err := auditFilter(c, q)
	if err != nil {
		return err
	}
	aq.Chain, aq.AfterChain = q.Get("chain"), q.Get("after_chain")
	for _, f := range [...]struct{ name, v string }{{"chain", aq.Chain}, {"after_chain", aq.AfterChain}} {
		if f.v != "" {
			if err := validID(f.name, f.v, ""); err != nil {
				return err
			}
		}
	}
	if v := q.Get("decision_id"); v != "" {
		if aq.DecisionID, err = store.ParseDecisionID(v); err != nil {
			return badRequest("invalid_id", "decision_id must be a UUID")
		}
	}
	if v := q.Get("after_seq"); v != "" {
		if aq.AfterSeq, err = strconv.ParseUint(v, 10, 64); err != nil {
			return badRequest("invalid_parameter", "after_seq must be a non-negative integer")
		}
		if aq.AfterChain == "" && aq.Chain == "" {
			return badRequest("invalid_parameter", "after_seq needs after_chain or chain")
		}
	}
	aq.Limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("invalid_parameter", "limit must be 1-1000")
		}
		aq.Limit = n
	}
	s.syncAudit(c)
	recs, err := s.st.QueryAudit(c.r.Context(), aq)
	if err != nil {
		return auditReadErr("query audit", err)
	}
	page := wire.AuditPage{Records: make([]store.AuditRecord, 0, len(recs))}
	for _, r := range recs {
		if r.Tenant == c.p.Tenant { // the store filtered; be sure
			page.Records = append(page.Records, r)
		}
	}
	if len(recs) == aq.Limit {
		last := recs[len(recs)-1]
		page.Next = &wire.AuditCursor{AfterChain: last.Chain, AfterSeq: last.Seq}
	}
	writeRecords(c, http.StatusOK, page)
	return nil
}

// syncAudit waits, briefly, until this node has stored the audit records
// of every decision it answered before the request, so that a client
// reads its own writes. A stuck audit does not hold the query up for more
// than a second.
func (s *Server) syncAudit(c *call) {
	ctx, cancel := context.WithTimeout(c.r.Context(), time.Second)
	defer cancel()
	c.t.client.SyncAudit(ctx)
}

// Audit stream tuning.
const (
	streamPage      = 500              // records per store read
	streamLookback  = 30 * time.Second // how far back a look for new chains goes
	streamKeepalive = 15 * time.Second
)

// streamAudit answers GET /v1/audit/stream: server-sent events, one
// "audit" event per record of the caller's tenant whose time is at or
// after "since" (default: now), as records reach the store, from every
// node sharing it. Each chain's records come in order and once. Records
// written by this node arrive as soon as they are stored; other nodes'
// within the poll interval (WithAuditPoll), and a node's chain is looked
// for every five intervals. A chain whose first record since "since"
// reaches the store more than 30s after it was made (a node whose audit
// was stuck that long) is picked up only with its later records: use GET
// /v1/audit to be exhaustive.
//
// Each event's id is the stream's position after it: a client that
// reconnects with it as Last-Event-ID (as EventSource does) goes on from
// there, on any node, missing nothing and repeating nothing.
func (s *Server) streamAudit(c *call) error {
	q := c.r.URL.Query()
	aq, err := auditFilter(c, q)
	if err != nil {
		return err
	}
	if !aq.Until.IsZero() {
		return badRequest("invalid_parameter", "until does not apply to a stream")
	}
	if aq.Since.IsZero() {
		aq.Since = s.now()
	}
	wk := waitKey{c.p.Tenant, c.p.KeyID}
	if !s.streams.take(wk, maxStreamsPerKey) {
		return forbidden(fmt.Sprintf("this key holds %d audit streams already: close one first", maxStreamsPerKey))
	}
	defer s.streams.done(wk)
	ctx := c.r.Context()
	tail := &auditTail{s: s, q: aq, cursors: map[string]uint64{}}
	if id := c.r.Header.Get("Last-Event-ID"); id != "" {
		if err := tail.resume(ctx, id); err != nil {
			return err
		}
	}
	// This node's chain is known; start following it before answering, so
	// that nothing recorded once the response has begun is missed.
	if err := tail.follow(ctx, s.node+"/"+c.p.Tenant); err != nil {
		return err
	}
	if err := tail.discover(ctx); err != nil {
		return err
	}
	rc := http.NewResponseController(c.w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's WriteTimeout
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.status = http.StatusOK
	c.w.WriteHeader(http.StatusOK)
	if _, err := c.w.Write([]byte(": agenttrust audit stream\n\n")); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	poll := time.NewTicker(s.poll)
	defer poll.Stop()
	keep := time.NewTicker(streamKeepalive)
	defer keep.Stop()
	for polls := 1; ; polls++ {
		wake := c.t.wake.wait()
		// The stream holds no authority of its own: its credential is
		// judged again before every read, so one revoked, suspended or
		// expired since the stream began ends it, and nothing recorded
		// after that reaches its holder. While that cannot be judged
		// (store down, notify view stale) nothing is read.
		var n int
		_, err := c.t.client.Authenticate(ctx, c.bearer, c.addr)
		if err != nil && !isStoreFailure(err) {
			if ctx.Err() == nil && s.ctx.Err() == nil {
				fmt.Fprintf(c.w, "event: error\ndata: {\"code\":%q}\n\n", authError(err).code)
				rc.Flush()
			}
			return nil
		}
		if err == nil {
			n, err = tail.next(ctx, c, polls%5 == 0)
		}
		if ctx.Err() != nil || s.ctx.Err() != nil || errors.Is(err, errGone) {
			return nil
		}
		if err != nil {
			s.log.Warn("agenttrust/server: audit stream read failed", "tenant", c.p.Tenant, "request_id", c.reqID, "err", err)
			s.storeError(ctx, c.p.Tenant)
			c.w.Write([]byte("event: error\ndata: {\"code\":\"store_unavailable\"}\n\n"))
			n++
		}
		if n > 0 {
			if err := rc.Flush(); err != nil {
				return nil
			}
			keep.Reset(streamKeepalive)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		case <-keep.C:
			if _, err := c.w.Write([]byte(": keepalive\n\n")); err != nil {
				return nil
			}
			if err := rc.Flush(); err != nil {
				return nil
			}
		}
	}
}

// auditTail follows a tenant's chains in the store, a cursor per chain,
// and looks at recent records now and then for chains not yet followed.
type auditTail struct {
	s       *Server
	q       store.AuditQuery // Tenant, Since and the filters
	cursors map[string]uint64
	chains  []string // the keys of cursors, sorted
	looked  bool     // discover has run once
	buf     []byte
}

// errGone: the stream's client cannot be written to.
var errGone = errors.New("stream client gone")

// follow starts following chain from its first record at or after Since.
func (t *auditTail) follow(ctx context.Context, chain string) error {
	if _, ok := t.cursors[chain]; ok {
		return nil
	}
	// The head first: whatever is appended after it is read in full.
	var cursor uint64
	head, err := t.s.st.AuditHead(ctx, chain)
	switch {
	case err == nil:
		cursor = head.Seq
	case !isNotFound(err):
		return storeErr("audit head", err)
	}
	recs, err := t.s.st.QueryAudit(ctx, store.AuditQuery{Chain: chain, Tenant: t.q.Tenant, Since: t.q.Since, Limit: 1})
	if err != nil {
		return storeErr("query audit", err)
	}
	if len(recs) == 1 && recs[0].Seq <= cursor {
		cursor = recs[0].Seq - 1
	}
	t.cursors[chain] = cursor
	t.chains = append(t.chains, chain)
	slices.Sort(t.chains)
	return nil
}

// discover follows the chains that have records of the tenant since
// Since or, after the first look, in the last streamLookback.
func (t *auditTail) discover(ctx context.Context) error {
	q := store.AuditQuery{Tenant: t.q.Tenant, Since: t.q.Since, Limit: 1}
	if from := t.s.now().Add(-streamLookback); t.looked && from.After(q.Since) {
		q.Since = from
	}
	t.looked = true
	for {
		recs, err := t.s.st.QueryAudit(ctx, q)
		if err != nil {
			return storeErr("query audit", err)
		}
		if len(recs) == 0 {
			return nil
		}
		ch := recs[0].Chain
		if q.AfterChain != "" && ch <= q.AfterChain {
			return nil // a store that does not page as the contract says
		}
		if err := t.follow(ctx, ch); err != nil {
			return err
		}
		q.AfterChain, q.AfterSeq = ch, math.MaxUint64 // on to the next chain
	}
}

// next writes the events that are due and reports how many.
func (t *auditTail) next(ctx context.Context, c *call, discover bool) (int, error) {
	if discover {
		if err := t.discover(ctx); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, ch := range t.chains {
		for {
			recs, err := t.s.st.QueryAudit(ctx, store.AuditQuery{Chain: ch, Tenant: t.q.Tenant, AfterSeq: t.cursors[ch], Limit: streamPage})
			if err != nil {
				return n, storeErr("query audit", err)
			}
			for i := range recs {
				r := &recs[i]
				if r.Chain != ch || r.Tenant != t.q.Tenant || r.Seq <= t.cursors[ch] {
					continue
				}
				t.cursors[ch] = r.Seq
				if !t.match(r) {
					continue
				}
				if err := t.write(c, r); err != nil {
					return n, errGone
				}
				n++
			}
			if len(recs) < streamPage {
				break
			}
		}
	}
	return n, nil
}

// match applies the stream's filters other than the tenant.
func (t *auditTail) match(r *store.AuditRecord) bool {
	q := &t.q
	return (q.AgentID == "" || r.AgentID == q.AgentID) &&
		(q.Tool == "" || r.Tool == q.Tool) &&
		(q.Effect == nil || r.Effect == *q.Effect)
}

func (t *auditTail) write(c *call, r *store.AuditRecord) error {
	b, err := marshalRecords(r)
	if err != nil {
		return err
	}
	t.buf = append(t.buf[:0], "id: "...)
	t.buf = t.appendPosition(t.buf)
	t.buf = append(append(append(t.buf, "\nevent: audit\ndata: "...), b...), "\n\n"...)
	_, err = c.w.Write(t.buf)
	return err
}

// Stream positions. A position is "since=<RFC 3339>" then "&c=<seq>:<chain>"
// for every chain followed, query-escaped: where each chain's cursor
// stands, and where a chain not yet followed starts.
const (
	maxPositionChains = 1024
	errPosition       = "Last-Event-ID is not a position this stream sent"
)

// appendPosition appends the tail's position: everything up to each
// chain's cursor has been sent or filtered out.
func (t *auditTail) appendPosition(b []byte) []byte {
	b = append(b, "since="...)
	b = t.q.Since.UTC().AppendFormat(b, time.RFC3339Nano)
	for _, ch := range t.chains {
		b = append(b, "&c="...)
		b = strconv.AppendUint(b, t.cursors[ch], 10)
		b = append(b, "%3A"...)
		b = append(b, url.QueryEscape(ch)...)
	}
	return b
}

// resume sets the tail to a position from appendPosition. The position
// is the client's word, but it can only move the client within its own
// tenant's records: every read is by tenant. A chain holding no record
// of the tenant is dropped (it is found again if it appears), whether or
// not it exists: another tenant's chain is answered as one that does not
// exist, so the position a stream sends back never tells a tenant which
// other chains the store holds.
func (t *auditTail) resume(ctx context.Context, pos string) error {
	since, cursors, err := parsePosition(pos)
	if err != nil {
		return err
	}
	t.q.Since = since
	for ch, n := range cursors {
		// One probe of the chain's head, whatever the chain: a chain is
		// one Client's, of one tenant. (A query by chain and tenant would
		// read through another tenant's whole chain to find nothing,
		// for each of up to maxPositionChains chains a caller names.)
		head, err := t.s.st.AuditHead(ctx, ch)
		if err != nil && !isNotFound(err) {
			return storeErr("audit head", err)
		}
		if err != nil || head.Tenant != t.q.Tenant {
			continue
		}
		t.cursors[ch] = n
		t.chains = append(t.chains, ch)
	}
	slices.Sort(t.chains)
	return nil
}

// parsePosition reads a position of appendPosition.
func parsePosition(pos string) (since time.Time, cursors map[string]uint64, err error) {
	bad := badRequest("invalid_parameter", errPosition)
	v, err := url.ParseQuery(pos)
	if err != nil || len(v["since"]) != 1 || len(v) > 2 || len(v) == 2 && v["c"] == nil {
		return since, nil, bad // since once, c any number of times, nothing else
	}
	since, err = time.Parse(time.RFC3339Nano, v.Get("since"))
	if y := since.UTC().Year(); err != nil || y < 1 || y > 9999 {
		return since, nil, bad // out of range, it would not be written back as RFC 3339
	}
	if len(v["c"]) > maxPositionChains {
		return since, nil, badRequest("invalid_parameter", "Last-Event-ID names more than "+strconv.Itoa(maxPositionChains)+" chains")
	}
	cursors = make(map[string]uint64, len(v["c"]))
	for _, c := range v["c"] {
		seq, ch, ok := strings.Cut(c, ":")
		n, err := strconv.ParseUint(seq, 10, 64)
		if !ok || err != nil || validID("chain", ch, "") != nil {
			return since, nil, bad
		}
		if _, dup := cursors[ch]; dup {
			return since, nil, bad
		}
		cursors[ch] = n
	}
	return since, cursors, nil
}

// verifyAudit answers GET /v1/audit/verify: every chain holding records
// of the caller's tenant (or the one named by ?chain=) is read from the
// store in full and checked with agenttrust.VerifyChain under the audit
// key: MACs, links, sequence from 1 without gaps, and its end at the
// chain's stored head. With checkpoints (WithAuditCheckpoints), a chain
// of this node must also reach its checkpoint and hold the checkpointed
// record there, and a checkpointed chain with no records left is
// reported too. A chain named by ?chain= that holds no record of the
// tenant is reported broken: nothing was verified.
func (s *Server) verifyAudit(c *call) error {
	ctx := c.r.Context()
	q := store.AuditQuery{Tenant: c.p.Tenant, Chain: c.r.URL.Query().Get("chain"), Limit: 1000}
	if q.Chain != "" {
		if err := validID("chain", q.Chain, ""); err != nil {
			return err
		}
	}
	s.syncAudit(c)
	out := wire.VerifyResponse{OK: true, Chains: []wire.ChainReport{}}
	var cur *wire.ChainReport
	var cp audit.Checkpoint
	var hasCP bool
	var prev store.AuditRecord
	seen := map[string]bool{}
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.OK {
			if err := s.checkHead(ctx, c.p.Tenant, cur, &prev); err != nil {
				return err
			}
		}
		if cur.OK && hasCP && cur.LastSeq < cp.Seq {
			cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: cur.LastSeq, Message: fmt.Sprintf(
				"the chain ends at seq %d, before its checkpoint at seq %d (records cut from the end)", cur.LastSeq, cp.Seq)}
		}
		out.OK = out.OK && cur.OK
		out.Chains = append(out.Chains, *cur)
		cur = nil
		return nil
	}
	for {
		recs, err := s.st.QueryAudit(ctx, q)
		if err != nil {
			return auditReadErr("query audit", err)
		}
		for _, r := range recs {
			if r.Tenant != c.p.Tenant {
				continue
			}
			if cur == nil || r.Chain != cur.Chain {
				if err := finish(); err != nil {
					return err
				}
				seen[r.Chain] = true
				cur = &wire.ChainReport{Chain: r.Chain, OK: true, FirstSeq: r.Seq}
				cp, hasCP = s.checkpoint(r.Chain)
				if hasCP {
					cur.CheckpointSeq = cp.Seq
				}
				if r.Seq != 1 {
					cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: r.Seq, Message: "records before this one are missing"}
				} else if err := agenttrust.VerifyChain([]store.AuditRecord{r}, s.auditKey); err != nil {
					cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: r.Seq, Message: chainMessage(err)}
				}
			} else if cur.OK {
				s.verifyLink(cur, &prev, &r)
			}
			if cur.OK && hasCP && r.Seq == cp.Seq && r.Hash != cp.Head {
				cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: r.Seq, Message: "the record is not the one checkpointed (chain rewritten)"}
			}
			cur.Records++
			cur.LastSeq, cur.HeadHash = r.Seq, r.Hash.String()
			prev = r
		}
		if len(recs) < q.Limit {
			break
		}
		last := recs[len(recs)-1]
		q.AfterChain, q.AfterSeq = last.Chain, last.Seq
	}
	if err := finish(); err != nil {
		return err
	}
	if s.checkpts != nil {
		// Chains this node checkpointed of which the store has nothing left.
		for _, cp := range s.checkpts.Checkpoints() {
			if cp.Tenant != c.p.Tenant || seen[cp.Chain] || q.Chain != "" && cp.Chain != q.Chain {
				continue
			}
			out.OK = false
			out.Chains = append(out.Chains, wire.ChainReport{Chain: cp.Chain, CheckpointSeq: cp.Seq, Problem: &wire.ChainBreak{
				Seq: cp.Seq, Message: fmt.Sprintf("the store has no records of this chain, but its checkpoint is at seq %d (records deleted)", cp.Seq)}})
		}
		slices.SortFunc(out.Chains, func(a, b wire.ChainReport) int { return strings.Compare(a.Chain, b.Chain) })
	}
	if q.Chain != "" && len(out.Chains) == 0 {
		// A chain asked for and not found verified nothing: its records
		// may all have been deleted where no checkpoint of this node
		// sees it. The same answer for a chain of another tenant, so
		// it tells nothing of one.
		out.OK = false
		out.Chains = append(out.Chains, wire.ChainReport{Chain: q.Chain, Problem: &wire.ChainBreak{
			Message: "no records of this chain in the tenant: nothing verified"}})
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// checkpoint returns this node's checkpoint of chain, if any.
func (s *Server) checkpoint(chain string) (audit.Checkpoint, bool) {
	if s.checkpts == nil {
		return audit.Checkpoint{}, false
	}
	return s.checkpts.Latest(chain)
}

// verifyLink checks that r follows prev in its chain.
func (s *Server) verifyLink(cur *wire.ChainReport, prev, r *store.AuditRecord) {
	if err := agenttrust.VerifyChain([]store.AuditRecord{*prev, *r}, s.auditKey); err != nil {
		cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: r.Seq, Message: chainMessage(err)}
	}
}

// checkHead compares the last record read with the chain's stored head,
// so records cut from the end without a checkpoint's knowledge are found
// when the store's head says more; records appended since the scan are
// read and verified too.
func (s *Server) checkHead(ctx context.Context, tenant string, cur *wire.ChainReport, last *store.AuditRecord) error {
	head, err := s.st.AuditHead(ctx, cur.Chain)
	if err != nil {
		if isNotFound(err) {
			cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: last.Seq, Message: "the store has no head for this chain"}
			return nil
		}
		return auditReadErr("audit head", err)
	}
read:
	for head.Seq > last.Seq {
		recs, err := s.st.QueryAudit(ctx, store.AuditQuery{Chain: cur.Chain, Tenant: tenant, AfterSeq: last.Seq, Limit: 1000})
		if err != nil {
			return auditReadErr("query audit", err)
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			r := recs[i]
			if r.Seq > head.Seq {
				// Appended since the head was read: the tenant's
				// records end before the head, and reading again
				// would find the same ones forever.
				break read
			}
			s.verifyLink(cur, last, &r)
			if !cur.OK {
				return nil
			}
			cur.Records++
			cur.LastSeq, cur.HeadHash = r.Seq, r.Hash.String()
			*last = r
		}
	}
	if head.Seq != last.Seq || head.Hash != last.Hash {
		cur.OK, cur.Problem = false, &wire.ChainBreak{Seq: last.Seq, Message: "the chain's stored head is not its last record (records missing at the end)"}
	}
	return nil
}

// auditReadErr is storeErr for a read of the audit trail, but a record
// the store found edited behind its back (store.ErrCorrupt) is a broken
// chain, not an outage to retry: 503 audit_chain_broken.
func auditReadErr(op string, err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return &apiError{status: http.StatusServiceUnavailable, code: "audit_chain_broken", msg: unavailableMessage("audit_chain_broken"), cause: err}
	}
	return storeErr(op, err)
}

func chainMessage(err error) string {
	var ce *agenttrust.ChainError
	if errors.As(err, &ce) {
		return ce.Msg
	}
	return err.Error()
}
