package server

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/audit"
	"github.com/agenttrust/agenttrust/internal/testkit"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

func TestAuditQuery(t *testing.T) {
	e := newEnv(t)
	bot, alice := e.key("acme/bot"), e.key("acme/alice")
	for range 5 {
		e.check(bot, map[string]any{"tool_name": "docs.read"})
	}
	e.check(bot, map[string]any{"tool_name": "docs.delete"})
	e.check(e.key("acme/bot2"), map[string]any{"tool_name": "docs.read"})
	e.sync()

	all := e.must(200, "GET", "/v1/audit", e.key("acme/carol"), nil).json(t)
	recs := all["records"].([]any)
	if len(recs) != 7 || all["next"] != nil {
		t.Fatalf("records: %d, next %v", len(recs), all["next"])
	}
	first := recs[0].(map[string]any)
	if first["chain"] != "n1/acme" || first["seq"] != float64(1) || first["tool"] != "docs.read" || first["effect"] != "allow" {
		t.Errorf("first record: %v", first)
	}

	// Paging.
	var seen int
	path := "/v1/audit?limit=3"
	for range 10 {
		page := e.must(200, "GET", path, alice, nil).json(t)
		seen += len(page["records"].([]any))
		next, ok := page["next"].(map[string]any)
		if !ok {
			break
		}
		path = "/v1/audit?limit=3&after_chain=" + next["after_chain"].(string) + "&after_seq=" + jsonNumber(next["after_seq"])
	}
	if seen != 7 {
		t.Errorf("paged through %d records, want 7", seen)
	}

	// Filters.
	for q, want := range map[string]int{
		"effect=deny":     1,
		"agent_id=bot2":   1,
		"tool=docs.read":  6,
		"chain=n1/acme":   7,
		"chain=n1/globex": 0,
		"since=2026-11-22T05:00:00Z&until=2026-11-22T05:00:01Z": 7,
		"until=2026-11-22T05:00:00Z":                            0,
	} {
		got := len(e.must(200, "GET", "/v1/audit?"+q, alice, nil).json(t)["records"].([]any))
		if got != want {
			t.Errorf("%s: %d records, want %d", q, got, want)
		}
	}
	id := first["id"].(string)
	if got := e.must(200, "GET", "/v1/audit?decision_id="+id, alice, nil).json(t)["records"].([]any); len(got) != 1 {
		t.Errorf("by decision id: %v", got)
	}
	e.must(403, "GET", "/v1/audit", bot, nil)

	// The records verify as a chain on the client side too.
	var page wire.AuditPage
	if err := json.Unmarshal(e.must(200, "GET", "/v1/audit", alice, nil).body, &page); err != nil {
		t.Fatal(err)
	}
	if err := agenttrust.VerifyChain(page.Records, testAuditKey); err != nil {
		t.Errorf("VerifyChain of the API's records: %v", err)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAuditVerify(t *testing.T) {
	e := newEnv(t)
	bot, alice := e.key("acme/bot"), e.key("acme/alice")
	for range 3 {
		e.check(bot, map[string]any{"tool_name": "docs.read"})
	}
	e.sync()
	v := e.must(200, "GET", "/v1/audit/verify", e.key("acme/carol"), nil).json(t)
	chains := v["chains"].([]any)
	if v["ok"] != true || len(chains) != 1 {
		t.Fatalf("verify: %v", v)
	}
	c := chains[0].(map[string]any)
	if c["chain"] != "n1/acme" || c["records"] != float64(3) || c["first_seq"] != float64(1) || c["last_seq"] != float64(3) || len(c["head_hash"].(string)) != 64 {
		t.Errorf("chain report: %v", c)
	}

	// A record appended to another chain of the tenant with a forged hash
	// breaks that chain, and only it.
	ctx := context.Background()
	recs, _ := e.st.QueryAudit(ctx, store.AuditQuery{Chain: "n1/acme"})
	forged := recs[0]
	forged.Chain, forged.Reason = "n2/acme", "edited"
	if err := e.st.AppendAudit(ctx, []store.AuditRecord{forged}); err != nil {
		t.Fatal(err)
	}
	v = e.must(200, "GET", "/v1/audit/verify", alice, nil).json(t)
	if v["ok"] != false || len(v["chains"].([]any)) != 2 {
		t.Fatalf("verify with a forged chain: %v", v)
	}
	for _, c := range v["chains"].([]any) {
		c := c.(map[string]any)
		if ok := c["chain"] == "n1/acme"; c["ok"] != ok {
			t.Errorf("chain %v", c)
		}
		if c["chain"] == "n2/acme" && c["problem"] == nil {
			t.Errorf("broken chain without a problem: %v", c)
		}
	}
	if v := e.must(200, "GET", "/v1/audit/verify?chain=n1/acme", alice, nil).json(t); v["ok"] != true || len(v["chains"].([]any)) != 1 {
		t.Errorf("verify one chain: %v", v)
	}

	// A chain whose stored head lies past the tenant's last record (here:
	// another tenant's writer continued it) is reported, not passed.
	for _, tn := range []string{"acme", "globex"} {
		c, err := agenttrust.New(e.st, agenttrust.WithTenant(tn), agenttrust.WithAudit(agenttrust.AuditConfig{Chain: "n3/acme", Key: testAuditKey, Sinks: []agenttrust.AuditSink{audit.NewStoreSink(e.st)}}), agenttrust.WithClock(e.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		c.Check(ctx, agenttrust.Request{AgentID: "x", Tool: "docs.read"})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	v = e.must(200, "GET", "/v1/audit/verify?chain=n3/acme", alice, nil).json(t)
	c3 := v["chains"].([]any)[0].(map[string]any)
	if v["ok"] != false || c3["ok"] != false || c3["last_seq"] != float64(1) || !strings.Contains(c3["problem"].(map[string]any)["message"].(string), "missing at the end") {
		t.Errorf("chain continued by another tenant: %v", v)
	}
}

// sse reads server-sent events from a response.
type sse struct {
	res    *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// sseEvent is an "audit" event: its id and its record.
type sseEvent struct {
	id  string
	rec map[string]any
}

func (e *env) stream(cred, query string) *sse {
	e.t.Helper()
	return e.streamFrom(cred, query, "")
}

// streamFrom opens a stream that resumes from the event id lastID, if
// not empty.
func (e *env) streamFrom(cred, query, lastID string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/v1/audit/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sse{res: res, events: make(chan sseEvent, 100), cancel: cancel}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		event, id := "", ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				event = ""
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "audit":
				var m map[string]any
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m) == nil {
					s.events <- sseEvent{id: id, rec: m}
				}
			}
		}
		close(s.events)
	}()
	return s
}

func (s *sse) next(t *testing.T) map[string]any {
	t.Helper()
	return s.nextEvent(t).rec
}

func (s *sse) nextEvent(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no audit event within 5s")
	}
	return sseEvent{}
}

func TestAuditStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, WithAuditPoll(20*time.Millisecond))
		bot := e.key("acme/bot")
		e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "before"})
		e.sync()
		e.clock.Advance(time.Second)

		s := e.stream(e.key("acme/carol"), "")
		gs := e.stream(e.key("globex/gadmin"), "")
		e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "r1"})
		e.check(bot, map[string]any{"tool_name": "docs.delete", "resource": "r2"})
		for _, want := range []string{"r1", "r2"} {
			if got := s.next(t); got["resource"] != want || got["tenant"] != "acme" {
				t.Fatalf("event %v, want resource %s", got, want)
			}
		}

		// Another node sharing the store writes its own chain; the stream
		// picks it up.
		e.onNode2(t)("from-n2")
		if got := s.next(t); got["resource"] != "from-n2" || got["chain"] != "n2/acme" {
			t.Fatalf("event from node 2: %v", got)
		}
		// Globex's stream saw none of it.
		e.check(e.key("globex/gbot"), map[string]any{"tool_name": "docs.read", "resource": "g1"})
		if got := gs.next(t); got["resource"] != "g1" || got["tenant"] != "globex" {
			t.Fatalf("globex event: %v", got)
		}

		// since reaches back; filters apply.
		s2 := e.stream(e.key("acme/alice"), "?since=2026-11-22T04:00:00Z&effect=allow")
		for _, want := range []string{"before", "r1", "from-n2"} {
			got := s2.next(t)
			if got["resource"] != want {
				t.Fatalf("replayed event %v, want %s", got, want)
			}
		}
		e.must(403, "GET", "/v1/audit/stream", bot, nil)
		e.must(400, "GET", "/v1/audit/stream?until=2026-11-22T04:00:00Z", e.key("acme/alice"), nil)
	})
}

