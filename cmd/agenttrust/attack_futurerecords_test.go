package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agenttrust/agenttrust"
)

// TestAttackFutureRecordsUnread: a fleet's nodes may run with clocks
// hours apart (SECURITY.md's threat model), so a node ahead of the
// operator's clock writes records dated in the future. "policy replay",
// "policy shadow" and "policy advise" read records since --since and,
// with no --until, stopped a minute past the operator's clock: every
// check that node decided was left out, with no word of it, and the
// shadow policy's disagreements on it (or a replayed change that allows
// what it denied) never reached the operator. With no --until the
// commands read every record from --since on.
func TestAttackFutureRecordsUnread(t *testing.T) {
	now := time.Now().UTC()
	recs := []agenttrust.AuditRecord{
		{Chain: "n1/default", Seq: 1, Time: now.Add(-30 * time.Minute), Tenant: "default", AgentID: "bot-1", Tool: "docs.read",
			Effect: agenttrust.Deny, Reason: "no rule allows this action", ShadowEffect: "allow", ShadowRule: "read"},
		{Chain: "n2/default", Seq: 1, Time: now.Add(3 * time.Hour), Tenant: "default", AgentID: "bot-1", Tool: "payments.charge",
			Effect: agenttrust.Deny, Reason: "no rule allows this action", ShadowEffect: "allow", ShadowRule: "pay"},
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v1/audit" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"not found"}}`))
			return
		}
		var since, until time.Time
		if s := r.URL.Query().Get("since"); s != "" {
			since, _ = time.Parse(time.RFC3339Nano, s)
		}
		if s := r.URL.Query().Get("until"); s != "" {
			until, _ = time.Parse(time.RFC3339Nano, s)
		}
		out := []agenttrust.AuditRecord{}
		for _, rec := range recs {
			if !rec.Time.Before(since) && (until.IsZero() || rec.Time.Before(until)) {
				out = append(out, rec)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"records": out})
	}))
	t.Cleanup(ts.Close)
	vars := map[string]string{"AGENTTRUST_SERVER": ts.URL, "AGENTTRUST_KEY": "atk_x"}
	policy := t.TempDir() + "/p.yaml"
	require.NoError(t, os.WriteFile(policy, []byte("rules:\n  - {id: pay, effect: allow, tools: [payments.charge]}\n"), 0o600))

	for name, tc := range map[string]struct {
		args []string
		want int64 // records flagged of the two
		read func(t *testing.T, out []byte) (records, flagged int64)
	}{
		"policy shadow": {
			args: []string{"policy", "shadow", "--since", "1h", "--json"},
			want: 2,
			read: func(t *testing.T, out []byte) (int64, int64) {
				var rep shadowReport
				require.NoError(t, json.Unmarshal(out, &rep))
				return rep.Records, rep.Disagreements
			},
		},
		"policy replay": {
			args: []string{"policy", "replay", "--policy", policy, "--since", "1h", "--json"},
			want: 1,
			read: func(t *testing.T, out []byte) (int64, int64) {
				var rep struct{ Records, Changed int64 }
				require.NoError(t, json.Unmarshal(out, &rep))
				return rep.Records, rep.Changed
			},
		},
		"policy advise": {
			args: []string{"policy", "advise", "--policy", policy, "--since", "1h", "--json"},
			want: 2,
			read: func(t *testing.T, out []byte) (int64, int64) {
				var rep struct{ Records, Decided int64 }
				require.NoError(t, json.Unmarshal(out, &rep))
				return rep.Records, rep.Decided
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, vars, "", tc.args...)
			require.Equal(t, exitOK, r.code, r.stderr)
			records, flagged := tc.read(t, []byte(r.stdout))
			assert.EqualValues(t, 2, records, "records of a node whose clock is ahead were not read")
			assert.EqualValues(t, tc.want, flagged, "the future record's change was not reported")
		})
	}
}
