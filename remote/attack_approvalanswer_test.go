package remote_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/remote"
	"github.com/agenttrust/agenttrust/store"
)

// TestAttackApprovalAnswerTrusted: the Python and TypeScript clients
// refuse an answer about another approval, and an approve or deny answered
// with another status; the Go client took either as given. Asked to wait
// on apr_mine, WaitApproval returned apr_victim approved; agenttrust
// approvals approve printed "approved" for an approval the answer said
// was denied, or for another approval altogether. Each is now a
// malformed answer.
func TestAttackApprovalAnswerTrusted(t *testing.T) {
	const mine, victim = "apr_mine", "apr_victim"
	now := time.Now().UTC()
	view := func(id, status string) wire.ApprovalView {
		v := wire.ApprovalView{ID: id, AgentID: "bot", ToolName: "payments.charge", Resource: "cust-1", Status: status,
			CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(time.Hour), Approvers: []string{}}
		if status != string(agenttrust.ApprovalPending) {
			v.DecidedAt, v.DecidedBy = now, "carol"
		}
		if status == string(agenttrust.ApprovalApproved) {
			v.GrantExpiresAt = now.Add(5 * time.Minute)
			v.GrantID = "grt_x"
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		answer wire.ApprovalView
		call   func(ctx context.Context, c *remote.Client) error
		bad    bool // the answer must be refused
	}{
		{"get answered with another approval", view(victim, "pending"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.Approval(ctx, mine)
			return err
		}, true},
		{"wait answered with another approval, approved", view(victim, "approved"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.WaitApproval(ctx, mine)
			return err
		}, true},
		{"approve answered with another approval", view(victim, "approved"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.Approve(ctx, mine, "")
			return err
		}, true},
		{"approve answered as denied", view(mine, "denied"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.Approve(ctx, mine, "")
			return err
		}, true},
		{"deny answered as approved", view(mine, "approved"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.DenyApproval(ctx, mine, "")
			return err
		}, true},
		{"approve and remember answered as pending", func() wire.ApprovalView { v := view(mine, "pending"); v.GrantID = "grt_x"; return v }(),
			func(ctx context.Context, c *remote.Client) error {
				_, _, err := c.ApproveAndRemember(ctx, mine, "", store.Remember{Uses: 1, For: time.Minute})
				return err
			}, true},
		{"control: approve answered as approved", view(mine, "approved"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.Approve(ctx, mine, "")
			return err
		}, false},
		{"approve answered as consumed", view(mine, "consumed"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.Approve(ctx, mine, "")
			return err
		}, true},
		{"deny answered as consumed", view(mine, "consumed"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.DenyApproval(ctx, mine, "")
			return err
		}, true},
		{"control: wait answered as denied", view(mine, "denied"), func(ctx context.Context, c *remote.Client) error {
			_, err := c.WaitApproval(ctx, mine)
			return err
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tc.answer)
			}))
			defer ts.Close()
			c, err := remote.New(ts.URL, agentKey, remote.WithRetries(0))
			if err != nil {
				t.Fatalf("%v", err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = tc.call(ctx, c)
			if !tc.bad {
				if err != nil {
					t.Errorf("%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("the answer about %s (%s) was taken as the answer about %s", tc.answer.ID, tc.answer.Status, mine)
			}
			if !errors.Is(err, agenttrust.ErrStoreUnavailable) {
				t.Errorf("err = %v, want %v", err, agenttrust.ErrStoreUnavailable)
			}
		})
	}
}
