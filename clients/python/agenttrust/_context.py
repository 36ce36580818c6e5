"""Who is acting, carried in a context variable.

identity() binds an agent, session, principal, credential and client for
the code inside it, in this thread or task and in the tasks it starts
(contextvars), so a tool several calls down is checked as the right agent
without passing ids through every signature.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._client import AgentTrustClient


@dataclass(frozen=True)
class Identity:
    """The caller bound by identity(); None where nothing is bound."""

    agent_id: Optional[str] = None
    session_id: Optional[str] = None
    on_behalf_of: Optional[str] = None
    credential: Optional[str] = None
    client: "Optional[AgentTrustClient]" = None

    def __repr__(self) -> str:
        # Never the credential.
        cred = "set" if self.credential else None
        return "Identity(agent_id=%r, session_id=%r, on_behalf_of=%r, credential=%r)" % (
            self.agent_id, self.session_id, self.on_behalf_of, cred,
        )


_current: "contextvars.ContextVar[Identity]" = contextvars.ContextVar("agenttrust_identity", default=Identity())


def current_identity() -> Identity:
    """The identity bound here (an empty one outside any identity())."""
    return _current.get()


@contextlib.contextmanager
def identity(
    agent_id: Optional[str] = None,
    session_id: Optional[str] = None,
    on_behalf_of: Optional[str] = None,
    credential: Optional[str] = None,
    client: "Optional[AgentTrustClient]" = None,
) -> Iterator[Identity]:
    """Bind the acting agent for the block. Arguments left None keep what
    an enclosing identity() bound; the previous binding returns on exit."""
    changes: Any = {
        k: v
        for k, v in (
            ("agent_id", agent_id), ("session_id", session_id), ("on_behalf_of", on_behalf_of),
            ("credential", credential), ("client", client),
        )
        if v is not None
    }
    ident = replace(_current.get(), **changes)
    token = _current.set(ident)
    try:
        yield ident
    finally:
        _current.reset(token)
