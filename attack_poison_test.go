package agenttrust

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust/store"
	"github.com/agenttrust/agenttrust/store/memory"
)

func TestStorable(t *testing.T) {
	euro := strings.Repeat("\u20ac", 400) // 1200 bytes; 1024 falls inside a character
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"ascii", "docs.read", 1024, "docs.read"},
		{"empty", "", 1024, ""},
		{"utf8", "caf\u00e9 \u65e5\u672c", 1024, "caf\u00e9 \u65e5\u672c"},
		{"nul", "docs.read\x00", 1024, "docs.read\uFFFD"},
		{"nul_only", "\x00\x00", 1024, "\uFFFD\uFFFD"},
		{"invalid_byte", "r\xff", 1024, "r\uFFFD"},
		{"truncated_sequence", "bot\xc3", 1024, "bot\uFFFD"},
		{"surrogate_encoded", "\xed\xa0\x80", 1024, "\uFFFD\uFFFD\uFFFD"},
		{"ascii_clipped", strings.Repeat("a", 1030), 1024, strings.Repeat("a", 1024)},
		{"utf8_clipped_on_boundary", euro, 1024, strings.Repeat("\u20ac", 341)},
		{"replacement_clipped", strings.Repeat("\x00", 10), 7, "\uFFFD\uFFFD"},
		{"invalid_clipped", strings.Repeat("\xff", 2000), 1024, strings.Repeat("\uFFFD", 341)},
		{"continuation_bytes_clipped", "a" + strings.Repeat("\x80", 10), 5, "a\uFFFD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := storable(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("storable(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if !utf8.ValidString(got) || strings.ContainsRune(got, 0) || len(got) > tc.max {
				t.Errorf("storable(%q, %d) = %q: not storable", tc.in, tc.max, got)
			}
		})
	}
	ids := []string{"hop_a", "hop\x00b"}
	out := storableList(ids)
	if out[1] != "hop\uFFFDb" || ids[1] != "hop\x00b" {
		t.Errorf("storableList: %q, and the input became %q", out, ids)
	}
	if clean := []string{"hop_a"}; &storableList(clean)[0] != &clean[0] {
		t.Error("storableList copied a clean list")
	}
	s := strings.Repeat("r", 900)
	if n := testing.AllocsPerRun(100, func() { _ = clip(s); _ = storable("caf\u00e9", noLimit) }); n != 0 {
		t.Errorf("storable of clean text: %v allocations", n)
	}
}

func FuzzStorable(f *testing.F) {
	for _, s := range []string{"", "docs.read", "a\x00b", "r\xff", "\u20ac\u20ac", "\xed\xa0\x80", "\xf0\x9f\x98"} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 {
			max = -max
		}
		got := storable(s, max)
		if !utf8.ValidString(got) || strings.ContainsRune(got, 0) || len(got) > max {
			t.Fatalf("storable(%q, %d) = %q", s, max, got)
		}
		if utf8.ValidString(s) && !strings.ContainsRune(s, 0) && len(s) <= max && got != s {
			t.Fatalf("storable changed clean %q to %q", s, got)
		}
	})
}

func TestAppendStorableJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", `{"a":[1,"b",null]}`, `{"a":[1,"b",null]}`},
		{"escapes_kept", `"\u003c\n\"\\u0000"`, `"\u003c\n\"\\u0000"`},
		{"nul_escape", `{"k\u0000":"\u0000"}`, `{"k\ufffd":"\ufffd"}`},
		{"lone_high", `["\ud800"]`, `["\ufffd"]`},
		{"lone_low", `["x\udc00"]`, `["x\ufffd"]`},
		{"high_then_other", `"\ud800\u0041"`, `"\ufffd\u0041"`},
		{"pair_kept", `"\ud83d\ude00"`, `"\ud83d\ude00"`},
		{"pair_upper_hex", `"\uD83D\uDE00"`, `"\uD83D\uDE00"`},
		{"invalid_utf8", "[\"\xff\"]", `["\ufffd"]`},
		{"utf8_kept", "[\"\u00e9\\u0041\"]", "[\"\u00e9\\u0041\"]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendStorableJSON(nil, []byte(tc.in)))
			if got != tc.want {
				t.Errorf("appendStorableJSON(%s) = %s, want %s", tc.in, got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("%s is not JSON", got)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"0", true}, {"-1.5e+3", true}, {"12E2", true}, {"NaN", false}, {"Inf", false}, {"+1", false},
		{".5", false}, {"01", false}, {"0x1p3", false}, {"1_000", false}, {"1.", false}, {"1e", false}, {"", false}, {"-", false},
	} {
		if got := isJSONNumber(tc.in); got != tc.want {
			t.Errorf("isJSONNumber(%q) = %v", tc.in, got)
		}
	}
}

// poisonAttrs holds attribute names and values, nested and raw, that a
// store or a JSON column could refuse.
func poisonAttrs() []attrKV {
	return []attrKV{
		{Name: "n\x00", Value: "v\x00"},
		{Name: "n\xff", Value: "v\xff"},
		{Name: "nested", Value: json.RawMessage(marshalAttr(map[string]any{"k\x00": []string{"v\x00", "\xfe"}}))},
		{Name: "raw_nul", Value: json.RawMessage(`{"k\u0000":"\u0000"}`)},
		{Name: "raw_surrogates", Value: json.RawMessage(`["\ud800","\udc00x","\ud800\u0041"]`)},
		{Name: "raw_invalid", Value: json.RawMessage("[\"\xff\"]")},
		{Name: "number_nan", Value: json.Number("NaN")},
		{Name: "number_hex", Value: json.Number("0x1p3")},
		{Name: "float_inf", Value: math.Inf(1)},
	}
}

