package agenttrust

import (
	"fmt"
	"strings"

	"github.com/agenttrust/agenttrust/internal/apikey"
	"github.com/agenttrust/agenttrust/internal/cond"
	"github.com/agenttrust/agenttrust/internal/redact"
)

// validate is the first phase of Check: the request's fields, and the
// admin key that vouches for it, if one does. An invalid request denies
// (reasonInvalid) with the error.
func (c *Client) validate(req *Request, st *checkState) error {
	if err := validateRequest(req, st.kvs); err != nil {
		return err
	}
	st.valid = true
	if req.VouchedBy != "" {
		return validateVouch(req, st)
	}
	return nil
}

// validateVouch checks the id of the admin key that vouches for req.
// Kept apart so that validate stays small enough to be inlined into the
// hot path.
func validateVouch(req *Request, st *checkState) error {
	if err := validText("vouched by", req.VouchedBy, 256); err != nil {
		return err
	}
	st.vouchedBy = req.VouchedBy
	return nil
}

// refuseCredentialNames refuses a request with an agenttrust credential
// in a name (agent id, tool, session id, on_behalf_of) or its request id:
// a key passed as the agent, a token as the session. Such a name is replaced with the
// redaction mark, so that the refusal's Decision, audit record and
// Observer keep no credential, as an attribute holding one keeps none.
// A name shorter than any credential costs one comparison.
func refuseCredentialNames(req *Request) error {
	held := ""
	if redactName(&req.AgentID) {
		held = "agent id"
	}
	if redactName(&req.Tool) {
		held = "tool"
	}
	if redactName(&req.SessionID) {
		held = "session id"
	}
	if redactName(&req.OnBehalfOf) {
		held = "on_behalf_of"
	}
	if redactName(&req.RequestID) {
		held = "request id"
	}
	if held == "" {
		return nil
	}
	return fmt.Errorf("%w: %s holds an agenttrust credential, which goes in Credential, never in a name", ErrInvalidRequest, held)
}

// refuseCredential refuses a name given outside Check (the agent of a
// new key, the approver deciding an approval) that holds an agenttrust
// credential, as refuseCredentialNames refuses one in a check: taken as
// a name, the credential would be stored with the key or the approval
// and listed to whoever reads them, though their audit record redacts
// it. The error does not quote it.
func refuseCredential(field, s string) error {
	if len(s) >= apikey.Len && redact.MayHold(s) && redact.Credentials(s) != s {
		return fmt.Errorf("%w: %s holds an agenttrust credential, which is never a name", ErrInvalidRequest, field)
	}
	return nil
}

// redactName replaces every credential in *s with the redaction mark and
// reports whether there was one.
func redactName(s *string) bool {
	if len(*s) < apikey.Len || !redact.MayHold(*s) {
		return false
	}
	r := redact.Credentials(*s)
	if r == *s {
		return false
	}
	*s = r
	return true
}

// validateRequest checks every text field of req. Names (agent, tool,
// session, on-behalf-of) must be in their one canonical form (validName);
// the resource is normalised to NFC in place and refused when it holds a
// dot or empty segment, a backslash, an encoded separator or an invisible
// character (cond.CheckResource), which could name to whatever reads it
// next another resource than the one the policy's globs saw.
func validateRequest(req *Request, attrs []attrKV) error {
	var err error
	if err := refuseCredentialNames(req); err != nil {
		return err
	}
	if req.Credential == "" && req.AgentID == "" {
		return fmt.Errorf("%w: agent id is required", ErrInvalidRequest)
	}
	if req.Tool == "" {
		return fmt.Errorf("%w: tool is required", ErrInvalidRequest)
	}
	if req.AgentID != "" {
		if err := validActorName("agent id", req.AgentID); err != nil {
			return err
		}
	}
	if err := validName("tool", req.Tool); err != nil {
		return err
	}
	if strings.HasPrefix(req.Tool, opPrefix) {
		return fmt.Errorf("%w: tool names starting with %q are reserved for the audit records of operator actions", ErrInvalidRequest, opPrefix)
	}
	if req.Resource, err = normText("resource", req.Resource, maxFieldLen); err != nil {
		return err
	}
	if msg := cond.CheckResource(req.Resource); msg != "" {
		return fmt.Errorf("%w: resource %s", ErrInvalidRequest, msg)
	}
	if req.SessionID != "" {
		if err := validActorName("session id", req.SessionID); err != nil {
			return err
		}
	}
	if req.OnBehalfOf != "" {
		if err := validName("on_behalf_of", req.OnBehalfOf); err != nil {
			return err
		}
	}
	if req.RequestID != "" {
		if err := validRequestID(req.RequestID); err != nil {
			return err
		}
	}
	if len(req.Attributes) > maxAttributes {
		return fmt.Errorf("%w: more than %d attributes", ErrInvalidRequest, maxAttributes)
	}
	for _, kv := range attrs {
		k := kv.Name
		if k == "" {
			return fmt.Errorf("%w: empty attribute name", ErrInvalidRequest)
		}
		if err := validText("attribute name", k, maxAttrKeyLen); err != nil {
			return err
		}
		if k == truncatedAttr {
			return fmt.Errorf("%w: attribute name %q is the audit record's mark of attributes too large to keep", ErrInvalidRequest, k)
		}
	}
	return foldDuplicates(attrs)
}

// foldDuplicates refuses two attribute names that are one under case
// folding (cond.SameFolded): a policy reads the exact name, a tool that
// decodes its arguments into a struct reads whichever comes last, so the
// two could see different values. The middleware refuses such arguments
// too. A few names are compared pairwise, without allocating; many,
// through a map of their folded forms.
func foldDuplicates(attrs []attrKV) error {
	dup := func(a, b string) error {
		return fmt.Errorf("%w: attributes %q and %q differ only in case", ErrInvalidRequest, a, b)
	}
	if len(attrs) <= 16 {
		for i := 1; i < len(attrs); i++ {
			for j := range i {
				if cond.SameFolded(attrs[i].Name, attrs[j].Name) {
					return dup(attrs[j].Name, attrs[i].Name)
				}
			}
		}
		return nil
	}
	seen := make(map[string]string, len(attrs))
	for _, kv := range attrs {
		f := string(cond.AppendFolded(nil, kv.Name))
		if prev, ok := seen[f]; ok {
			return dup(prev, kv.Name)
		}
		seen[f] = kv.Name
	}
	return nil
}

// maxRequestIDLen bounds Request.RequestID.
const maxRequestIDLen = 128

// validRequestID checks a request id: at most maxRequestIDLen bytes of
// visible ASCII (no space, control or non-ASCII character), so that the
// id names the same request in a log line, a header and the audit
// record, and cannot forge a line of any of them.
func validRequestID(s string) error {
	if len(s) > maxRequestIDLen {
		return fmt.Errorf("%w: request id longer than %d bytes", ErrInvalidRequest, maxRequestIDLen)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b >= 0x7f {
			return fmt.Errorf("%w: request id holds byte %#02x (visible ASCII only)", ErrInvalidRequest, b)
		}
	}
	return nil
}
