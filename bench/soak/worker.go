package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/middleware"
	"github.com/agenttrust/agenttrust/remote"
)

// worker is one agent: its own key, the token it currently holds, and
// what it has done so far.
type worker struct {
	h     *harness
	n     int
	agent *remote.Client
	key   string
	rng   *rand.Rand

	token   string // the current token exchanged from key; "" for none
	tokenID string
	uses    int // checks with token so far
	seq     int // makes each approval's resource unique
	res     result
	// answered logs the id of each answered decision (see drive).
	answered *bufio.Writer
}

// run does one operation after another until stop. It returns the first
// broken promise or unexpected failure.
func (w *worker) run(ctx context.Context, stop time.Time) error {
	for time.Now().Before(stop) {
		var err error
		switch r := w.rng.IntN(100); {
		case r < 40:
			err = w.expect(ctx, "docs.read", "", agenttrust.Allow, "")
		case r < 50:
			err = w.expect(ctx, "docs.delete", "", agenttrust.Deny, "")
		case r < 70:
			err = w.withToken(ctx)
		case r < 80:
			err = w.delegateAndRevoke(ctx)
		case r < 85:
			err = w.revokeToken(ctx)
		default:
			err = w.approval(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// check asks for tool with cred (the agent's key when empty) and counts
// the answer. An answered decision is one the server recorded: it has an
// id, whether it allows or not. It returns the check's own error as
// decided, and fails only when no decision came back or the error is
// none a decision of these requests may carry.
func (w *worker) check(ctx context.Context, tool, resource, cred string) (d agenttrust.Decision, decided error, fail error) {
	d, err := w.agent.Check(ctx, agenttrust.Request{Tool: tool, Resource: resource, Credential: cred})
	if d.ID.IsZero() {
		return d, err, fmt.Errorf("check %s: no decision: %w", tool, err)
	}
	if _, err := w.answered.Write(d.ID[:]); err != nil {
		return d, err, fmt.Errorf("log the answered decision: %w", err)
	}
	switch d.Effect {
	case agenttrust.Allow:
		w.res.effects[effAllow]++
	case agenttrust.NeedsApproval:
		w.res.effects[effApproval]++
	default:
		w.res.effects[effDeny]++
	}
	if err != nil && !errors.Is(err, middleware.ErrApprovalRequired) && !errors.Is(err, agenttrust.ErrUnauthorized) {
		return d, err, fmt.Errorf("check %s: %w", tool, err)
	}
	return d, err, nil
}

// expect checks and fails unless the effect is want.
func (w *worker) expect(ctx context.Context, tool, resource string, want agenttrust.Effect, cred string) error {
	d, decided, err := w.check(ctx, tool, resource, cred)
	if err != nil {
		return err
	}
	if d.Effect != want || (decided != nil && want != agenttrust.NeedsApproval) {
		return fmt.Errorf("check %s: %s (%s, %v), want %s", tool, d.Effect, d.Reason, decided, want)
	}
	return nil
}

// refused checks with a credential whose revocation has returned: it must
// not allow, and the server must say it is revoked.
func (w *worker) refused(ctx context.Context, what, cred string) error {
	d, decided, err := w.check(ctx, "docs.read", "", cred)
	if err != nil {
		return err
	}
	if d.Allowed() {
		return fmt.Errorf("BROKEN PROMISE: %s allowed after its revocation returned (decision %s)", what, d.ID)
	}
	if !errors.Is(decided, agenttrust.ErrRevoked) {
		return fmt.Errorf("%s after its revocation: %v (%s), want ErrRevoked", what, decided, d.Reason)
	}
	return nil
}

// ensureToken exchanges a new token when there is none or the current
// one has been used fifty times.
func (w *worker) ensureToken(ctx context.Context) error {
	if w.token != "" && w.uses < 50 {
		return nil
	}
	tok, err := w.agent.Exchange(ctx, w.key)
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	info, err := agenttrust.InspectTokenUnverified(tok)
	if err != nil {
		return err
	}
	w.token, w.tokenID, w.uses = tok, info.ID, 0
	w.res.exchanges++
	return nil
}

func (w *worker) withToken(ctx context.Context) error {
	if err := w.ensureToken(ctx); err != nil {
		return err
	}
	w.uses++
	return w.expect(ctx, "docs.read", "", agenttrust.Allow, w.token)
}

// delegateAndRevoke hands a narrowed token down, uses it, revokes the
// hop and uses it again: the second use must be refused.
func (w *worker) delegateAndRevoke(ctx context.Context) error {
	if err := w.ensureToken(ctx); err != nil {
		return err
	}
	child, hop, err := w.agent.Delegate(ctx, w.token, 0, "tool in docs.*")
	if err != nil {
		return fmt.Errorf("delegate: %w", err)
	}
	w.res.delegations++
	if err := w.expect(ctx, "docs.read", "", agenttrust.Allow, child); err != nil {
		return err
	}
	if err := w.h.admin.Revoke(ctx, hop.ID); err != nil {
		return fmt.Errorf("revoke hop: %w", err)
	}
	w.res.revocations++
	return w.refused(ctx, "a delegated token", child)
}

// revokeToken revokes the current token: it, and what was delegated
// from it, must be refused from then on.
func (w *worker) revokeToken(ctx context.Context) error {
	if err := w.ensureToken(ctx); err != nil {
		return err
	}
	tok := w.token
	if err := w.h.admin.Revoke(ctx, w.tokenID); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	w.res.revocations++
	w.token = ""
	return w.refused(ctx, "a token", tok)
}

// approval asks for a payment that needs a person, has the approver
// grant it, and retries: the retry goes through once, and only once. The
// approval the second retry opens the approver denies, as a person would
// who has paid once: an agent may hold only so many open (100).
func (w *worker) approval(ctx context.Context) error {
	w.seq++
	res := fmt.Sprintf("invoice:%d-%d", w.n, w.seq)
	d, _, err := w.check(ctx, "payments.charge", res, "")
	if err != nil {
		return err
	}
	if d.Effect != agenttrust.NeedsApproval || d.ApprovalID == "" {
		return fmt.Errorf("payment: %s (%s), want needs approval", d.Effect, d.Reason)
	}
	if _, err := w.h.approver.Approve(ctx, d.ApprovalID, "soak"); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	w.res.approvals++
	if err := w.expect(ctx, "payments.charge", res, agenttrust.Allow, ""); err != nil {
		return fmt.Errorf("after approval: %w", err)
	}
	again, _, err := w.check(ctx, "payments.charge", res, "")
	if err != nil {
		return err
	}
	if again.Allowed() {
		return fmt.Errorf("BROKEN PROMISE: approval %s allowed twice", d.ApprovalID)
	}
	if again.Effect != agenttrust.NeedsApproval {
		return nil
	}
	if _, err := w.h.approver.DenyApproval(ctx, again.ApprovalID, "paid once"); err != nil {
		return fmt.Errorf("deny: %w", err)
	}
	w.res.denials++
	return nil
}
