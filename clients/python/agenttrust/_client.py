"""AgentTrustClient: the HTTP API of agenttrust serve (api/openapi.yaml)."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import re
import ssl
import time
import urllib.parse
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ._context import current_identity
from ._errors import ApprovalTimeoutError, InvalidRequestError, ProtocolError
from ._models import (
    Approval,
    CreatedKey,
    Decision,
    Delegation,
    Principal,
    Token,
    TokenInfo,
    parse_approval,
    parse_approval_list,
    parse_created_key,
    parse_decision,
    parse_delegation,
    parse_principal,
    parse_token,
    parse_token_info,
)
from ._transport import USER_AGENT, Transport, check_credential

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
# The server caps a long poll at 60s.
MAX_LONG_POLL = 60.0


def _seg(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError("%s must be a non-empty string" % what)
    return urllib.parse.quote(value, safe="")


def _opt_str(value: Any, what: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequestError("%s must be a string" % what)
    return value


def _lapsed(expires_at: str, now: float) -> bool:
    """Whether an RFC 3339 time (as the server writes it, with up to
    nanoseconds) is past. An unreadable one is not taken as past: the
    wait then ends at its own timeout."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", expires_at)
    if not m:
        return False
    try:
        t = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    except ValueError:
        return False
    return t.timestamp() + float("0." + (m.group(2) or "0")) <= now


def _caveats(caveats: Optional[Sequence[str]]) -> Optional[List[str]]:
    if caveats is None:
        return None
    if isinstance(caveats, str) or not all(isinstance(c, str) for c in caveats):
        raise InvalidRequestError("caveats must be a list of strings")
    return list(caveats)


_NAME = re.compile(r"[A-Za-z0-9._:/@+-]{1,256}")


def _macaroon_caveats(raw: bytes) -> List[str]:
    """The first-party caveats of a version 2 binary macaroon, unverified.
    Raises ValueError when raw is not one."""
    if not raw or raw[0] != 2:
        raise ValueError("not a version 2 macaroon")
    p = 1

    def uvarint() -> int:
        nonlocal p
        x, shift = 0, 0
        for _ in range(3):
            if p >= len(raw):
                raise ValueError("truncated")
            c = raw[p]
            p += 1
            x |= (c & 0x7F) << shift
            if c < 0x80:
                return x
            shift += 7
        raise ValueError("varint too long")

    def section() -> List[bytes]:
        # The identifiers (field 2) of one section, up to its end (field 0).
        nonlocal p
        ids = []
        while True:
            ft = uvarint()
            if ft == 0:
                return ids
            n = uvarint()
            if p + n > len(raw):
                raise ValueError("truncated")
            if ft == 2:
                ids.append(raw[p : p + n])
            p += n

    section()  # the header: location and identifier
    caveats = []
    while True:
        ids = section()
        if not ids:
            return caveats
        caveats.append(ids[0].decode("utf-8"))


def credential_agent(cred: Optional[str]) -> str:
    """The agent a token (att_...) or JWT names, read unverified: the
    server verifies it, and decides about that agent. "" for an API key,
    which names none the client can read, or a credential that does not
    parse."""
    if not cred:
        return ""
    try:
        if cred.startswith("att_"):
            s = cred[4:]
            raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
            for text in _macaroon_caveats(raw):
                name, _, rest = text.strip().partition(" ")
                op, _, value = rest.lstrip(" ").partition(" ")
                value = value.strip()
                if name != "agent" or op != "=" or not value:
                    continue
                if value[0] == '"':
                    value = json.loads(value)
                # The first "agent =" caveat names the token's agent.
                return value if isinstance(value, str) and _NAME.fullmatch(value) else ""
            return ""
        if cred.count(".") == 2:
            payload = cred.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            sub = claims.get("sub") if isinstance(claims, dict) else None
            return sub if isinstance(sub, str) else ""
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ""
    return ""


