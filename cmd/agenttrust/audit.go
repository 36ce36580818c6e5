package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store"
)

func auditCommand() *command {
	return &command{
		name:    "audit",
		summary: "Read and verify the audit trail (admin, approver)",
		subs:    []*command{auditTailCommand(), auditQueryCommand(), auditVerifyCommand()},
	}
}

// auditFilter holds the filter flags shared by query and tail.
type auditFilter struct {
	agent, tool, effect string
}

func auditFilterFlags(f *flags) *auditFilter {
	a := &auditFilter{}
	f.StringVar(&a.agent, "agent", "", "only records of this agent `ID`")
	f.StringVar(&a.tool, "tool", "", "only records of this `TOOL`")
	f.StringVar(&a.effect, "effect", "", "only records of this `EFFECT`: allow, deny or needs_approval")
	return a
}

func (a *auditFilter) query() (store.AuditQuery, error) {
	q := store.AuditQuery{AgentID: a.agent, Tool: a.tool}
	if a.effect != "" {
		eff, err := store.ParseEffect(a.effect)
		if err != nil {
			return q, usagef("--effect: want allow, deny or needs_approval")
		}
		q.Effect = &eff
	}
	return q, nil
}

// printRecords prints audit records: a table, or one JSON record per line.
func printRecords(o *out, recs []agenttrust.AuditRecord, header bool) error {
	if o.json {
		enc := json.NewEncoder(jsonWriter{o.w})
		enc.SetEscapeHTML(false)
		for i := range recs {
			if err := enc.Encode(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	t := o.table()
	if header {
		t.row(auditColumns...)
	}
	for _, r := range recs {
		t.row(auditRow(r)...)
	}
	return t.flush()
}

var auditColumns = []string{"TIME", "CHAIN", "SEQ", "AGENT", "TOOL", "RESOURCE", "EFFECT", "RULE", "REASON"}

func auditRow(r agenttrust.AuditRecord) []string {
	return []string{r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Chain, fmt.Sprint(r.Seq), r.AgentID, r.Tool, r.Resource, r.Effect.String(), r.Rule, r.Reason}
}

// printTail prints records in fixed-width columns, so that the records a
// follow prints one by one line up with those before.
func printTail(o *out, recs []agenttrust.AuditRecord, header bool) error {
	if o.json {
		return printRecords(o, recs, false)
	}
	widths := []int{24, 16, 6, 16, 20, 16, 14, 16, 0}
	line := func(cells []string) error {
		var b strings.Builder
		for i, c := range cells {
			c = cell(c)
			if widths[i] == 0 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(&b, "%-*s ", widths[i], c)
		}
		b.WriteByte('\n')
		_, err := io.WriteString(o.w, b.String())
		return err
	}
	if header {
		if err := line(auditColumns); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if err := line(auditRow(r)); err != nil {
			return err
		}
	}
	return nil
}

func auditQueryCommand() *command {
	return &command{
		name:    "query",
		summary: "Print the audit records matching a filter, in (chain, seq) order",
		help: `Print the audit records of the tenant matching the filters, in (chain, seq)
order. --json prints one JSON record per line.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			af := auditFilterFlags(f)
			var chain, decision, since, until string
			var limit int
			f.StringVar(&chain, "chain", "", "only records of this `CHAIN` (\"<node>/<tenant>\")")
			f.StringVar(&decision, "decision", "", "only the record of this decision `ID`")
			f.StringVar(&since, "since", "", "only records at or after this `TIME` (RFC 3339, or a duration ago such as 1h)")
			f.StringVar(&until, "until", "", "only records before this `TIME` (RFC 3339, or a duration ago)")
			f.IntVar(&limit, "limit", 100, "at most `N` records; 0 for all")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				q, err := af.query()
				if err != nil {
					return err
				}
				q.Chain = chain
				if err := setWindow(&q, since, until, time.Now()); err != nil {
					return err
				}
				if decision != "" {
					if q.DecisionID, err = store.ParseDecisionID(decision); err != nil {
						return usagef("--decision: not a decision id")
					}
				}
				if limit < 0 {
					return usagef("--limit must not be negative")
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				first := true
				for n := 0; limit == 0 || n < limit; {
					q.Limit = 1000
					if limit > 0 {
						q.Limit = min(1000, limit-n)
					}
					recs, next, err := rc.QueryAudit(ctx, q)
					if err != nil {
						return err
					}
					if len(recs) > 0 || first {
						if err := printRecords(o, recs, first); err != nil {
							return err
						}
					}
					first = false
					n += len(recs)
					if next == nil {
						break
					}
					q = *next
				}
				return nil
			}
		},
	}
}

func auditTailCommand() *command {
	return &command{
		name:    "tail",
		summary: "Print the latest audit records, and with --follow the new ones as they come",
		help: `Print the latest audit records of the tenant, oldest first; with --follow,
keep printing new records as they are stored, from every node, until
interrupted. A follower that loses the server (a restart, a network
fault, or nothing from it, not even its keepalive, for 15s plus
--timeout) says so on stderr and reconnects, going on from the last
record it printed. --json prints one JSON record per line.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			af := auditFilterFlags(f)
			var n int
			var follow bool
			var since string
			f.IntVar(&n, "n", 20, "how many of the latest records to print first")
			f.BoolVar(&follow, "follow", false, "keep printing new records as they are stored")
			f.StringVar(&since, "since", "24h", "look for the latest records no further back than this `TIME` (RFC 3339, or a duration ago)")
			return func(ctx context.Context, args []string) error {
				if err := wantArgs(args, 0, ""); err != nil {
					return err
				}
				q, err := af.query()
				if err != nil {
					return err
				}
				if n < 0 {
					return usagef("-n must not be negative")
				}
				start := time.Now()
				if q.Since, err = parseWhen("--since", since, start); err != nil {
					return err
				}
				rc, err := c.client(e)
				if err != nil {
					return err
				}
				defer rc.Close()
				recs, err := latest(ctx, rc, q, n)
				if err != nil {
					return err
				}
				if err := printTail(o, recs, true); err != nil {
					return err
				}
				if !follow {
					return nil
				}
				seen := map[string]uint64{}
				for _, r := range recs {
					seen[r.Chain] = max(seen[r.Chain], r.Seq)
				}
				// Follow from a little before the first read, so that
				// nothing stored in between is missed; seen drops repeats.
				return streamAudit(ctx, e, c, q, start.Add(-time.Second), func(r agenttrust.AuditRecord) error {
					if r.Seq <= seen[r.Chain] {
						return nil
					}
					seen[r.Chain] = r.Seq
					return printTail(o, []agenttrust.AuditRecord{r}, false)
				})
			}
		},
	}
}

// latest reads every record matching q and returns the n latest, oldest
// first.
func latest(ctx context.Context, rc *remote.Client, q store.AuditQuery, n int) ([]agenttrust.AuditRecord, error) {
	if n == 0 {
		return nil, nil
	}
	byTime := func(recs []agenttrust.AuditRecord) {
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	}
	var keep []agenttrust.AuditRecord
	q.Limit = 1000
	for {
		recs, next, err := rc.QueryAudit(ctx, q)
		if err != nil {
			return nil, err
		}
		keep = append(keep, recs...)
		if len(keep) > 4*n+1000 {
			byTime(keep)
			keep = append(keep[:0], keep[len(keep)-n:]...)
		}
		if next == nil {
			break
		}
		q = *next
	}
	byTime(keep)
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return keep, nil
}

// Reconnection of the audit stream: the first wait, and the longest.
const (
	streamRetryFirst = 500 * time.Millisecond
	streamRetryMax   = 30 * time.Second
)

// streamKeepalive is how often the server writes to an audit stream
// that has no record to send (server.streamKeepalive).
const streamKeepalive = 15 * time.Second

// streamAudit follows the server's audit stream (GET /v1/audit/stream,
// server-sent events) and calls fn for each record until ctx ends (nil),
// fn fails, or the server refuses the stream (an error). When the
// connection drops or the server goes away, it says so on stderr and
// reconnects with growing pauses, resuming from the last event's id, so
// that no record is missed or repeated.
func streamAudit(ctx context.Context, e *env, c *conn, q store.AuditQuery, since time.Time, fn func(agenttrust.AuditRecord) error) error {
	cred, err := c.credential(e.getenv)
	if err != nil {
		return err
	}
	v := url.Values{"since": {since.UTC().Format(time.RFC3339Nano)}}
	if q.AgentID != "" {
		v.Set("agent_id", q.AgentID)
	}
	if q.Tool != "" {
		v.Set("tool", q.Tool)
	}
	if q.Effect != nil {
		v.Set("effect", q.Effect.String())
	}
	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	// The URL passed remote.New's checks (https, or http to loopback unless
	// --insecure-http) when the first records were read. Redirects are not
	// followed: they would resend the credential elsewhere.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s := &auditStream{hc: hc, url: strings.TrimRight(c.server, "/") + "/v1/audit/stream?" + v.Encode(), cred: cred, e: e, fn: fn,
		idle: streamKeepalive + c.timeout}
	wait := streamRetryFirst
	for {
		delivered, err := s.once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var stop *streamStop
		if errors.As(err, &stop) {
			return stop.err
		}
		if delivered {
			wait = streamRetryFirst
		}
		fmt.Fprintf(e.stderr, "agenttrust: audit stream: %s; reconnecting in %v\n", plain(err.Error()), wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, streamRetryMax)
	}
}

// auditStream is one follower of the audit stream, across reconnections.
type auditStream struct {
	hc        *http.Client
	url, cred string
	e         *env
	fn        func(agenttrust.AuditRecord) error
	lastID    string // the position of the last record received
	// idle is how long a connection may bring nothing, not even the
	// server's keepalive, before it counts as lost: one stuck open (a
	// server hung in a store read, a proxy, a peer gone without a reset)
	// would otherwise hold the follower silent for good.
	idle time.Duration
}

// idleReader reads a stream's body, putting off its timer at each read
// that brings something.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.idle)
	}
	return n, err
}

