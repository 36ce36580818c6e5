package server

import (
	"errors"
	"net/http"

	"github.com/agenttrust/agenttrust"
	"github.com/agenttrust/agenttrust/internal/wire"
)

// getPolicy answers GET /v1/policy: the tenant's stored policy document
// and its version; 404 when none is stored.
func (s *Server) getPolicy(c *call) error {
	doc, err := s.st.Policy(c.r.Context(), c.p.Tenant)
	if err != nil {
		if isNotFound(err) {
			return notFound("this tenant has no stored policy")
		}
		return storeErr("get policy", err)
	}
	writeJSON(c, http.StatusOK, wire.PolicyView{Version: doc.Version, Format: doc.Format, Body: string(doc.Body), UpdatedAt: doc.UpdatedAt})
	return nil
}

func policyFormat(f string) error {
	switch f {
	case "":
		return missing("format")
	case "json", "yaml", "yml":
		return nil
	}
	return badRequest("invalid_request", "format must be json or yaml")
}

// putPolicy answers PUT /v1/policy: the document replaces the stored one
// if expect_version is still the stored version (0 when there is none),
// and is live on this node when the response is sent (other nodes follow
// within a second). 409 when another writer got there first; nothing
// changes on any error.
func (s *Server) putPolicy(c *call) error {
	var req wire.PutPolicyRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := policyFormat(req.Format); err != nil {
		return err
	}
	if req.Body == "" {
		return missing("body")
	}
	if req.ExpectVersion == nil {
		return missing("expect_version")
	}
	if *req.ExpectVersion < 0 {
		return badRequest("invalid_request", "expect_version must not be negative")
	}
	v, err := c.t.client.SavePolicy(c.r.Context(), []byte(req.Body), req.Format, *req.ExpectVersion)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, wire.PutPolicyResponse{Version: v})
	return nil
}

// validatePolicy answers POST /v1/policy/validate: whether a document
// would be accepted, and every problem in it. It changes nothing.
func (s *Server) validatePolicy(c *call) error {
	var req wire.ValidatePolicyRequest
	if err := c.decode(&req); err != nil {
		return err
	}
	if err := policyFormat(req.Format); err != nil {
		return err
	}
	if req.Body == "" {
		return missing("body")
	}
	out := wire.ValidatePolicyResponse{Valid: true, Problems: []wire.PolicyProblem{}}
	if _, err := agenttrust.ParsePolicy([]byte(req.Body), req.Format); err != nil {
		out.Valid = false
		out.Problems = policyProblems(err)
	}
	writeJSON(c, http.StatusOK, out)
	return nil
}

// policyProblems lists the *agenttrust.PolicyError values joined in err.
func policyProblems(err error) []wire.PolicyProblem {
	var out []wire.PolicyProblem
	var walk func(error)
	walk = func(e error) {
		var pe *agenttrust.PolicyError
		if u, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range u.Unwrap() {
				walk(x)
			}
			return
		}
		if errors.As(e, &pe) {
			out = append(out, wire.PolicyProblem{Rule: pe.Rule, Index: pe.Index, Message: pe.Msg})
			return
		}
		out = append(out, wire.PolicyProblem{Index: -1, Message: e.Error()})
	}
	walk(err)
	return out
}
