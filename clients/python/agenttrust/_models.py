"""The answers of the API, decoded strictly.

Every field the API promises must be present with its JSON type (a bool is
never taken for a number, nor a string for a bool); keys the client does not
know are ignored, so the server may add fields. A body that does not hold
is a ProtocolError, never a half-filled object.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ._errors import ApprovalRequiredError, DeniedError, ProtocolError

EFFECTS = ("allow", "deny", "needs_approval")
APPROVAL_STATUSES = ("pending", "approved", "denied", "consumed")


class _Fields:
    """Reads the members of one JSON object, refusing wrong types."""

    def __init__(self, what: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise ProtocolError("malformed %s: not a JSON object" % what)
        self.what = what
        self.obj = obj

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.obj:
            if required:
                raise ProtocolError("malformed %s: %s missing" % (self.what, name))
            return None
        return self.obj[name]

    def str(self, name: str, required: bool = True) -> Optional[str]:
        v = self._get(name, required)
        if v is None and not required:
            return None
        if not isinstance(v, str):
            raise ProtocolError("malformed %s: %s is not a string" % (self.what, name))
        return v

    def bool(self, name: str) -> bool:
        v = self._get(name, True)
        if not isinstance(v, bool):
            raise ProtocolError("malformed %s: %s is not a boolean" % (self.what, name))
        return v

    def int(self, name: str, required: bool = True) -> Optional[int]:
        v = self._get(name, required)
        if v is None and not required:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise ProtocolError("malformed %s: %s is not an integer" % (self.what, name))
        return v

    def strs(self, name: str) -> List[str]:
        v = self._get(name, True)
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise ProtocolError("malformed %s: %s is not a list of strings" % (self.what, name))
        return list(v)

    def obj_(self, name: str) -> Dict[str, Any]:
        v = self._get(name, True)
        if not isinstance(v, dict):
            raise ProtocolError("malformed %s: %s is not an object" % (self.what, name))
        return v


@dataclass(frozen=True)
class Decision:
    """The server's decision on one action.

    allowed is True only for effect "allow". A deny whose error is set is a
    check the server could not make properly (its store or audit down, a
    bad credential to check): error holds the API's error code.
    """

    allowed: bool
    effect: str
    reason: str
    rule_id: str
    decision_id: str
    approval_id: str
    agent_id: str
    staleness_ns: int
    error: Optional[str] = None
    request_id: str = ""

    @property
    def needs_approval(self) -> bool:
        return self.effect == "needs_approval"

    def raise_for_effect(self) -> "Decision":
        """Return self when allowed; else raise ApprovalRequiredError for a
        needs-approval and DeniedError for a deny."""
        if self.allowed and self.effect == "allow":
            return self
        if self.effect == "needs_approval":
            raise ApprovalRequiredError(self)
        raise DeniedError(self)


def parse_decision(body: Any, request_id: str = "") -> Decision:
    """A CheckResponse, checked for consistency: allowed must match the
    effect, an allow carries no error, a needs_approval an approval id."""
    f = _Fields("decision", body)
    allowed = f.bool("allowed")
    effect = f.str("effect")
    if effect not in EFFECTS:
        raise ProtocolError("malformed decision: unknown effect %r" % (effect,))
    if allowed != (effect == "allow"):
        raise ProtocolError("malformed decision: allowed is %s with effect %s" % (allowed, effect))
    error = f.str("error", required=False)
    if allowed and error is not None:
        raise ProtocolError("malformed decision: allowed with error %r" % (error,))
    decision_id = f.str("decision_id")
    assert decision_id is not None
    try:
        if str(uuid.UUID(decision_id)) != decision_id:
            raise ValueError(decision_id)
    except ValueError:
        raise ProtocolError("malformed decision: decision_id %r is not a UUID" % (decision_id,)) from None
    approval_id = f.str("approval_id")
    if effect == "needs_approval" and not (approval_id or "").startswith("apr_"):
        raise ProtocolError("malformed decision: needs_approval without an approval id (apr_...)")
    staleness = f.int("staleness_ns")
    assert staleness is not None
    if staleness < 0:
        raise ProtocolError("malformed decision: negative staleness_ns")
    return Decision(
        allowed=allowed, effect=effect, reason=f.str("reason") or "", rule_id=f.str("rule_id") or "",
        decision_id=decision_id, approval_id=approval_id or "", agent_id=f.str("agent_id") or "",
        staleness_ns=staleness, error=error or None, request_id=request_id,
    )


@dataclass(frozen=True)
class Approval:
    """An action held for a person's approval. Times are RFC 3339 strings
    as the server sends them; the optional ones are None when absent."""

    id: str
    agent_id: str
    session_id: str
    on_behalf_of: str
    tool_name: str
    resource: str
    attributes: Dict[str, Any]
    rule_id: str
    reason: str
    approvers: List[str]
    status: str
    created_at: str
    expires_at: str
    decided_by: str
    note: str
    decided_at: Optional[str] = None
    grant_expires_at: Optional[str] = None
    consumed_at: Optional[str] = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"


def parse_approval(body: Any) -> Approval:
    f = _Fields("approval", body)
    status = f.str("status")
    if status not in APPROVAL_STATUSES:
        raise ProtocolError("malformed approval: unknown status %r" % (status,))
    ident = f.str("id") or ""
    if not ident.startswith("apr_"):
        raise ProtocolError("malformed approval: id %r" % (ident,))
    return Approval(
        id=ident, agent_id=f.str("agent_id") or "", session_id=f.str("session_id") or "",
        on_behalf_of=f.str("on_behalf_of") or "", tool_name=f.str("tool_name") or "",
        resource=f.str("resource") or "", attributes=f.obj_("attributes"), rule_id=f.str("rule_id") or "",
        reason=f.str("reason") or "", approvers=f.strs("approvers"), status=status or "",
        created_at=f.str("created_at") or "", expires_at=f.str("expires_at") or "",
        decided_by=f.str("decided_by") or "", note=f.str("note") or "",
        decided_at=f.str("decided_at", False), grant_expires_at=f.str("grant_expires_at", False),
        consumed_at=f.str("consumed_at", False),
    )


def parse_approval_list(body: Any) -> List[Approval]:
    f = _Fields("approval list", body)
    v = f._get("approvals", True)
    if not isinstance(v, list):
        raise ProtocolError("malformed approval list: approvals is not a list")
    return [parse_approval(a) for a in v]


@dataclass(frozen=True)
class Token:
    """A short-lived token exchanged for an API key. The token itself is
    kept out of repr, so logging the object does not leak it."""

    token: str = field(repr=False)
    format: str
    token_id: str
    expires_at: str


def parse_token(body: Any) -> Token:
    f = _Fields("token", body)
    fmt = f.str("format")
    if fmt not in ("macaroon", "jwt"):
        raise ProtocolError("malformed token: unknown format %r" % (fmt,))
    tok = f.str("token") or ""
    if not tok:
        raise ProtocolError("malformed token: empty token")
    return Token(token=tok, format=fmt or "", token_id=f.str("token_id") or "", expires_at=f.str("expires_at") or "")


@dataclass(frozen=True)
class Hop:
    """One recorded step of a delegation chain."""

    id: str
    parent: str
    token_id: str
    key_id: str
    agent_id: str
    caveats: List[str]
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class Delegation:
    """A token narrowed by a hop the server recorded."""

    token: str = field(repr=False)
    hop: Hop


def parse_delegation(body: Any) -> Delegation:
    f = _Fields("delegation", body)
    tok = f.str("token") or ""
    if not tok:
        raise ProtocolError("malformed delegation: empty token")
    h = _Fields("hop", f.obj_("hop"))
    hop = Hop(
        id=h.str("id") or "", parent=h.str("parent") or "", token_id=h.str("token_id") or "",
        key_id=h.str("key_id") or "", agent_id=h.str("agent_id") or "", caveats=h.strs("caveats"),
        created_at=h.str("created_at") or "", expires_at=h.str("expires_at") or "",
    )
    return Delegation(token=tok, hop=hop)


@dataclass(frozen=True)
class TokenInfo:
    """What a token says about itself (unverified, for display)."""

    id: str
    key_id: str
    tenant: str
    agent_id: str
    expires_at: str
    hop_ids: List[str]
    caveats: List[str]


def parse_token_info(body: Any) -> TokenInfo:
    f = _Fields("token info", body)
    return TokenInfo(
        id=f.str("id") or "", key_id=f.str("key_id") or "", tenant=f.str("tenant") or "",
        agent_id=f.str("agent_id") or "", expires_at=f.str("expires_at") or "",
        hop_ids=f.strs("hop_ids"), caveats=f.strs("caveats"),
    )


@dataclass(frozen=True)
class Key:
    """An API key's record; never its secret."""

    id: str
    tenant: str
    agent_id: str
    name: str
    roles: List[str]
    allowed_ips: List[str]
    caveats: List[str]
    created_at: str
    revoked: bool
    expires_at: Optional[str] = None


