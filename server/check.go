package server

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// check answers POST /v1/actions/check.
//
// Which credential is checked: the body's "credential" when given (a
// resource server checking the token an agent presented to it); else, for
// an agent, the caller's own bearer credential, so its caveats bind the
// action; else, for an admin, none: the admin vouches for the agent named
// by "agent_id", and the decision names the admin's key. A narrowed
// caller holds the agent role at most; when it checks another
// credential, the action must lie within its own caveats as well.
//
// The answer is always 200 with the decision, except for a malformed
// request (400). When the check could not be made properly (the checked
// credential is bad, the store or audit is down) the decision is a deny
// whose "error" holds the error code.
func (s *Server) check(c *call) error {
	var req wire.CheckRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if req.ToolName == "" {
		return missing("tool_name")
	}
	ar := agenttrust.Request{
		AgentID: req.AgentID, Tool: req.ToolName, Resource: req.Resource,
		SessionID: req.SessionID, OnBehalfOf: req.OnBehalfOf,
		Credential: req.Credential, RemoteAddr: c.addr, Attributes: req.Attributes,
	}
	switch {
	case req.Credential != "":
		if err := permits(&c.p, ar); err != nil {
			if errors.Is(err, agenttrust.ErrInvalidRequest) {
				return badRequest("invalid_request", err.Error())
			}
			return &apiError{status: http.StatusForbidden, code: "caveat",
				msg: "the caller's credential does not permit this action: " + err.Error()}
		}
	case c.isAdmin():
		if req.AgentID == "" {
			return missing("agent_id")
		}
		ar.VouchedBy = c.p.KeyID
	default:
		if req.AgentID != "" && req.AgentID != c.p.AgentID {
			return forbidden("an agent may only check its own actions")
		}
		ar.Credential = c.bearer
	}
	d, err := s.decideCheck(c, &ar)
	if err != nil && errors.Is(err, agenttrust.ErrInvalidRequest) {
		return badRequest("invalid_request", err.Error())
	}
	s.answerCheck(c, &d, err)
	return nil
}

// decideCheck asks the tenant's Client and counts the decision. The
// request's id goes into the decision's audit record.
func (s *Server) decideCheck(c *call, ar *agenttrust.Request) (agenttrust.Decision, error) {
	ar.RequestID = c.reqID
	start := time.Now()
	d, err := c.t.client.Check(c.r.Context(), *ar)
	s.metrics.observeCheck(d.Effect, err, time.Since(start))
	return d, err
}

// answerCheck writes the 200 answer of a check.
func (s *Server) answerCheck(c *call, d *agenttrust.Decision, err error) {
	resp := wire.CheckResponse{
		Allowed: d.Allowed(), Effect: d.Effect.String(), Reason: d.Reason, RuleID: d.Rule,
		DecisionID: d.ID.String(), ApprovalID: d.ApprovalID, AgentID: d.AgentID,
		StalenessNS: int64(d.Staleness),
	}
	if !d.ID.IsZero() {
		c.decision = resp.DecisionID
	}
	if err != nil {
		resp.Error = errorCode(err)
		if resp.Error == "store_unavailable" {
			s.storeError(c.r.Context(), c.p.Tenant)
		}
	}
	bp := bufs.Get().(*[]byte)
	b := appendCheckResponse((*bp)[:0], &resp)
	writeRaw(c, 200, b)
	*bp = b
	bufs.Put(bp)
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendCheckResponse appends r encoded as encoding/json would (TestCheckResponseJSON),
// without reflection: this is the hot path.
func appendCheckResponse(b []byte, r *wire.CheckResponse) []byte {
	b = append(b, `{"allowed":`...)
	b = strconv.AppendBool(b, r.Allowed)
	b = appendField(b, "effect", r.Effect)
	b = appendField(b, "reason", r.Reason)
	b = appendField(b, "rule_id", r.RuleID)
	b = appendField(b, "decision_id", r.DecisionID)
	b = appendField(b, "approval_id", r.ApprovalID)
	b = appendField(b, "agent_id", r.AgentID)
	b = append(b, `,"staleness_ns":`...)
	b = strconv.AppendInt(b, r.StalenessNS, 10)
	if r.Error != "" {
		b = appendField(b, "error", r.Error)
	}
	return append(b, "}\n"...)
}

func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters included); invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
