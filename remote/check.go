package remote

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/errs"
	"github.com/agenttrust/agenttrust/internal/wire"
	"github.com/agenttrust/agenttrust/store"
)

// Reasons of the decisions Check makes itself, when the server did not
// decide.
const (
	ReasonUnreachable = "authorization server unreachable"
	reasonInvalid     = "invalid request"
	reasonCredential  = "credential rejected"
	reasonForbidden   = "not allowed to check this action"
	reasonClosed      = "client closed"
)

// Check asks the server whether req may proceed (POST /v1/actions/check)
// and returns its decision. It fails closed: it never returns an Allow
// together with an error, and whenever the server cannot be reached, times
// out, fails (5xx) or answers something that is not a well-formed,
// consistent decision, it returns a Deny with reason ReasonUnreachable and
// an error matching agenttrust.ErrStoreUnavailable. When the server made
// the decision but could not make it properly (its store or audit down, a
// bad credential in the request) the Deny carries the server's reason and
// an error matching the server's code (agenttrust.ErrRevoked,
// ErrStoreUnavailable, ...).
//
// The credential checked is req.Credential when set, else the client's
// own when it is an agent's (the server then binds the action to it); an
// admin's client checks on behalf of req.AgentID. An allow the server
// says is about another agent than the one asked about is a malformed
// answer: req.AgentID when set, else the agent the token or JWT checked
// names (an API key names none the client can read).
//
// req.RemoteAddr, when valid, is sent as X-Forwarded-For, as Authenticate
// sends its address. The server judges IP allowlists and "ip" caveats by
// it only when this client's address is one of its trusted proxies (serve
// --trusted-proxy); when it is not, the server judges by no address, so a
// credential with an IP allowlist or an "ip" caveat is refused (an error
// matching agenttrust.ErrUnauthorized, with a Deny) rather than judged by
// this client's own address. The server authenticates this client's own
// credential by that same address, so an IP allowlist on the key of a
// service that forwards its callers' addresses refuses the service
// itself. Without a valid req.RemoteAddr the address is this client's.
//
// Attributes travel as JSON; a value JSON cannot carry (NaN, an infinity,
// a channel) denies with agenttrust.ErrInvalidRequest without asking, and
// so does a float32 whose binary value differs from the decimal it prints
// as (float32(0.7)), which a local Check judges only where both readings
// agree. A Go value a local Check cannot judge (a []byte, a time.Time, a
// named type) travels as an empty object, which the server cannot judge
// either, never as its JSON string or number; nested in a map[string]any
// or []any, where a Cedar engine reads it (and refuses it in process), it
// denies with agenttrust.ErrInvalidRequest without asking. req.RequestID,
// when set, is
// sent as the X-Request-Id header, which the server records with the
// decision when it accepts it (1-128 bytes of [A-Za-z0-9-_.:/+=@]), in
// place of an id of its own; one that is not visible ASCII or is longer
// than 128 bytes denies with agenttrust.ErrInvalidRequest without asking,
// as a local Check would. An answer to a request id the server accepts
// must carry it back as its one X-Request-Id: one naming another request
// (or none) is a malformed answer, a Deny. A check is safe to repeat, so WithRetries
// applies to it.
func (c *Client) Check(ctx context.Context, req agenttrust.Request) (agenttrust.Decision, error) {
	if !sendableRequestID(req.RequestID) {
		return agenttrust.Decision{Reason: reasonInvalid}, &Error{Op: "Check",
			Message: "request id: at most 128 bytes of visible ASCII", err: []error{agenttrust.ErrInvalidRequest}}
	}
	attrs, bad, why := wire.SendableAttributes(req.Attributes)
	if bad != "" {
		return agenttrust.Decision{Reason: reasonInvalid}, &Error{Op: "Check",
			Message: fmt.Sprintf("attribute %q: %s", bad, why), err: []error{agenttrust.ErrInvalidRequest}}
	}
	var out wire.CheckResponse
	err := c.do(ctx, &call{
		requestID: req.RequestID, echoID: echoedRequestID(req.RequestID), forwardedFor: req.RemoteAddr, credential: req.Credential,
		op: "Check", method: http.MethodPost, path: "/v1/actions/check",
		body: &wire.CheckRequest{
			AgentID: req.AgentID, ToolName: req.Tool, Resource: req.Resource, SessionID: req.SessionID,
			OnBehalfOf: req.OnBehalfOf, Attributes: attrs, Credential: req.Credential,
		},
		idempotent: true, status: http.StatusOK, out: &out,
	})
	if err != nil {
		return agenttrust.Decision{Reason: denyReason(err)}, err
	}
	d, err := decision(&out)
	if err != nil {
		e := c.malformed("Check", "decision: "+err.Error(), req.Credential)
		return agenttrust.Decision{Reason: ReasonUnreachable}, e
	}
	if asked := c.askedAgent(&req); d.Effect == agenttrust.Allow && asked != "" && d.AgentID != asked {
		// An allow about another agent (replayed, or the checked
		// credential's) is no allow of this action. A deny stays one.
		e := c.malformed("Check", fmt.Sprintf("an allow for agent %q, asked about %q", d.AgentID, asked), req.Credential)
		return agenttrust.Decision{Reason: ReasonUnreachable}, e
	}
	if d.ApprovalID != "" && redactText(d.ApprovalID, c.cred, req.Credential) != d.ApprovalID {
		// The approval id is shown to the agent (the model) as it is:
		// one holding a credential is no approval id.
		e := c.malformed("Check", "decision: approval id holds a credential", req.Credential)
		return agenttrust.Decision{Reason: ReasonUnreachable}, e
	}
	// The reason is shown to the agent: redacted as an error would be.
	d.Reason = redactText(d.Reason, c.cred, req.Credential)
	if out.Error != "" {
		// The server decided, but could not decide properly: a deny,
		// whatever else the answer says.
		e, known := codeErrors[out.Error]
		if !known || e == ErrConflict || e == ErrForbidden {
			e = agenttrust.ErrStoreUnavailable
		}
		d.Effect = agenttrust.Deny
		if d.Reason == "" {
			d.Reason = ReasonUnreachable
		}
		return d, &Error{Op: "Check", Status: http.StatusOK, Code: redactText(out.Error, c.cred, req.Credential), Message: d.Reason, err: []error{e}}
	}
	return d, nil
}