def parse_key(body: Any) -> Key:
    f = _Fields("key", body)
    return Key(
        id=f.str("id") or "", tenant=f.str("tenant") or "", agent_id=f.str("agent_id") or "",
        name=f.str("name") or "", roles=f.strs("roles"), allowed_ips=f.strs("allowed_ips"),
        caveats=f.strs("caveats"), created_at=f.str("created_at") or "", revoked=f.bool("revoked"),
        expires_at=f.str("expires_at", False),
    )


@dataclass(frozen=True)
class CreatedKey:
    """A new API key: its secret, shown this once, and its record."""

    secret: str = field(repr=False)
    key: Key


def parse_created_key(body: Any) -> CreatedKey:
    f = _Fields("created key", body)
    secret = f.str("secret") or ""
    if not secret:
        raise ProtocolError("malformed created key: empty secret")
    return CreatedKey(secret=secret, key=parse_key(f.obj_("key")))


@dataclass(frozen=True)
class Principal:
    """Who the client's credential proves the caller to be."""

    tenant: str
    agent_id: str
    key_id: str
    credential_id: str
    hop_ids: List[str]
    roles: List[str]
    caveats: List[str]


def parse_principal(body: Any) -> Principal:
    f = _Fields("principal", body)
    return Principal(
        tenant=f.str("tenant") or "", agent_id=f.str("agent_id") or "", key_id=f.str("key_id") or "",
        credential_id=f.str("credential_id") or "", hop_ids=f.strs("hop_ids"), roles=f.strs("roles"),
        caveats=f.strs("caveats"),
    )


def error_body(body: Any) -> "tuple[str, str]":
    """The (code, message) of an Error body, or ("", "") when it is not one."""
    if isinstance(body, Mapping):
        e = body.get("error")
        if isinstance(e, Mapping) and isinstance(e.get("code"), str) and isinstance(e.get("message"), str):
            return e["code"], e["message"]
    return "", ""
