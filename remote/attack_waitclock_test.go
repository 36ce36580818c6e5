package remote_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/remote"
)

// TestAttackWaitApprovalClock: WaitApproval paces its polls by the time
// package's monotonic clock (sound) but judges whether an approval lapsed
// by the clock given with WithClock, which it called as it was. A clock
// that panics panicked in the waiting goroutine, taking the process down
// where a local client's WaitApproval returns an error; a clock never set
// (the zero time) made no pending approval ever lapse, so the waiter
// polled until its context ended. Either is now an error matching
// ErrInvalidConfig, as a local client's clock is judged.
func TestAttackWaitApprovalClock(t *testing.T) {
	pending := `{"id":"apr_1","agent_id":"bot","session_id":"","on_behalf_of":"","tool_name":"t","resource":"","attributes":{},"rule_id":"","reason":"","approvers":[],"status":"pending","created_at":"2030-01-01T00:00:00Z","expires_at":"2030-01-01T01:00:00Z","decided_by":"","note":""}`
	cases := []struct {
		name  string
		clock func() time.Time
		want  error
	}{
		{"a clock that panics", func() time.Time { panic("the clock broke") }, agenttrust.ErrInvalidConfig},
		{"a clock that panics with an error", func() time.Time { panic(errors.New("ntp gone")) }, agenttrust.ErrInvalidConfig},
		{"a clock never set", func() time.Time { return time.Time{} }, agenttrust.ErrInvalidConfig},
		{"control: a clock past the expiry", func() time.Time { return time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC) }, errs.ApprovalResolved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newBubbleFake(t)
				f.mux.HandleFunc("GET /v1/approvals/apr_1", answer(200, pending))
				c := f.client(remote.WithClock(tc.clock), remote.WithLongPoll(10*time.Millisecond))
				// Bounded on the bubble's clock: without the fix a clock
				// never set polls until this ends.
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				err := func() (err error) {
					defer func() {
						if p := recover(); p != nil {
							err = fmt.Errorf("WaitApproval panicked: %v", p)
						}
					}()
					_, err = c.WaitApproval(ctx, "apr_1")
					return err
				}()
				if !errors.Is(err, tc.want) {
					t.Errorf("WaitApproval: %v, want an error matching %v", err, tc.want)
				}
			})
		})
	}
}
