package console

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// Bounds of the decisions the console reads: at most maxScan records a
// read, the newest maxRows shown, from the shortest of activityWindows
// that holds maxRows (the API pages in (chain, seq) order, oldest first,
// so a read that stops at maxScan lacks the newest records).
const (
	maxScan = 5000
	maxRows = 200
)

var activityWindows = []time.Duration{10 * time.Second, time.Minute, 10 * time.Minute, time.Hour}

// recentAudit reads the tenant's records since since matching q (agent_id,
// tool, effect), newest first, at most maxScan of them; truncated says
// there were more.
func (c *Console) recentAudit(r *http.Request, s *session, q url.Values, since time.Time) ([]store.AuditRecord, bool, error) {
	return c.recentAuditContext(r.Context(), r, s, q, since)
}

func (c *Console) recentAuditContext(ctx context.Context, r *http.Request, s *session, q url.Values, since time.Time) ([]store.AuditRecord, bool, error) {
	var out []store.AuditRecord
	p := url.Values{}
	for _, k := range []string{"agent_id", "tool", "effect"} {
		if v := q.Get(k); v != "" {
			p.Set(k, v)
		}
	}
	p.Set("since", since.UTC().Format(time.RFC3339Nano))
	p.Set("limit", "1000")
	truncated := false
	for {
		var page wire.AuditPage
		if err := c.callAPIContext(ctx, r, s.key, http.MethodGet, "/v1/audit?"+p.Encode(), nil, &page); err != nil {
			return nil, false, err
		}
		out = append(out, page.Records...)
		if page.Next == nil {
			break
		}
		if len(out) >= maxScan {
			truncated = true
			break
		}
		p.Set("after_chain", page.Next.AfterChain)
		p.Set("after_seq", strconv.FormatUint(page.Next.AfterSeq, 10))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, truncated, nil
}

// row is one decision of the Activity page.
type row struct {
	store.AuditRecord
	Effect string
	Attrs  []attr
	JSON   string // the whole audit record, indented
}

type activityData struct {
	Filter url.Values
	Rows   []row
	Chains *wire.VerifyResponse
	Err    string // why the chains could not be verified
}

// activityRows reads and filters the decision stream.
func (c *Console) activityRows(ctx context.Context, r *http.Request, s *session, q url.Values) ([]row, error) {
	// The shortest window that holds maxRows matching rows; a window
	// too busy to read whole gives way to the one before it.
	now := c.now()
	var recs []store.AuditRecord
	for i, w := range activityWindows {
		got, truncated, err := c.recentAuditContext(ctx, r, s, q, now.Add(-w))
		if err != nil {
			return nil, err
		}
		if truncated && i > 0 {
			break
		}
		recs = got
		if truncated || countRule(recs, q.Get("rule")) >= maxRows {
			break
		}
	}
	rule := q.Get("rule")
	rows := make([]row, 0, min(len(recs), maxRows))
	for _, rec := range recs {
		if rule != "" && rec.Rule != rule {
			continue
		}
		rows = append(rows, row{AuditRecord: rec, Effect: rec.Effect.String(), Attrs: attrsShown(rec.Attributes), JSON: recordJSON(&rec)})
		if len(rows) == maxRows {
			break
		}
	}
	return rows, nil
}

func countRule(recs []store.AuditRecord, rule string) int {
	if rule == "" {
		return len(recs)
	}
	n := 0
	for i := range recs {
		if recs[i].Rule == rule {
			n++
		}
	}
	return n
}

// recordJSON is an audit record as indented JSON, '<', '>' and '&' left as
// they are for people to read (html/template escapes the page).
func recordJSON(rec *store.AuditRecord) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		return err.Error()
	}
	return visibleJSON(strings.TrimSuffix(b.String(), "\n"))
}

