"""The exceptions of the client. Every one derives from AgentTrustError."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._models import Approval, Decision


REDACTED = "[redacted credential]"

# An agenttrust API key, token or JWT. A token or JWT is taken only at the
# start of a run of base64url characters, so that text full of "att_" or
# "eyJ" costs linear time, not quadratic.
_CREDENTIAL = re.compile(
    r"atk_[A-Za-z0-9]{36}"
    r"|(?<![A-Za-z0-9_-])att_[A-Za-z0-9_-]{32,}"
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"
)


def redact(text: str, *sent: Optional[str]) -> str:
    """text without the credentials a request carried (sent) and without
    anything shaped like an agenttrust credential. A proxy or an echo
    service between the client and the server may reflect the request in
    its answer, and an error is shown to people, logs and models."""
    for secret in sent:
        if secret:
            text = text.replace(secret, REDACTED)
    if "_" in text or "eyJ" in text:
        text = _CREDENTIAL.sub(REDACTED, text)
    return text


class AgentTrustError(Exception):
    """A failure reported by, or on the way to, the server.

    status is the HTTP status (0 when no answer arrived), code the server's
    error code when it sent one, request_id the X-Request-Id of its answer.
    The message holds no agenttrust credential (see redact).
    """

    def __init__(self, message: str, *, status: int = 0, code: str = "", request_id: str = "") -> None:
        # Messages quote answers: never a credential in them.
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.status = status
        # The code is an answer's text too, and str() prints it.
        self.code = redact(code)
        self.request_id = request_id

    def __str__(self) -> str:
        parts = ["agenttrust: " + self.message]
        if self.code:
            parts.append("(%s, HTTP %d)" % (self.code, self.status))
        elif self.status:
            parts.append("(HTTP %d)" % self.status)
        return " ".join(parts)


class TransportError(AgentTrustError):
    """No usable answer arrived: the connection failed or was cut."""


class RequestTimeoutError(TransportError, TimeoutError):
    """The server did not answer in full within the client's timeout."""


class ServerError(AgentTrustError):
    """The server failed (5xx), or answered something that is not what the
    API promises (garbage, a redirect, a malformed or inconsistent body)."""


class ProtocolError(ServerError):
    """The answer was not a well-formed answer of the API."""


class AuthError(AgentTrustError):
    """The credential was missing, invalid, revoked or suspended (401)."""


class ForbiddenError(AgentTrustError):
    """The credential lacks the role for the call, or its caveats do not
    cover it (403)."""


class NotFoundError(AgentTrustError):
    """No such object in the caller's tenant (404)."""


class ConflictError(AgentTrustError):
    """The state changed first, such as an approval already decided (409)."""


class InvalidRequestError(AgentTrustError, ValueError):
    """The request was refused as malformed (400 and other 4xx), or could
    not be sent as it stands."""


class DeniedError(AgentTrustError, PermissionError):
    """The action was denied; decision says why."""

    def __init__(self, decision: "Decision") -> None:
        super().__init__(decision.reason or "denied", code=decision.error or "")
        self.decision = decision


class ApprovalRequiredError(AgentTrustError, PermissionError):
    """The action waits for a person's approval, approval_id."""

    def __init__(self, decision: "Decision") -> None:
        super().__init__("%s (approval %s)" % (decision.reason or "needs approval", decision.approval_id))
        self.decision = decision
        self.approval_id = decision.approval_id


class ApprovalTimeoutError(AgentTrustError, TimeoutError):
    """approvals.wait gave up while the approval was still pending."""

    def __init__(self, approval: "Optional[Approval]", approval_id: str, lapsed: bool = False) -> None:
        super().__init__("approval %s %s" % (approval_id, "lapsed undecided" if lapsed else "still pending"))
        self.approval = approval
        self.approval_id = approval_id
        self.lapsed = lapsed
