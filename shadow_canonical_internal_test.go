package agenttrust

import (
	"bytes"
	"testing"
	"time"
)

// TestCanonicalShadow: the shadow fields are optional fields of the
// canonical encoding after the request id, each present only when set;
// out of order, repeated or empty, the encoding is malformed, so each
// record keeps exactly one encoding.
func TestCanonicalShadow(t *testing.T) {
	base := AuditRecord{Chain: "n1/acme", Seq: 7, Time: time.Unix(0, 1_000).UTC(), Tenant: "acme", AgentID: "bot", Tool: "t", Effect: Allow, RequestID: "r1"}
	with := base
	with.ShadowEffect, with.ShadowRule = "deny", "no-prod"
	plain, tagged := appendCanonical(nil, &base), appendCanonical(nil, &with)
	if !bytes.Equal(tagged[:len(plain)], plain) || !bytes.Equal(tagged[len(plain):], []byte("\x02\x04deny\x03\x07no-prod")) {
		t.Fatalf("encoding with a shadow %x, want %x followed by the tagged fields", tagged, plain)
	}
	effectOnly := with
	effectOnly.ShadowRule = ""
	for _, tc := range []struct {
		name string
		enc  []byte
		want AuditRecord
		ok   bool
	}{
		{"no shadow", plain, base, true},
		{"shadow", tagged, with, true},
		{"effect only", appendCanonical(nil, &effectOnly), effectOnly, true},
		{"rule before effect", append(bytes.Clone(plain), 3, 1, 'r', 2, 4, 'd', 'e', 'n', 'y'), base, false},
		{"effect twice", append(bytes.Clone(tagged), 2, 1, 'x'), base, false},
		{"empty effect", append(bytes.Clone(plain), 2, 0), base, false},
		{"cut rule", tagged[:len(tagged)-1], base, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeCanonical(tc.enc)
			if !tc.ok {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", r)
				}
				return
			}
			if err != nil || r.ShadowEffect != tc.want.ShadowEffect || r.ShadowRule != tc.want.ShadowRule || r.RequestID != "r1" {
				t.Fatalf("decoded %+v %v, want shadow %q %q", r, err, tc.want.ShadowEffect, tc.want.ShadowRule)
			}
			if again := appendCanonical(nil, &r); !bytes.Equal(again, tc.enc) {
				t.Fatalf("re-encoded %x, want %x", again, tc.enc)
			}
		})
	}
}