class AgentTrustClient:
    """A client of one agenttrust server, authenticating every call with
    api_key (an API key atk_..., a token att_... or a JWT).

    timeout bounds each attempt of a call, from connecting to the last byte
    of the answer. retries is how many times a call is repeated, only when
    repeating is safe: the connection could not be made (nothing was sent),
    or the server answered 502 or 503 with a Retry-After of at most
    max_retry_after seconds to a call that changes nothing when repeated.

    Plain http is accepted only to a loopback host unless
    allow_insecure_http is True. Redirects are never followed. The client
    is safe for concurrent use from many threads; close() (or leaving a
    with block) makes later calls fail.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        *,
        max_retry_after: float = 10.0,
        max_body: int = 1 << 20,
        allow_insecure_http: bool = False,
        ssl_context: Optional[ssl.SSLContext] = None,
        user_agent: str = USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._t = Transport(
            base_url, api_key, timeout=timeout, retries=retries, max_retry_after=max_retry_after,
            max_body=max_body, allow_insecure_http=allow_insecure_http, ssl_context=ssl_context,
            user_agent=user_agent, sleep=sleep,
        )
        self._sleep = sleep
        self._clock = clock
        self._own_agent = credential_agent(api_key)
        self._wall = wall_clock
        self.actions = Actions(self)
        self.approvals = Approvals(self)
        self.tokens = Tokens(self)
        self.agents = Agents(self)
        self.keys = Keys(self)

    def __repr__(self) -> str:
        return "AgentTrustClient(%r)" % urllib.parse.urlunsplit(self._t.url)

    def __enter__(self) -> "AgentTrustClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Refuse every later call. Holds no connection between calls."""
        self._t.closed = True

    def revoke(self, id: str) -> None:
        """Revoke an agent, session, key, token or hop id for good (admin):
        POST /v1/revocations. Safe to repeat."""
        _seg(id, "id")
        self._t.request("revoke", "POST", "/v1/revocations", body={"id": id}, expect=204, idempotent=True)

    def whoami(self) -> Principal:
        """The principal the client's credential proves (GET /v1/whoami)."""
        body, _ = self._t.request("whoami", "GET", "/v1/whoami", idempotent=True)
        return parse_principal(body)

    def guard(self, tool_name: str, **kwargs: Any) -> Any:
        """guard(tool_name, client=self, ...): see agenttrust.guard."""
        from ._guard import guard

        return guard(tool_name, client=self, **kwargs)


class Actions:
    def __init__(self, client: AgentTrustClient) -> None:
        self._c = client

    def check(
        self,
        agent_id: Optional[str] = None,
        tool_name: Optional[str] = None,
        resource: Optional[str] = None,
        session_id: Optional[str] = None,
        on_behalf_of: Optional[str] = None,
        attributes: Optional[Mapping[str, Any]] = None,
        credential: Optional[str] = None,
    ) -> Decision:
        """Ask whether an action may happen now (POST /v1/actions/check).

        Returns the decision for allow, deny and needs_approval alike;
        decision.allowed is True only for an allow. agent_id, session_id,
        on_behalf_of and credential left None come from the enclosing
        identity(). Raises an AgentTrustError, never returns an allowed
        decision, when no well-formed, consistent decision arrived.
        """
        ident = current_identity()
        agent_id = _opt_str(agent_id if agent_id is not None else ident.agent_id, "agent_id")
        session_id = _opt_str(session_id if session_id is not None else ident.session_id, "session_id")
        on_behalf_of = _opt_str(on_behalf_of if on_behalf_of is not None else ident.on_behalf_of, "on_behalf_of")
        credential = credential if credential is not None else ident.credential
        if not isinstance(tool_name, str) or not tool_name:
            raise InvalidRequestError("tool_name must be a non-empty string")
        req: Dict[str, Any] = {"tool_name": tool_name}
        if agent_id:
            req["agent_id"] = agent_id
        if resource is not None:
            req["resource"] = _opt_str(resource, "resource")
        if session_id:
            req["session_id"] = session_id
        if on_behalf_of:
            req["on_behalf_of"] = on_behalf_of
        if attributes is not None:
            if not isinstance(attributes, Mapping) or not all(isinstance(k, str) for k in attributes):
                raise InvalidRequestError("attributes must be a mapping with string keys")
            req["attributes"] = dict(attributes)
        if credential is not None:
            req["credential"] = check_credential(credential, "credential")
        body, rid = self._c._t.request("check", "POST", "/v1/actions/check", body=req, idempotent=True, secrets=(credential,))
        d = parse_decision(body, rid)
        # The reason and error are shown (DeniedError, a tool's error to the
        # model): whatever answered may have echoed the request into them.
        red = (credential,)
        d = replace(d, reason=self._c._t.redact(d.reason, red), error=self._c._t.redact(d.error, red) if d.error else d.error)
        if d.approval_id and self._c._t.redact(d.approval_id, red) != d.approval_id:
            # ApprovalRequiredError quotes the id as it is: one holding a
            # credential is no approval id.
            raise ProtocolError("check: the approval id holds a credential", status=200)
        if agent_id and d.agent_id != agent_id and (credential is None or d.allowed):
            # A decision about someone else is no decision about this call.
            # With a credential checked, the server decides about its agent
            # and denies (agent_mismatch) when that is not agent_id: that deny
            # stays a deny, but an allow must be about the agent named.
            raise ProtocolError("check: decision for agent %r, asked for %r" % (d.agent_id, agent_id), status=200)
        if not agent_id and d.allowed:
            # With no agent named, the check is about the agent the token
            # or JWT checked names (the presented one, else the client's
            # own): an allow about another is a replayed one.
            asked = credential_agent(credential) if credential is not None else self._c._own_agent
            if asked and d.agent_id != asked:
                raise ProtocolError("check: an allow for agent %r, asked about %r" % (d.agent_id, asked), status=200)
        return d