// askedAgent is the agent a check of req is about, as far as the client
// can tell: req.AgentID when set, else the agent named by the token or
// JWT checked (req.Credential, else the client's own credential), which
// the server decides for. An API key does not name its agent, nor does a
// credential that does not parse: "" then, and the server's word stands.
// The credential is read unverified: the server verifies it, and one it
// refuses is no allow.
func (c *Client) askedAgent(req *agenttrust.Request) string {
	if req.AgentID != "" {
		return req.AgentID
	}
	cred := req.Credential
	if cred == "" {
		cred = c.cred
	}
	switch {
	case strings.HasPrefix(cred, agenttrust.TokenPrefix):
		info, err := agenttrust.InspectTokenUnverified(cred)
		if err != nil {
			return ""
		}
		return info.AgentID
	case strings.Count(cred, ".") == 2 && len(cred) <= agenttrust.MaxCredentialSize:
		var claims jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(cred, &claims); err != nil {
			return ""
		}
		return claims.Subject
	}
	return ""
}

// denyReason says why Check denies when it got no decision.
func denyReason(err error) string {
	switch {
	case errors.Is(err, agenttrust.ErrClosed):
		return reasonClosed
	case errors.Is(err, agenttrust.ErrStoreUnavailable):
		return ReasonUnreachable
	case errors.Is(err, agenttrust.ErrUnauthorized):
		return reasonCredential
	case errors.Is(err, ErrForbidden):
		return reasonForbidden
	case errors.Is(err, agenttrust.ErrInvalidRequest):
		return reasonInvalid
	}
	return ReasonUnreachable
}

// decision checks that the answer is a consistent decision and returns it.
func decision(r *wire.CheckResponse) (agenttrust.Decision, error) {
	e, err := store.ParseEffect(r.Effect)
	if err != nil {
		return agenttrust.Decision{}, err
	}
	if r.Allowed != (e == agenttrust.Allow) {
		return agenttrust.Decision{}, fmt.Errorf("allowed is %v with effect %s", r.Allowed, r.Effect)
	}
	if r.Allowed && r.Error != "" {
		return agenttrust.Decision{}, fmt.Errorf("allowed with error %q", r.Error)
	}
	id, err := store.ParseDecisionID(r.DecisionID)
	if err != nil {
		return agenttrust.Decision{}, err
	}
	if r.StalenessNS < 0 {
		return agenttrust.Decision{}, fmt.Errorf("negative staleness %d", r.StalenessNS)
	}
	if e == agenttrust.NeedsApproval && !strings.HasPrefix(r.ApprovalID, "apr_") {
		return agenttrust.Decision{}, errors.New("needs_approval without an approval id (apr_...)")
	}
	return agenttrust.Decision{
		Effect: e, Reason: r.Reason, Rule: r.RuleID, ID: id, ApprovalID: r.ApprovalID,
		AgentID: r.AgentID, Staleness: time.Duration(r.StalenessNS),
	}, nil
}

