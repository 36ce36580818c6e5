package agenttrust

import (
	"bytes"
	"testing"
	"time"
)

// TestCanonicalRequestID: the request id is an optional field of the
// canonical encoding, present only when set, and decodes back; an
// encoding with an empty or unknown optional field is malformed, so each
// record has exactly one encoding.
func TestCanonicalRequestID(t *testing.T) {
	base := AuditRecord{Chain: "n1/acme", Seq: 7, Time: time.Unix(0, 1_000).UTC(), Tenant: "acme", AgentID: "bot", Tool: "t", Effect: Deny}
	with := base
	with.RequestID = "abc-123"
	plain, tagged := appendCanonical(nil, &base), appendCanonical(nil, &with)
	if !bytes.Equal(tagged[:len(plain)], plain) || !bytes.Equal(tagged[len(plain):], []byte("\x01\x07abc-123")) {
		t.Fatalf("encoding with a request id %x, want %x followed by the tagged id", tagged, plain)
	}
	for _, tc := range []struct {
		name string
		enc  []byte
		want string
		ok   bool
	}{
		{"no request id", plain, "", true},
		{"request id", tagged, "abc-123", true},
		{"empty request id", append(bytes.Clone(plain), 1, 0), "", false},
		{"unknown tag", append(bytes.Clone(plain), 9, 1, 'x'), "", false},
		{"request id twice", append(bytes.Clone(tagged), 1, 1, 'x'), "", false},
		{"cut request id", tagged[:len(tagged)-1], "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeCanonical(tc.enc)
			if !tc.ok {
				if err == nil {
					t.Fatalf("decoded %+v, want an error", r)
				}
				return
			}
			if err != nil || r.RequestID != tc.want || r.Chain != base.Chain || r.Seq != base.Seq {
				t.Fatalf("decoded %+v %v, want request id %q", r, err, tc.want)
			}
			if again := appendCanonical(nil, &r); !bytes.Equal(again, tc.enc) {
				t.Fatalf("re-encoded %x, want %x", again, tc.enc)
			}
		})
	}
}
