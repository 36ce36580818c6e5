package agenttrust_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
)

// TestAttackKeyRecordHidesLimits: an API key is the root credential,
// minted by an operator. Its record must say what the key may do: a
// key made with no limits and one made with caveats, an IP allowlist
// and an expiry must not leave records a reader cannot tell apart.
func TestAttackKeyRecordHidesLimits(t *testing.T) {
	f := newFixture(t, paymentsPolicy)
	ctx := context.Background()
	exp := f.clock.Now().Add(48 * time.Hour).UTC()
	cases := []struct {
		name string
		spec agenttrust.KeySpec
		cavs []string
		ips  string
		exp  string
	}{
		{"no limits", agenttrust.KeySpec{AgentID: "billing-bot", Name: "wide"}, []string{}, "", ""},
		{"caveats", agenttrust.KeySpec{AgentID: "billing-bot", Name: "narrow", Caveats: []string{"tool in payments.charge", "attr.amount <= 50"}},
			[]string{"tool in payments.charge", "attr.amount <= 50"}, "", ""},
		{"allowlist", agenttrust.KeySpec{AgentID: "billing-bot", Name: "office", AllowedIPs: []string{"10.0.0.0/8", "192.0.2.1"}}, []string{}, "10.0.0.0/8,192.0.2.1/32", ""},
		{"expiry", agenttrust.KeySpec{AgentID: "billing-bot", Name: "temp", ExpiresAt: exp}, []string{}, "", exp.Format(time.RFC3339Nano)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, k, err := f.c.CreateKey(ctx, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var rec *agenttrust.AuditRecord
			for _, r := range f.records(t) {
				if r.Tool == "agenttrust.create_key" && r.Resource == k.ID {
					rec = &r
				}
			}
			if rec == nil {
				t.Fatal("no record of the key")
			}
			var attrs struct {
				Caveats    []string `json:"caveats"`
				Digest     string   `json:"caveats_sha256"`
				AllowedIPs string   `json:"allowed_ips"`
				Expires    string   `json:"expires"`
			}
			if err := json.Unmarshal(rec.Attributes, &attrs); err != nil {
				t.Fatal(err)
			}
			if attrs.Caveats == nil || !slices.Equal(attrs.Caveats, tc.cavs) || attrs.Digest != digestOf(tc.cavs) ||
				attrs.AllowedIPs != tc.ips || attrs.Expires != tc.exp {
				t.Errorf("record attributes %s, want caveats %q, allowlist %q, expiry %q", rec.Attributes, tc.cavs, tc.ips, tc.exp)
			}
		})
	}
}