// minPoll paces WaitApproval when the server answers a long poll early:
// it asks at most once per minPoll, or per long poll if shorter.
const minPoll = time.Second

// WaitApproval blocks until approval id is decided or lapses, or ctx
// ends, and returns it: it long-polls GET /v1/approvals/{id}?wait=,
// asking again each time the server's wait ends. A lapsed approval is
// returned with an error matching agenttrust.ErrConflict, an
// unknown one with agenttrust.ErrNotFound. Transport failures are
// retried as WithRetries allows; when ctx ends the error matches ctx's
// error.
func (c *Client) WaitApproval(ctx context.Context, id string) (agenttrust.Approval, error) {
	for {
		start := time.Now()
		a, err := c.approval(ctx, "WaitApproval", id, c.cfg.longPoll)
		if err != nil {
			return agenttrust.Approval{}, err
		}
		if a.Status != agenttrust.ApprovalPending {
			return a, nil
		}
		now, err := c.now("WaitApproval")
		if err != nil {
			return a, err
		}
		if !a.ExpiresAt.After(now) {
			return a, &Error{Op: "WaitApproval", Message: "approval " + id + " lapsed undecided", err: []error{errs.ApprovalResolved}}
		}
		if wait := min(minPoll, c.cfg.longPoll) - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return agenttrust.Approval{}, c.ctxErr(&call{op: "WaitApproval"}, ctx.Err())
			case <-t.C:
			}
		}
	}
}

// now reads the clock given with WithClock. A clock that panics, or
// tells a time no record can hold (the zero time of a clock never set,
// before which no approval ever lapses), fails the read with an error
// matching agenttrust.ErrInvalidConfig, as a local Client judges its
// clock, rather than panic in the caller or wait until ctx ends.
func (c *Client) now(op string) (t time.Time, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = time.Time{}, &Error{Op: op, Message: "the clock panicked", err: []error{errs.Panicked}}
		}
	}()
	t = c.cfg.clock()
	if u := t.Unix(); u < -maxClockUnix || u > maxClockUnix {
		return time.Time{}, &Error{Op: op, Message: "the clock told " + t.UTC().Format(time.RFC3339) + ", a time no record can hold", err: []error{errs.Panicked}}
	}
	return t, nil
}

// maxClockUnix bounds the Unix seconds of a clock reading, as the root
// package's clock check does: past it, a time does not fit in a record.
const maxClockUnix = math.MaxInt64/int64(time.Second) - 1

// Approval returns one approval of the client's tenant; its Tenant is
// left empty (the server does not send it).
func (c *Client) Approval(ctx context.Context, id string) (agenttrust.Approval, error) {
	return c.approval(ctx, "Approval", id, 0)
}

func (c *Client) approval(ctx context.Context, op, id string, wait time.Duration) (agenttrust.Approval, error) {
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {wait.String()}}
	}
	var out wire.ApprovalView
	err := c.do(ctx, &call{
		op: op, method: http.MethodGet, path: "/v1/approvals/" + pathEscape(id), query: q,
		idempotent: true, extra: wait, status: http.StatusOK, out: &out, notFound: errs.ApprovalNotFound,
	})
	if err != nil {
		return agenttrust.Approval{}, err
	}
	return c.approvalAnswer(op, &out, id, "")
}

// approvalAnswer is approvalModel for an answer about approval id, which
// must name it and, when want is set, hold that status: an answer about
// another approval, or a decision other than the one asked for, is no
// answer (a waiter would take another's approval for its own, an
// approver be told of a decision it did not make).
func (c *Client) approvalAnswer(op string, v *wire.ApprovalView, id string, want store.ApprovalStatus) (agenttrust.Approval, error) {
	a, err := c.approvalModel(op, v)
	if err != nil {
		return agenttrust.Approval{}, err
	}
	if a.ID != id {
		return agenttrust.Approval{}, c.malformed(op, fmt.Sprintf("answer is approval %q, asked for %q", a.ID, id))
	}
	if want != "" && a.Status != want {
		return agenttrust.Approval{}, c.malformed(op, fmt.Sprintf("approval %s is %s, not %s", id, a.Status, want))
	}
	return a, nil
}

func (c *Client) approvalModel(op string, v *wire.ApprovalView) (agenttrust.Approval, error) {
	a, err := approval(v)
	if err != nil {
		return agenttrust.Approval{}, c.malformed(op, err.Error())
	}
	return a, nil
}

// sendableRequestID reports whether id may go as an X-Request-Id header:
// empty (none), or at most 128 bytes of visible ASCII, what a local
// Check accepts in Request.RequestID.
func sendableRequestID(id string) bool {
	if len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; b <= ' ' || b >= 0x7f {
			return false
		}
	}
	return true
}