// The audit record of a decision holds every text as every store can
// keep it, whatever was in the request, the credential or the engine's
// answer: one case per field, read back and verified. The memory store
// runs here, in the core module; internal/attack's
// TestAttackFailClosedAuditPoison sends the same texts through Check on
// SQLite and PostgreSQL, where a database could refuse them.
func TestAttackAuditPoisonEveryField(t *testing.T) {
	type backend struct {
		name string
		open func(t *testing.T) store.Store
	}
	backends := []backend{
		{"memory", func(t *testing.T) store.Store { return memory.New() }},
	}
	const bad = "x\x00y\xffz\xed\xa0\x80"
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				set  func(req *Request, d *Decision, st *checkState)
				get  func(r store.AuditRecord) string
			}{
				{"agent_id", func(req *Request, _ *Decision, _ *checkState) { req.AgentID = bad },
					func(r store.AuditRecord) string { return r.AgentID }},
				{"on_behalf_of", func(req *Request, _ *Decision, _ *checkState) { req.OnBehalfOf = bad },
					func(r store.AuditRecord) string { return r.OnBehalfOf }},
				{"session_id", func(req *Request, _ *Decision, _ *checkState) { req.SessionID = bad },
					func(r store.AuditRecord) string { return r.SessionID }},
				{"tool", func(req *Request, _ *Decision, _ *checkState) { req.Tool = bad },
					func(r store.AuditRecord) string { return r.Tool }},
				{"resource", func(req *Request, _ *Decision, _ *checkState) { req.Resource = bad },
					func(r store.AuditRecord) string { return r.Resource }},
				{"resource_clipped_mid_character", func(req *Request, _ *Decision, _ *checkState) {
					req.Resource = strings.Repeat("\u20ac", 400) + bad
				}, nil},
				{"credential_id", func(_ *Request, d *Decision, _ *checkState) { d.CredentialID = bad },
					func(r store.AuditRecord) string { return r.CredentialID }},
				{"hop_ids", func(_ *Request, _ *Decision, st *checkState) { st.cred.hops = []string{"hop_ok", bad} },
					func(r store.AuditRecord) string { return strings.Join(r.HopIDs, ",") }},
				{"rule", func(_ *Request, d *Decision, _ *checkState) { d.Rule = bad },
					func(r store.AuditRecord) string { return r.Rule }},
				{"reason", func(_ *Request, d *Decision, _ *checkState) { d.Reason = bad },
					func(r store.AuditRecord) string { return r.Reason }},
				{"approval_id", func(_ *Request, d *Decision, _ *checkState) { d.ApprovalID = bad },
					func(r store.AuditRecord) string { return r.ApprovalID }},
				{"attributes", func(_ *Request, _ *Decision, st *checkState) { st.kvs = poisonAttrs() },
					func(r store.AuditRecord) string { return string(r.Attributes) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := b.open(t)
					t.Cleanup(func() { st.Close() })
					c, err := New(st, WithAudit(AuditConfig{Sinks: []AuditSink{storeSink(st.AppendAudit)}, WriteTimeout: time.Second}),
						WithClock(func() time.Time { return time.Unix(1_800_000_000, 0) }))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					req := Request{AgentID: "bot", Tool: "docs.read"}
					d := Decision{Effect: Deny, Reason: reasonInvalid}
					var cs checkState
					tc.set(&req, &d, &cs)
					now := c.clock.Now()
					d.ID = c.ids.next(now)
					if err := c.record(context.Background(), &req, &d, now, 0, &cs); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					if err := c.SyncAudit(ctx); err != nil {
						t.Fatalf("audit not written: %v", err)
					}
					recs, err := st.QueryAudit(ctx, store.AuditQuery{DecisionID: d.ID})
					if err != nil || len(recs) != 1 {
						t.Fatalf("read back: %d records, %v", len(recs), err)
					}
					r := recs[0]
					for _, s := range append([]string{r.AgentID, r.OnBehalfOf, r.SessionID, r.Tool, r.Resource,
						r.CredentialID, r.Rule, r.Reason, r.ApprovalID, string(r.Attributes)}, r.HopIDs...) {
						if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || strings.Contains(s, `\u0000`) {
							t.Errorf("stored %q", s)
						}
					}
					if len(r.Resource) > maxFieldLen {
						t.Errorf("resource of %d bytes stored", len(r.Resource))
					}
					if tc.get != nil {
						if got := tc.get(r); !strings.Contains(got, "\uFFFD") && !strings.Contains(got, `\ufffd`) {
							t.Errorf("stored %q does not show that something was there", got)
						}
					}
					if err := VerifyChain(recs, c.auditKey); err != nil {
						t.Errorf("chain: %v", err)
					}
				})
			}
		})
	}
}

// BenchmarkStorableFields measures what storable adds to a check: the
// ten texts of a typical record, plain ASCII, none needing a change.
func BenchmarkStorableFields(b *testing.B) {
	req := Request{AgentID: "a1", Tool: "transfer", Resource: "acct-1", SessionID: "sess-42", OnBehalfOf: "alice"}
	d := Decision{Rule: "small-transfers", Reason: "transfers under 50 are fine", CredentialID: "tok_abcdefghijklmnopqrstuvwxyz", HopIDs: []string{"hop_abcdefghijklmnopqrstuvwxyz"}}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n += len(clip(req.AgentID)) + len(clip(req.OnBehalfOf)) + len(clip(req.SessionID)) + len(clip(req.Tool)) + len(clip(req.Resource))
		n += len(storable(d.CredentialID, noLimit)) + len(storableList(d.HopIDs)) + len(storable(d.Rule, noLimit)) + len(storable(d.Reason, noLimit)) + len(storable(d.ApprovalID, noLimit))
	}
	_ = n
}

// storeSink adapts a store's AppendAudit to AuditSink.
type storeSink func(ctx context.Context, recs []AuditRecord) error

func (f storeSink) Write(ctx context.Context, recs []AuditRecord) error { return f(ctx, recs) }
