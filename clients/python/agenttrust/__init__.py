"""Python client of agenttrust serve: runtime authorization for AI agents.

    from agenttrust import AgentTrustClient

    client = AgentTrustClient(base_url="http://127.0.0.1:8480", api_key="atk_...")
    decision = client.actions.check(agent_id="agent-123", tool_name="email.send", session_id="s-1")
    if not decision.allowed:
        raise PermissionError(decision.reason)

Standard library only. Every call fails closed: when no well-formed,
consistent decision arrives (server down, cut, slow, garbled), check raises
an AgentTrustError and never returns an allowed decision.
"""

from ._client import DEFAULT_RETRIES, DEFAULT_TIMEOUT, AgentTrustClient
from ._context import Identity, current_identity, identity
from ._errors import (
    AgentTrustError,
    ApprovalRequiredError,
    ApprovalTimeoutError,
    AuthError,
    ConflictError,
    DeniedError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)
from ._guard import guard
from ._models import Approval, CreatedKey, Decision, Delegation, Hop, Key, Principal, Token, TokenInfo

__version__ = "0.1.0"

__all__ = [
    "AgentTrustClient", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT",
    "identity", "current_identity", "Identity", "guard",
    "Decision", "Approval", "Token", "Delegation", "Hop", "TokenInfo", "Key", "CreatedKey", "Principal",
    "AgentTrustError", "TransportError", "RequestTimeoutError", "ServerError", "ProtocolError", "AuthError",
    "ForbiddenError", "NotFoundError", "ConflictError", "InvalidRequestError", "DeniedError",
    "ApprovalRequiredError", "ApprovalTimeoutError",
]