// onNode2 starts a second server node "n2" on the env's store and returns
// a function that makes an allowed check of acme's bot on it, its audit
// record stored before it returns.
func (e *env) onNode2(t *testing.T) func(resource string) {
	t.Helper()
	srv2, err := New(e.st, WithNodeName("n2"), WithClock(e.clock.Now),
		WithClientOptions(testkit.Keys()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv2.Close() })
	c2, err := srv2.Client(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return func(resource string) {
		t.Helper()
		if _, err := c2.Check(context.Background(), agenttrust.Request{AgentID: "bot", Tool: "docs.read", Resource: resource}); err != nil {
			t.Fatal(err)
		}
		if err := c2.SyncAudit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A stream resumed from an event's id goes on from there, across every
// chain it followed: nothing missed, nothing repeated.
func TestAuditStreamResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, WithAuditPoll(20*time.Millisecond))
		bot, carol := e.key("acme/bot"), e.key("acme/carol")
		onNode2 := e.onNode2(t)

		s := e.stream(carol, "")
		e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "r1"})
		if ev := s.nextEvent(t); ev.rec["resource"] != "r1" || ev.id == "" {
			t.Fatalf("first event %+v", ev)
		}
		onNode2("n2-a")
		last := s.nextEvent(t)
		if last.rec["resource"] != "n2-a" {
			t.Fatalf("second event %+v", last)
		}
		s.cancel()
		// Recorded while no one was listening, on both nodes.
		e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "r2"})
		onNode2("n2-b")
		e.sync()

		// The position wins over the URL's since, which would replay all.
		r := e.streamFrom(carol, "?since=2026-11-22T00:00:00Z", last.id)
		e.check(bot, map[string]any{"tool_name": "docs.read", "resource": "r3"})
		got := map[string]bool{}
		for len(got) < 3 {
			res := r.next(t)["resource"].(string)
			if got[res] {
				t.Fatalf("%s came twice", res)
			}
			got[res] = true
		}
		if !got["r2"] || !got["n2-b"] || !got["r3"] {
			t.Fatalf("resumed stream sent %v, want r2, n2-b and r3", got)
		}

		// A position only moves a client within its own tenant.
		g := e.streamFrom(e.key("globex/gadmin"), "", last.id)
		e.check(e.key("globex/gbot"), map[string]any{"tool_name": "docs.read", "resource": "g1"})
		if got := g.next(t); got["tenant"] != "globex" || got["resource"] != "g1" {
			t.Fatalf("globex stream resumed from acme's position sent %v", got)
		}

		many := "since=2026-11-22T04:00:00Z" + strings.Repeat("&c=1%3Aa", maxPositionChains+1)
		for _, id := range []string{
			"garbage;;",
			"c=1%3An1%2Facme", // no since
			"since=yesterday", // not a time
			"since=2026-11-22T04:00:00Z&since=2026-11-22T04:00:00Z",
			"since=2026-11-22T04:00:00Z&c=x%3An1%2Facme", // seq not a number
			"since=2026-11-22T04:00:00Z&c=1",             // no chain
			"since=2026-11-22T04:00:00Z&c=1%3A%01",       // control character
			"since=2026-11-22T04:00:00Z&c=1%3Aa&c=2%3Aa", // a chain twice
			"since=2026-11-22T04:00:00Z&chain=a",         // unknown field
			many,
		} {
			res := e.do("GET", "/v1/audit/stream", carol, nil, "Last-Event-ID", id)
			if res.status != 400 || !strings.Contains(string(res.body), "Last-Event-ID") {
				t.Errorf("Last-Event-ID %.60q: status %d %s", id, res.status, res.body)
			}
		}
	})
}

func TestAuditStreamEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t)
		s := e.stream(e.key("acme/alice"), "")
		done := make(chan struct{})
		go func() {
			for range s.events {
			}
			close(done)
		}()
		e.srv.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("stream still open after Close")
		}
	})
}

// FuzzStreamPosition: every position parsePosition accepts is written
// back by appendPosition as one it reads the same, and fits in an SSE id
// field (no line break, no NUL).
func FuzzStreamPosition(f *testing.F) {
	for _, seed := range []string{
		"since=2026-11-22T04:00:00Z",
		"since=2026-11-22T04:00:00.123456789Z&c=12%3An1%2Facme&c=0%3An2%2Facme",
		"since=2026-11-22T06:00:00%2B01:00&c=18446744073709551615%3A%E2%9C%93",
		"since=2026-11-22T04:00:00Z&c=1%3Aa&c=2%3Aa",
		"c=1%3Aa",
		"garbage;;",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pos string) {
		since, cursors, err := parsePosition(pos)
		if err != nil {
			return
		}
		tail := &auditTail{q: store.AuditQuery{Since: since}, cursors: cursors}
		for ch := range cursors {
			tail.chains = append(tail.chains, ch)
		}
		slices.Sort(tail.chains)
		out := string(tail.appendPosition(nil))
		if strings.ContainsAny(out, "\r\n\x00") {
			t.Fatalf("position %q holds a line break or NUL", out)
		}
		since2, cursors2, err := parsePosition(out)
		if err != nil {
			t.Fatalf("%q (from %q) does not parse: %v", out, pos, err)
		}
		if !since2.Equal(since) || !maps.Equal(cursors, cursors2) {
			t.Fatalf("%q reads as %v %v, want %v %v", out, since2, cursors2, since, cursors)
		}
	})
}