// streamStop wraps an error that ends the following: no reconnection
// would help.
type streamStop struct{ err error }

func (s *streamStop) Error() string { return s.err.Error() }

// once connects and reads the stream until it ends. delivered reports
// whether it got a record through.
func (s *auditStream) once(ctx context.Context) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var silent atomic.Bool
	timer := time.AfterFunc(s.idle, func() {
		silent.Store(true)
		cancel()
	})
	defer timer.Stop()
	defer func() {
		if silent.Load() {
			err = fmt.Errorf("nothing from the server for %v, not even its keepalive", s.idle)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return false, &streamStop{usagef("--server: %v", err)}
	}
	req.Header.Set("Authorization", "Bearer "+s.cred)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "agenttrust-cli")
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return false, fmt.Errorf("no answer from the server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
		err := fmt.Errorf("audit stream: %s (%s, HTTP %d)", body.Error.Message, body.Error.Code, resp.StatusCode)
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return false, err
		}
		return false, &streamStop{err}
	}
	err = readEvents(&idleReader{r: resp.Body, timer: timer, idle: s.idle}, func(event, id, data string) error {
		switch event {
		case "audit":
			var r agenttrust.AuditRecord
			if err := json.Unmarshal([]byte(data), &r); err != nil {
				return &streamStop{fmt.Errorf("audit stream: malformed record: %w", err)}
			}
			// Output that waits (a paused pager) is not the server's
			// silence.
			timer.Stop()
			err := s.fn(r)
			timer.Reset(s.idle)
			if err != nil {
				return &streamStop{err}
			}
			s.lastID, delivered = id, true
		case "error":
			fmt.Fprintf(s.e.stderr, "agenttrust: audit stream: the server reports %s; the stream goes on\n", plain(data))
		}
		return nil
	})
	if err == nil {
		err = errors.New("the server ended the stream")
	}
	return delivered, err
}

