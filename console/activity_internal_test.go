package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// fakeAudit serves GET /v1/audit over recs (one chain, in seq order) as
// the API does: since, after_seq, limit, and a next cursor.
func fakeAudit(t *testing.T, recs []store.AuditRecord) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		since, _ := time.Parse(time.RFC3339Nano, q.Get("since"))
		after, _ := strconv.ParseUint(q.Get("after_seq"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		var page wire.AuditPage
		for _, rec := range recs {
			if rec.Seq <= after || rec.Time.Before(since) {
				continue
			}
			if len(page.Records) == limit {
				last := page.Records[len(page.Records)-1]
				page.Next = &wire.AuditCursor{AfterChain: last.Chain, AfterSeq: last.Seq}
				break
			}
			page.Records = append(page.Records, rec)
		}
		json.NewEncoder(w).Encode(page)
	})
}

// TestActivityNewestOfABusyHour: 6,000 decisions in the last hour, more
// than one read takes; the page still shows the newest.
func TestActivityNewestOfABusyHour(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	const n = 6000
	recs := make([]store.AuditRecord, n)
	for i := range recs {
		recs[i] = store.AuditRecord{Chain: "n1/acme", Seq: uint64(i + 1), Time: now.Add(-time.Hour + time.Duration(i+1)*time.Hour/n), AgentID: "bot", Tool: "docs.read"}
	}
	c, err := New(Config{API: fakeAudit(t, recs), Now: fixedClock{now}.Now})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{key: "atk_x"}
	rows, err := c.activityRows(context.Background(), httptest.NewRequest("GET", "/ui/activity", nil), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != maxRows || rows[0].Seq != n || rows[maxRows-1].Seq != n-maxRows+1 {
		t.Fatalf("%d rows, seq %d..%d; want %d rows, %d..%d", len(rows), rows[0].Seq, rows[len(rows)-1].Seq, maxRows, n, n-maxRows+1)
	}
}

// FuzzAttrs: whatever JSON an agent sends as attributes, the list shown
// is bounded and made of valid UTF-8 no longer than the clip (escaped,
// at most six times as long, quoted), holding no character a person
// cannot see.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte(`{"amount":120,"<script>":"javascript:alert(1)"}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"a":{"b":[1,{"c":"\u2028"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, _ := attrs(json.RawMessage(raw))
		if len(got) > maxAttrs+1 {
			t.Fatalf("%d attributes shown", len(got))
		}
		for _, a := range got {
			for _, s := range []string{a.Key, a.Value} {
				if len(s) > 6*maxAttrLen+2+len("…") || !utf8.ValidString(s) {
					t.Fatalf("%d bytes shown, valid UTF-8 %v", len(s), utf8.ValidString(s))
				}
				if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
					t.Fatalf("%q shown raw", s)
				}
			}
		}
	})
}
