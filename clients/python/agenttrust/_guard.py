"""@guard: a function that runs only when the server allows it."""

from __future__ import annotations

import asyncio
import functools
import inspect
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

from ._context import current_identity
from ._errors import AgentTrustError, ApprovalRequiredError, DeniedError, InvalidRequestError
from ._models import Decision

if TYPE_CHECKING:  # pragma: no cover
    from ._client import AgentTrustClient

F = TypeVar("F", bound=Callable[..., Any])
ResourceSpec = Union[None, str, Callable[..., Optional[str]]]
AttributesSpec = Union[None, Sequence[str], Callable[..., Optional[Mapping[str, Any]]]]


def guard(
    tool_name: str,
    *,
    client: "Optional[AgentTrustClient]" = None,
    resource: ResourceSpec = None,
    attributes: AttributesSpec = None,
    approval_timeout: Optional[float] = None,
) -> Callable[[F], F]:
    """Decorate a function (sync or async) so that each call is checked as
    tool_name first, and its body runs only on an allow.

    The agent, session, principal and credential come from the enclosing
    identity(); the client from client=, else from identity(client=...).
    resource is a constant or a function of the call's arguments;
    attributes the names of parameters to send, or a function of the
    call's arguments returning a mapping. A resource not in Unicode NFC
    (the form the server judges) raises InvalidRequestError. A deny
    raises DeniedError; a needs-approval raises ApprovalRequiredError, or,
    with approval_timeout, waits that long for a person's decision and
    checks once more. Any failure to get a decision raises its
    AgentTrustError: the body never runs without an allow.
    """
    if not isinstance(tool_name, str) or not tool_name:
        raise ValueError("guard: tool_name must be a non-empty string")

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)

        def decide(args: Any, kwargs: Any) -> Decision:
            c = client if client is not None else current_identity().client
            if c is None:
                raise AgentTrustError("guard(%r): no client: pass client= or bind one with identity(client=...)" % tool_name)
            res, attrs = _arguments(sig, args, kwargs, resource, attributes)
            _resource_form(tool_name, res)
            d = c.actions.check(tool_name=tool_name, resource=res, attributes=attrs)
            if d.needs_approval and approval_timeout is not None:
                a = c.approvals.wait(d.approval_id, approval_timeout)
                if a.status == "denied":
                    raise DeniedError(replace(d, effect="deny", reason="approval %s denied by %s" % (a.id, a.decided_by)))
                d = c.actions.check(tool_name=tool_name, resource=res, attributes=attrs)
            return d.raise_for_effect()

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                # to_thread copies the context, so identity() holds there.
                await asyncio.to_thread(decide, args, kwargs)
                return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            decide(args, kwargs)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _resource_form(tool_name: str, res: Optional[str]) -> None:
    # The server judges a resource in Unicode NFC; the function gets the
    # text it was given. Where the two differ ("cafe\u0301" against
    # "caf\u00e9"), a file system that tells them apart holds two files:
    # the check would allow one and the function open the other.
    if isinstance(res, str) and not res.isascii() and not unicodedata.is_normalized("NFC", res):
        raise InvalidRequestError(
            "guard(%r): resource %r is not in Unicode NFC, the form the check judges; pass it as %r"
            % (tool_name, res, unicodedata.normalize("NFC", res))
        )


def _arguments(
    sig: inspect.Signature, args: Any, kwargs: Any, resource: ResourceSpec, attributes: AttributesSpec
) -> "tuple[Optional[str], Optional[Mapping[str, Any]]]":
    # The callables see the call's arguments with defaults filled in.
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    res: Optional[str] = None
    if callable(resource):
        res = resource(*bound.args, **bound.kwargs)
    elif resource is not None:
        res = resource
    attrs: Optional[Mapping[str, Any]] = None
    if callable(attributes):
        attrs = attributes(*bound.args, **bound.kwargs)
    elif attributes is not None:
        missing = [n for n in attributes if n not in bound.arguments]
        if missing:
            raise AgentTrustError("guard: no parameter named %s" % ", ".join(missing))
        attrs = {n: bound.arguments[n] for n in attributes}
    return res, attrs


__all__ = ["guard", "DeniedError", "ApprovalRequiredError"]
