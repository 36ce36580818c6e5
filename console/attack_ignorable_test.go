package console_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestAttackConsoleIgnorableCharsShown: Go's unicode.IsPrint counts as
// printable some characters no font draws: the combining grapheme joiner,
// the Hangul fillers, variation selectors. The console wrote agent text
// as it was when IsPrint held for every character, and strconv.Quote
// left these raw inside the quotes too, so "acct/1" and "acct/1" plus a
// Hangul filler read the same on a card an approver decides on, and on
// the activity page (summary and record). Each such character is written
// as a \u escape, as a zero-width space is.
func TestAttackConsoleIgnorableCharsShown(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    rune
	}{
		{"combining grapheme joiner U+034F", 0x034f},
		{"Hangul choseong filler U+115F", 0x115f},
		{"Hangul filler U+3164", 0x3164},
		{"halfwidth Hangul filler U+FFA0", 0xffa0},
		{"Khmer inherent vowel U+17B4", 0x17b4},
		{"Mongolian variation selector U+180B", 0x180b},
		{"variation selector 16 U+FE0F", 0xfe0f},
		{"variation selector 17 U+E0100", 0xe0100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.r)
			// Go's escape on a card and in the summary, JSON's in a record.
			want, wantJSON := fmt.Sprintf(`\u%04x`, tc.r), fmt.Sprintf(`\u%04x`, tc.r)
			if tc.r > 0xffff {
				r1, r2 := utf16.EncodeRune(tc.r)
				want, wantJSON = fmt.Sprintf(`\U%08x`, tc.r), fmt.Sprintf(`\u%04x\u%04x`, r1, r2)
			}
			e := newEnv(t, false)
			ctx := context.Background()
			resource := "acct/1" + s + "2"
			id := e.pending("bot", "payments.charge", resource, map[string]any{"file": "invoice" + s + "gpj.exe", "amount" + s: 5})
			b := e.browser()
			b.signIn("carol")
			text := html.UnescapeString(approvalCard(t, b.do("GET", "/ui/approvals", nil).body, id))
			for _, raw := range []string{"invoice" + s, "amount" + s, "acct/1" + s} {
				if strings.Contains(text, raw) {
					t.Errorf("the card holds %U raw in %q", tc.r, raw)
				}
			}
			for _, esc := range []string{"invoice" + want, "amount" + want, "acct/1" + want} {
				if !strings.Contains(text, esc) {
					t.Errorf("the card does not show %s", esc)
				}
			}

			if err := e.client().SyncAudit(ctx); err != nil {
				t.Fatal(err)
			}
			text = html.UnescapeString(b.do("GET", "/ui/activity", nil).body)
			if !strings.Contains(text, "gpj.exe") {
				t.Fatalf("the check is not on the activity page")
			}
			for _, raw := range []string{"invoice" + s, "acct/1" + s} {
				if strings.Contains(text, raw) {
					t.Errorf("the activity page holds %U raw in %q", tc.r, raw)
				}
			}
			for _, esc := range []string{"invoice" + wantJSON, "acct/1" + want} {
				if !strings.Contains(text, esc) {
					t.Errorf("the activity page does not show %s", esc)
				}
			}
		})
	}
}