class Approvals:
    def __init__(self, client: AgentTrustClient) -> None:
        self._c = client

    def get(self, id: str) -> Approval:
        """One approval (GET /v1/approvals/{id})."""
        body, _ = self._c._t.request("approval", "GET", "/v1/approvals/" + _seg(id, "id"), idempotent=True)
        return self._same(parse_approval(body), id)

    def list(self, status: Optional[str] = None, agent_id: Optional[str] = None, limit: Optional[int] = None) -> List[Approval]:
        """Approvals, oldest first (GET /v1/approvals)."""
        q: Dict[str, str] = {}
        if status is not None:
            q["status"] = _opt_str(status, "status") or ""
        if agent_id is not None:
            q["agent_id"] = _opt_str(agent_id, "agent_id") or ""
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise InvalidRequestError("limit must be an integer")
            q["limit"] = str(limit)
        body, _ = self._c._t.request("approvals", "GET", "/v1/approvals", query=q or None, idempotent=True)
        return parse_approval_list(body)

    def wait(self, id: str, timeout: float) -> Approval:
        """Wait up to timeout seconds for approval id to be decided, by long
        polls, and return it decided (approved, denied or consumed). Raises
        ApprovalTimeoutError when it is still pending at the end, or has
        lapsed undecided (its expires_at passed; .lapsed is then True)."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise InvalidRequestError("timeout must be a number of seconds >= 0")
        path = "/v1/approvals/" + _seg(id, "id")
        deadline = self._c._clock() + timeout
        last: Optional[Approval] = None
        while True:
            start = self._c._clock()
            left = deadline - start
            if left <= 0 and last is not None:
                raise ApprovalTimeoutError(last, id)
            wait = min(MAX_LONG_POLL, max(0.0, left))
            q = {"wait": "%dms" % math.ceil(wait * 1000)} if wait > 0 else None
            body, _ = self._c._t.request("wait approval", "GET", path, query=q, idempotent=True, extra_time=wait)
            last = self._same(parse_approval(body), id)
            if not last.pending:
                return last
            if _lapsed(last.expires_at, self._c._wall()):
                raise ApprovalTimeoutError(last, id, lapsed=True)
            # An early answer (the server closing, a short cap) must not
            # turn this into a busy loop.
            spent = self._c._clock() - start
            if spent < 0.5 and self._c._clock() < deadline:
                self._c._sleep(min(0.5 - spent, max(0.0, deadline - self._c._clock())))

    def approve(self, id: str, note: Optional[str] = None) -> Approval:
        """Grant a pending approval (admin, approver)."""
        return self._decide(id, "approve", note)

    def deny(self, id: str, note: Optional[str] = None) -> Approval:
        """Refuse a pending approval (admin, approver)."""
        return self._decide(id, "deny", note)

    def _decide(self, id: str, verb: str, note: Optional[str]) -> Approval:
        body = {"note": _opt_str(note, "note")} if note is not None else {}
        out, _ = self._c._t.request(verb, "POST", "/v1/approvals/%s/%s" % (_seg(id, "id"), verb), body=body)
        a = self._same(parse_approval(out), id)
        want = "approved" if verb == "approve" else "denied"
        if a.status != want:
            raise ProtocolError("%s: approval is %s, not %s" % (verb, a.status, want), status=200)
        return a

    @staticmethod
    def _same(a: Approval, id: str) -> Approval:
        if a.id != id:
            raise ProtocolError("answer is approval %r, asked for %r" % (a.id, id), status=200)
        return a


class Tokens:
    def __init__(self, client: AgentTrustClient) -> None:
        self._c = client

    def exchange(self, format: Optional[str] = None, audience: Optional[str] = None, caveats: Optional[Sequence[str]] = None) -> Token:
        """Exchange the client's API key for a short-lived token
        (POST /v1/tokens): a macaroon (att_...) by default, or a JWT for
        audience with format="jwt"; caveats narrow it. Not repeated."""
        req: Dict[str, Any] = {}
        if format is not None:
            req["format"] = _opt_str(format, "format")
        if audience is not None:
            req["audience"] = _opt_str(audience, "audience")
        if caveats is not None:
            req["caveats"] = _caveats(caveats)
        body, _ = self._c._t.request("exchange", "POST", "/v1/tokens", body=req, expect=201)
        return parse_token(body)

    def delegate(self, token: Optional[str] = None, ttl_seconds: Optional[int] = None, caveats: Optional[Sequence[str]] = None) -> Delegation:
        """Narrow a token with a hop the server records
        (POST /v1/tokens/delegate); token defaults to the client's own
        credential. The server has no other attenuation route: this is it,
        and revoking the hop's id revokes what was handed down. Not
        repeated."""
        req: Dict[str, Any] = {}
        if token is not None:
            req["token"] = check_credential(token, "token")
        if ttl_seconds is not None:
            if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 0:
                raise InvalidRequestError("ttl_seconds must be an integer >= 0")
            req["ttl_seconds"] = ttl_seconds
        if caveats is not None:
            req["caveats"] = _caveats(caveats)
        body, _ = self._c._t.request("delegate", "POST", "/v1/tokens/delegate", body=req, expect=201, secrets=(token,))
        return parse_delegation(body)

    def inspect(self, token: str) -> TokenInfo:
        """What a token says about itself (unverified, for display)."""
        body, _ = self._c._t.request(
            "inspect", "POST", "/v1/tokens/inspect", body={"token": check_credential(token, "token")}, idempotent=True,
            secrets=(token,),
        )
        return parse_token_info(body)


class Agents:
    def __init__(self, client: AgentTrustClient) -> None:
        self._c = client

    def suspend(self, id: str, reason: Optional[str] = None) -> None:
        """Suspend an agent or session now, the kill switch (admin):
        every later check of it denies. Safe to repeat."""
        body = {"reason": _opt_str(reason, "reason")} if reason is not None else {}
        self._c._t.request("suspend", "POST", "/v1/agents/%s/suspend" % _seg(id, "id"), body=body, expect=204, idempotent=True)

    def resume(self, id: str) -> None:
        """Lift a suspension (admin); NotFoundError when id is not
        suspended. Not repeated."""
        self._c._t.request("resume", "POST", "/v1/agents/%s/resume" % _seg(id, "id"), expect=204)


class Keys:
    def __init__(self, client: AgentTrustClient) -> None:
        self._c = client

    def create(
        self,
        agent_id: str,
        name: Optional[str] = None,
        roles: Optional[Sequence[str]] = None,
        caveats: Optional[Sequence[str]] = None,
        allowed_ips: Optional[Sequence[str]] = None,
    ) -> CreatedKey:
        """Create an API key for an agent (admin); its secret is in the
        answer only. Not repeated."""
        _seg(agent_id, "agent_id")
        req: Dict[str, Any] = {"agent_id": agent_id}
        if name is not None:
            req["name"] = _opt_str(name, "name")
        if roles is not None:
            req["roles"] = _caveats(roles)
        if caveats is not None:
            req["caveats"] = _caveats(caveats)
        if allowed_ips is not None:
            req["allowed_ips"] = _caveats(allowed_ips)
        body, _ = self._c._t.request("create key", "POST", "/v1/keys", body=req, expect=201)
        return parse_created_key(body)

    def revoke(self, id: str) -> None:
        """Revoke a key and every token derived from it (admin)."""
        self._c._t.request("revoke key", "POST", "/v1/keys/%s/revoke" % _seg(id, "id"), expect=204, idempotent=True)
