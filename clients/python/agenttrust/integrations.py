"""Hooks for agent frameworks, by duck typing: none of them is imported.

guard_langchain_tool(tool)       a LangChain / LangGraph tool (BaseTool)
guard_openai_agents_tool(tool)   an OpenAI Agents SDK FunctionTool

Each checks the tool's call with the tool's name and its arguments as
attributes before the tool runs, and changes the tool in place (returning
it), so it stays the framework's own object. A deny raises DeniedError (a
PermissionError) unless deny_message is given: then the tool returns
deny_message(decision) to the model instead, and does not run.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional

from ._context import current_identity
from ._errors import AgentTrustError, ApprovalRequiredError, DeniedError
from ._models import Decision

if TYPE_CHECKING:  # pragma: no cover
    from ._client import AgentTrustClient

DenyMessage = Optional[Callable[[Decision], str]]


def _client(client: "Optional[AgentTrustClient]", name: str) -> "AgentTrustClient":
    c = client if client is not None else current_identity().client
    if c is None:
        raise AgentTrustError("tool %r: no client: pass client= or bind one with identity(client=...)" % name)
    return c


def _attributes(args: Any) -> Optional[Dict[str, Any]]:
    if args is None:
        return None
    if isinstance(args, Mapping):
        return dict(args)
    if isinstance(args, str):
        return {"input": args}
    raise AgentTrustError("tool arguments are a %s, not an object or a string" % type(args).__name__)


def _decide(client: "Optional[AgentTrustClient]", name: str, args: Any, deny_message: DenyMessage) -> Optional[str]:
    """None when the tool may run, else the text to return instead."""
    d = _client(client, name).actions.check(tool_name=name, attributes=_attributes(args))
    try:
        d.raise_for_effect()
    except (DeniedError, ApprovalRequiredError):
        if deny_message is None:
            raise
        return deny_message(d)
    return None


def _set(obj: Any, name: str, value: Any) -> None:
    # Past pydantic's or a frozen dataclass's __setattr__: an instance
    # attribute shadowing the class's method.
    object.__setattr__(obj, name, value)


def guard_langchain_tool(
    tool: Any, client: "Optional[AgentTrustClient]" = None, *, tool_name: Optional[str] = None, deny_message: DenyMessage = None
) -> Any:
    """Check every call of a LangChain tool (anything with name and run/arun,
    or invoke/ainvoke): run(tool_input, ...) for BaseTool, which invoke,
    AgentExecutor and LangGraph's ToolNode all go through, so a call is
    checked once. tool_input's dict is sent as attributes, a string as
    {"input": ...}."""
    name = tool_name or getattr(tool, "name", None)
    if not isinstance(name, str) or not name:
        raise AgentTrustError("guard_langchain_tool: the tool has no name; pass tool_name=")
    sync_name, async_name = ("run", "arun") if hasattr(tool, "run") else ("invoke", "ainvoke")
    inner = getattr(tool, sync_name, None)
    ainner = getattr(tool, async_name, None)
    if inner is None and ainner is None:
        raise AgentTrustError("guard_langchain_tool: %r has neither run nor invoke" % (tool,))

    def args_of(a: Any, kw: Any) -> Any:
        v = a[0] if a else kw.get("tool_input", kw.get("input"))
        if isinstance(v, Mapping) and v.get("type") == "tool_call" and "args" in v:
            v = v["args"]  # a ToolCall handed to invoke
        return v

    if inner is not None:

        def run(*a: Any, **kw: Any) -> Any:
            refused = _decide(client, name, args_of(a, kw), deny_message)
            return refused if refused is not None else inner(*a, **kw)

        _set(tool, sync_name, run)
    if ainner is not None:

        async def arun(*a: Any, **kw: Any) -> Any:
            refused = await asyncio.to_thread(_decide, client, name, args_of(a, kw), deny_message)
            return refused if refused is not None else await ainner(*a, **kw)

        _set(tool, async_name, arun)
    return tool


def guard_openai_agents_tool(
    tool: Any, client: "Optional[AgentTrustClient]" = None, *, tool_name: Optional[str] = None, deny_message: DenyMessage = None
) -> Any:
    """Check every call of an OpenAI Agents SDK FunctionTool (name,
    on_invoke_tool(ctx, input_json) -> awaitable): the JSON arguments the
    model produced are sent as attributes. Arguments that are not a JSON
    object are refused without running the tool."""
    name = tool_name or getattr(tool, "name", None)
    if not isinstance(name, str) or not name:
        raise AgentTrustError("guard_openai_agents_tool: the tool has no name; pass tool_name=")
    inner = getattr(tool, "on_invoke_tool", None)
    if not callable(inner):
        raise AgentTrustError("guard_openai_agents_tool: %r has no on_invoke_tool" % (tool,))

    async def on_invoke_tool(ctx: Any, input_json: str) -> Any:
        try:
            args = json.loads(input_json) if input_json else {}
        except ValueError:
            raise AgentTrustError("tool %r: arguments are not JSON" % name) from None
        if not isinstance(args, dict):
            raise AgentTrustError("tool %r: arguments are not a JSON object" % name)
        refused = await asyncio.to_thread(_decide, client, name, args, deny_message)
        if refused is not None:
            return refused
        return await inner(ctx, input_json)

    _set(tool, "on_invoke_tool", on_invoke_tool)
    return tool