// readEvents parses server-sent events from r and calls fn for each,
// with the last event id the stream set.
func readEvents(r io.Reader, fn func(event, id, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event, id string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				if event == "" {
					event = "message"
				}
				if err := fn(event, id, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			event, data = "", nil
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				data = append(data, value)
			case "id":
				if !strings.ContainsRune(value, 0) {
					id = value
				}
			}
		}
	}
	return sc.Err()
}

func auditVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "Verify the hash chains of the audit trail (exit 1 when one is broken)",
		help: `Have the server verify the tenant's audit chains: every record's MAC under
the deployment's audit key, the links and sequence, the chain's end at its
stored head and, for the answering node's own chains, at or past its
checkpoint (CHECKPOINT; "-" for another node's chain, whose checkpoint
that node holds). Exit status 1 when a chain is broken.`,
		setup: func(e *env, f *flags) runFunc {
			c := connFlags(f)
			o := outFlags(e, f)
			var chain string
			f.StringVar(&chain, "chain", "", "verify only this `CHAIN`")
			return func(ctx context.Context, args []string) error {
				rc, err := c.open(e, args, 0, "")
				if err != nil {
					return err
				}
				defer rc.Close()
				rep, err := rc.VerifyAudit(ctx, chain)
				if err != nil {
					return err
				}
				if chain != "" && !slices.ContainsFunc(rep.Chains, func(ch remote.ChainReport) bool { return ch.Chain == chain }) {
					// Nothing was verified: a chain named and not found (a
					// typo, or every record deleted) is no proof of an
					// intact trail.
					rep.OK = false
					rep.Chains = append(rep.Chains, remote.ChainReport{Chain: chain, Problem: "no records of this chain: nothing verified"})
				}
				if o.json {
					type chainView struct {
						Chain      string `json:"chain"`
						OK         bool   `json:"ok"`
						Records    int    `json:"records"`
						FirstSeq   uint64 `json:"first_seq"`
						LastSeq    uint64 `json:"last_seq"`
						HeadHash   string `json:"head_hash"`
						Checkpoint uint64 `json:"checkpoint_seq,omitempty"`
						ProblemSeq uint64 `json:"problem_seq,omitempty"`
						Problem    string `json:"problem,omitempty"`
					}
					views := make([]chainView, len(rep.Chains))
					for i, ch := range rep.Chains {
						views[i] = chainView{ch.Chain, ch.OK, ch.Records, ch.FirstSeq, ch.LastSeq, ch.HeadHash, ch.CheckpointSeq, ch.ProblemSeq, ch.Problem}
					}
					if err := o.printJSON(struct {
						OK     bool        `json:"ok"`
						Chains []chainView `json:"chains"`
					}{rep.OK, views}); err != nil {
						return err
					}
				} else {
					t := o.table("CHAIN", "OK", "RECORDS", "FIRST", "LAST", "CHECKPOINT", "HEAD", "PROBLEM")
					for _, ch := range rep.Chains {
						problem := ""
						if !ch.OK {
							problem = ch.Problem
							if ch.ProblemSeq > 0 {
								problem = fmt.Sprintf("seq %d: %s", ch.ProblemSeq, ch.Problem)
							}
						}
						checkpoint := "-"
						if ch.CheckpointSeq > 0 {
							checkpoint = fmt.Sprint(ch.CheckpointSeq)
						}
						t.row(ch.Chain, fmt.Sprint(ch.OK), fmt.Sprint(ch.Records), fmt.Sprint(ch.FirstSeq), fmt.Sprint(ch.LastSeq), checkpoint, ch.HeadHash, problem)
					}
					if err := t.flush(); err != nil {
						return err
					}
					if rep.OK {
						fmt.Fprintln(o.w, "audit trail OK")
					}
				}
				if !rep.OK {
					return &exitError{code: exitFailure, msg: "audit trail verification FAILED: a chain is broken or missing"}
				}
				return nil
			}
		},
	}
}

// setWindow sets q's Since and Until from the --since and --until flags,
// durations read back from now.
func setWindow(q *store.AuditQuery, since, until string, now time.Time) (err error) {
	if q.Since, err = parseWhen("--since", since, now); err != nil {
		return err
	}
	q.Until, err = parseWhen("--until", until, now)
	return err
}

// parseWhen reads an RFC 3339 time or a duration ago ("1h"); "" is the
// zero time.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		// Days, as --expires takes them: "7d".
		n, aerr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, aerr
		if n > 100*366 {
			err = errors.New("too many days")
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, usagef("%s: want an RFC 3339 time or a duration ago such as 1h or 7d, got %q", flag, s)
	}
	return now.Add(-d), nil
}
