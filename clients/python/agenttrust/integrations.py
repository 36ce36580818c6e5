"""Hooks for agent frameworks, by duck typing: none of them is imported.

guard_langchain_tool(tool)       a LangChain / LangGraph tool (BaseTool)
guard_openai_agents_tool(tool)   an OpenAI Agents SDK FunctionTool

Each checks the tool's call with the tool's name and its arguments as
attributes before the tool runs, and changes the tool in place (returning
it), so it stays the framework's own object. A deny raises DeniedError (a
PermissionError) unless deny_message is given: then the tool returns
deny_message(decision) to the model instead, and does not run (a
deny_message returning None raises the deny).
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Tuple

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


def _decide(client: "Optional[AgentTrustClient]", name: str, args: Any, deny_message: DenyMessage) -> Tuple[bool, Any]:
    """(True, None) when the tool may run, else (False, the text to return
    instead). Whether it runs is the decision's alone: a deny_message that
    gives no text (None) raises the deny, never runs the tool."""
    d = _client(client, name).actions.check(tool_name=name, attributes=_attributes(args))
    try:
        d.raise_for_effect()
    except (DeniedError, ApprovalRequiredError):
        if deny_message is None:
            raise
        text = deny_message(d)
        if text is None:
            raise
        return False, text
    return True, None


def _set(obj: Any, name: str, value: Any) -> None:
    # Past pydantic's or a frozen dataclass's __setattr__: an instance
    # attribute shadowing the class's method.
    object.__setattr__(obj, name, value)


def _looks_like_tool_call(v: Any) -> bool:
    return isinstance(v, Mapping) and v.get("type") == "tool_call"


def _jsonable(v: Any) -> Any:
    """A parsed argument as JSON: a pydantic model (nested in a list or
    dict too) as its model_dump(mode="json"); anything else as it is, so
    what JSON cannot carry is refused by check."""
    dump = getattr(v, "model_dump", None)
    if callable(dump) and not isinstance(v, type):
        return dump(mode="json")
    if isinstance(v, Mapping):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _takes_call_id(f: Callable[..., Any]) -> bool:
    """Whether BaseTool's parser takes tool_call_id after tool_input, as
    langchain_core does since 0.2.x (older ones take tool_input alone)."""
    try:
        ps = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in ps):
        return True
    return len([p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2


def _langchain_parser(tool: Any, name: str) -> Optional[Callable[[Any, Any], Any]]:
    """The tool's own parsing of run's tool_input into what _run receives
    (BaseTool._to_args_and_kwargs, else _parse_input), as attributes; None
    when the tool has neither."""
    to_args = getattr(tool, "_to_args_and_kwargs", None)
    if callable(to_args):
        with_id = _takes_call_id(to_args)

        def parse(tool_input: Any, call_id: Any) -> Any:
            v = dict(tool_input) if isinstance(tool_input, dict) else tool_input
            args, kwargs = to_args(v, call_id) if with_id else to_args(v)
            if not args:
                return _jsonable(dict(kwargs))
            if len(args) == 1 and not kwargs:
                return {"input": _jsonable(args[0])}
            raise AgentTrustError("tool %r: it runs with %d positional arguments, which cannot be checked as attributes" % (name, len(args)))

        return parse
    parse_input = getattr(tool, "_parse_input", None)
    if callable(parse_input):
        with_id = _takes_call_id(parse_input)

        def parse(tool_input: Any, call_id: Any) -> Any:
            v = dict(tool_input) if isinstance(tool_input, dict) else tool_input
            out = parse_input(v, call_id) if with_id else parse_input(v)
            return out if isinstance(out, str) else _jsonable(out)

        return parse
    return None


def guard_langchain_tool(
    tool: Any, client: "Optional[AgentTrustClient]" = None, *, tool_name: Optional[str] = None, deny_message: DenyMessage = None
) -> Any:
    """Check every call of a LangChain tool (anything with name and run/arun,
    or invoke/ainvoke): run(tool_input, ...) for BaseTool, which invoke,
    AgentExecutor and LangGraph's ToolNode all go through, so a call is
    checked once.

    What is checked is what the tool will run with: for a BaseTool, the
    tool's own parsing of tool_input (_to_args_and_kwargs: the args_schema's
    fields, validated and coerced, extra keys dropped) as attributes, a
    single argument as {"input": ...}. invoke has already unwrapped a
    ToolCall by then, so nothing is unwrapped here. A tool without that
    parsing is checked with tool_input as given (a dict as attributes, a
    string as {"input": ...}), and a tool_input shaped as a ToolCall is
    refused with AgentTrustError, the tool not run: what such a tool would
    make of it cannot be known. Input the tool's schema refuses raises the
    schema's error before any check."""
    name = tool_name or getattr(tool, "name", None)
    if not isinstance(name, str) or not name:
        raise AgentTrustError("guard_langchain_tool: the tool has no name; pass tool_name=")
    sync_name, async_name = ("run", "arun") if hasattr(tool, "run") else ("invoke", "ainvoke")
    inner = getattr(tool, sync_name, None)
    ainner = getattr(tool, async_name, None)
    if inner is None and ainner is None:
        raise AgentTrustError("guard_langchain_tool: %r has neither run nor invoke" % (tool,))
    parse = _langchain_parser(tool, name) if sync_name == "run" else None

    def args_of(a: Any, kw: Any) -> Any:
        v = a[0] if a else kw.get("tool_input", kw.get("input"))
        if parse is not None:
            return parse(v, kw.get("tool_call_id"))
        if _looks_like_tool_call(v):
            raise AgentTrustError("tool %r: its input is shaped as a ToolCall, refused: what the tool makes of it is unknown" % name)
        return v

    if inner is not None:

        def run(*a: Any, **kw: Any) -> Any:
            allowed, refused = _decide(client, name, args_of(a, kw), deny_message)
            return inner(*a, **kw) if allowed else refused

        _set(tool, sync_name, run)
    if ainner is not None:

        async def arun(*a: Any, **kw: Any) -> Any:
            args = args_of(a, kw)
            allowed, refused = await asyncio.to_thread(_decide, client, name, args, deny_message)
            return await ainner(*a, **kw) if allowed else refused

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
        allowed, refused = await asyncio.to_thread(_decide, client, name, args, deny_message)
        if not allowed:
            return refused
        return await inner(ctx, input_json)

    _set(tool, "on_invoke_tool", on_invoke_tool)
    return tool