// visibleJSON writes each character of indented JSON text that a person
// does not see (bidi and other format characters, C1 controls, non-ASCII
// spaces: encoding/json leaves them raw in strings, where alone they
// occur) as a JSON escape, so the text shows what it holds, as shown does
// for the rest of a page, and stays the same JSON.
func visibleJSON(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && invisible(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || !invisible(r):
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// activityFilter keeps the filters the page knows, each at most 256 bytes.
func activityFilter(in url.Values) url.Values {
	q := url.Values{}
	for _, k := range []string{"agent_id", "tool", "effect", "rule"} {
		if v := strings.TrimSpace(in.Get(k)); v != "" && len(v) <= 256 {
			q.Set(k, v)
		}
	}
	return q
}

func (c *Console) activityPage(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	q := activityFilter(r.URL.Query())
	rows, err := c.activityRows(r.Context(), r, s, q)
	v := c.newView(s, "Activity", "activity")
	if err != nil {
		if apiErr, ok := err.(*apiError); ok && apiErr.status == http.StatusBadRequest {
			v.Flash, v.FlashErr = "Filter refused: "+apiErr.Error(), true
		} else {
			c.fail(w, r, s, h, err)
			return
		}
	}
	d := &activityData{Filter: q, Rows: rows}
	var vr wire.VerifyResponse
	if err := c.callAPI(r, s.key, http.MethodGet, "/v1/audit/verify", nil, &vr); err != nil {
		d.Err = err.Error()
	} else {
		d.Chains = &vr
	}
	v.Live = pagePath("/ui/events/activity", q)
	v.Data = d
	c.render(w, http.StatusOK, "activity", v)
}

// events streams a live page's list (server-sent events): an "update"
// event carrying the list's new HTML whenever it changes, read every
// Poll, and "signout" when the session ends. The HTML is the same
// template the page renders, so it is escaped the same way.
func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session, h [32]byte) {
	page := r.PathValue("page")
	var frag func(ctx context.Context) (*view, error)
	switch page {
	case "approvals":
		frag = func(ctx context.Context) (*view, error) {
			cards, err := c.pendingApprovals(r.WithContext(ctx), s)
			v := &view{CSRF: s.csrf, Now: c.now(), Data: cards}
			return v, err
		}
	case "activity":
		q := activityFilter(r.URL.Query())
		frag = func(ctx context.Context) (*view, error) {
			rows, err := c.activityRows(ctx, r, s, q)
			return &view{CSRF: s.csrf, Now: c.now(), Data: &activityData{Filter: q, Rows: rows}}, err
		}
	default:
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	lk := liveKey{s.who.Tenant, s.who.KeyID}
	if !c.live.take(lk) {
		http.Error(w, fmt.Sprintf("this key has %d live pages open already: close one", maxLivePerKey), http.StatusTooManyRequests)
		return
	}
	defer c.live.done(lk)
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	ctx := r.Context()
	tick := time.NewTicker(c.poll)
	defer tick.Stop()
	var last [32]byte
	first := true
	for {
		if !c.alive(s, h) {
			writeEvent(w, "signout", "")
			rc.Flush()
			return
		}
		v, err := frag(ctx)
		if err != nil {
			if ctx.Err() == nil {
				writeEvent(w, "signout", "")
				rc.Flush()
			}
			return
		}
		var b bytes.Buffer
		if err := c.pages[page].ExecuteTemplate(&b, page+"-list", v); err != nil {
			c.log.Error("agenttrust/console: render", "page", page, "err", err)
			return
		}
		// The times left change every second, the list only when its
		// content does: the digest is of the data, not of the HTML. The
		// first update goes out at once, so nothing decided between the
		// page and its stream is missed.
		j, _ := json.Marshal(v.Data)
		sum := sha256.Sum256(j)
		if first || sum != last {
			writeEvent(w, "update", b.String())
			if err := rc.Flush(); err != nil {
				return
			}
			last, first = sum, false
		}
		select {
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// maxLivePerKey is how many live streams the sessions of one API key may
// hold at once, as many as the API's audit streams: each reads the API
// at every poll for as long as it stays open.
const maxLivePerKey = 8

// liveKey names the API key of a session (tenant and key id).
type liveKey struct{ tenant, keyID string }

// liveStreams counts the live streams each key holds; a key is in the map
// only while it holds one.
type liveStreams struct {
	mu sync.Mutex
	n  map[liveKey]int
}

// take counts one more stream of k, or reports false when k holds
// maxLivePerKey already.
func (l *liveStreams) take(k liveKey) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k] >= maxLivePerKey {
		return false
	}
	if l.n == nil {
		l.n = map[liveKey]int{}
	}
	l.n[k]++
	return true
}

// done ends a stream counted by take.
func (l *liveStreams) done(k liveKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k]--; l.n[k] <= 0 {
		delete(l.n, k)
	}
}

// writeEvent writes one server-sent event; each line of data becomes a
// "data:" line.
func writeEvent(w http.ResponseWriter, event, data string) {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r", ""), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	w.Write([]byte(b.String()))
}
