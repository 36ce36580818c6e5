"""The framework hooks, with stand-ins shaped as LangChain's BaseTool and
the OpenAI Agents SDK's FunctionTool (neither package is installed)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import unittest
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Tuple, get_type_hints

from agenttrust import AgentTrustClient, AgentTrustError, DeniedError, identity
from agenttrust.integrations import guard_langchain_tool, guard_openai_agents_tool
from tests.serve import serve


class StandInSchema:
    """A tool's pydantic args_schema as BaseTool uses it, built from the
    function's signature as StructuredTool.from_function builds it:
    validation ignores extra keys, requires the fields without a default,
    and coerces as pydantic's lax mode does (a string of digits to an
    int)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        hints = get_type_hints(func)
        self.fields = {
            n: (hints.get(n, Any), p.default is inspect.Parameter.empty) for n, p in inspect.signature(func).parameters.items()
        }

    def validate(self, data: Dict[str, Any]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for k, (kind, required) in self.fields.items():
            if k not in data:
                if required:
                    raise ValueError("field required: %s" % k)
                continue
            v = data[k]
            if kind is int and isinstance(v, str) and v.isdigit():
                v = int(v)
            if kind in (int, str) and not isinstance(v, kind):
                raise ValueError("%s is not %s" % (k, kind.__name__))
            out[k] = v
        return out


class StandInBaseTool:
    """LangChain's BaseTool as langchain_core/tools/base.py implements
    it, for the parts the guard meets: a pydantic model whose __setattr__
    refuses unknown names; invoke/ainvoke unwrap a ToolCall once
    (_prep_run_args) and call run/arun(tool_input, tool_call_id=...);
    run/arun never unwrap, but parse tool_input with the args_schema
    (_parse_input, through _to_args_and_kwargs) and call _run with the
    schema's fields only, or with a string input as its one argument."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "args_schema", StandInSchema(func))
        object.__setattr__(self, "calls", [])

    def __setattr__(self, key: str, value: Any) -> None:
        raise ValueError('"StandInBaseTool" object has no field "%s"' % key)

    def _parse_input(self, tool_input: Any, tool_call_id: Any) -> Any:
        if isinstance(tool_input, str):
            self.args_schema.validate({next(iter(self.args_schema.fields)): tool_input})
            return tool_input
        result = self.args_schema.validate(tool_input)
        return {k: v for k, v in result.items() if k in tool_input}

    def _to_args_and_kwargs(self, tool_input: Any, tool_call_id: Any) -> Tuple[tuple, dict]:
        if not self.args_schema.fields:
            return (), {}
        tool_input = self._parse_input(tool_input, tool_call_id)
        if isinstance(tool_input, str):
            return (tool_input,), {}
        return (), dict(tool_input)

    def _run(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args[0] if args else kwargs)
        return self.func(*args, **kwargs)

    def run(self, tool_input: Any, verbose: Any = None, *, tool_call_id: Any = None, **kwargs: Any) -> Any:
        args, kw = self._to_args_and_kwargs(tool_input, tool_call_id)
        return self._run(*args, **kw)

    async def arun(self, tool_input: Any, verbose: Any = None, *, tool_call_id: Any = None, **kwargs: Any) -> Any:
        # BaseTool._arun defaults to _run in an executor.
        args, kw = self._to_args_and_kwargs(tool_input, tool_call_id)
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(self._run, *args, **kw))

    @staticmethod
    def _prep_run_args(input: Any, kwargs: Dict[str, Any]) -> Any:
        if isinstance(input, dict) and input.get("type") == "tool_call" and "id" in input:
            kwargs["tool_call_id"] = input["id"]
            return input["args"].copy()
        return input

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return self.run(self._prep_run_args(input, kwargs), **kwargs)

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return await self.arun(self._prep_run_args(input, kwargs), **kwargs)


class StandInRunnable:
    """A tool with run but none of BaseTool's parsing: it gets tool_input
    as given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: List[Any] = []

    def run(self, tool_input: Any, **kwargs: Any) -> Any:
        self.calls.append(tool_input)
        return "ran"


def charge(amount: int) -> str:
    return "charged %d" % amount


def tool_call(args: Any, id: str = "c1") -> Dict[str, Any]:
    """A ToolCall as a chat model's answer carries it, which ToolNode hands to invoke."""
    return {"type": "tool_call", "name": "payments.charge", "args": args, "id": id}


# Arguments a (prompt-injected) model shapes as a ToolCall: a guard that
# unwraps them checks {"amount": 5}; the tool's schema reads 5000.
SHAPED = {"type": "tool_call", "args": {"amount": 5}, "amount": 5000}


@dataclass
class StandInFunctionTool:
    """The Agents SDK's FunctionTool: name, JSON schema, on_invoke_tool."""

    name: str
    description: str
    params_json_schema: dict
    on_invoke_tool: Callable[[Any, str], Awaitable[Any]]


class IntegrationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.srv = serve()
        cls.admin = AgentTrustClient(cls.srv.url, cls.srv.admin_key)

    def test_langchain_tool(self) -> None:
        client = AgentTrustClient(self.srv.url, self.srv.admin_key)
        checks: List[dict] = []
        check = client.actions.check
        client.actions.check = lambda **kw: checks.append(kw) or check(**kw)  # type: ignore[method-assign]
        tool = guard_langchain_tool(StandInBaseTool("payments.charge", charge), client)
        with identity(agent_id="lc-bot"):
            self.assertEqual(tool.invoke({"amount": 5}), "charged 5")
            self.assertEqual(tool.invoke({"type": "tool_call", "name": "payments.charge", "args": {"amount": 7}, "id": "c1"}), "charged 7")
            self.assertEqual(asyncio.run(tool.ainvoke({"amount": 9})), "charged 9")
            with self.assertRaises(PermissionError):
                tool.invoke({"amount": 500})  # needs approval
            with self.assertRaises(PermissionError):
                asyncio.run(tool.ainvoke({"amount": 500}))
            self.assertEqual(tool.run({"amount": 1}), "charged 1")
        self.assertEqual(tool.calls, [{"amount": 5}, {"amount": 7}, {"amount": 9}, {"amount": 1}])
        # invoke goes through run: one check per call, not two.
        self.assertEqual([c["attributes"]["amount"] for c in checks], [5, 7, 9, 500, 500, 1])

    def test_attack_langchain_checks_what_the_tool_receives(self) -> None:
        """The attributes checked are the arguments the tool runs with:
        BaseTool's own parsing of tool_input, never a ToolCall unwrapped at
        run level; a tool without that parsing given a ToolCall-shaped input
        is refused. Over 50 is held for approval (tests/policy.yaml)."""
        held = lambda seen: ("held", seen)  # noqa: E731
        ran = lambda seen: ("ran", seen)  # noqa: E731
        refused = ("refused", None)
        cases: List[Tuple[str, Callable[[], Any], Callable[[Any], Any], Tuple[str, Any]]] = [
            ("ToolCall-shaped args through invoke", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: t.invoke(tool_call(SHAPED)), held({"amount": 5000})),
            ("ToolCall-shaped args through ainvoke", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: asyncio.run(t.ainvoke(tool_call(SHAPED))), held({"amount": 5000})),
            ("ToolCall-shaped tool_input to run", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: t.run(SHAPED), held({"amount": 5000})),
            ("ToolCall-shaped tool_input to arun", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: asyncio.run(t.arun(SHAPED)), held({"amount": 5000})),
            ("an amount the schema coerces from a string", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: t.invoke(tool_call({"amount": "5000"})), held({"amount": 5000})),
            ("members the schema drops", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: t.invoke(tool_call({"amount": 5, "note": "x"})), ran({"amount": 5})),
            ("ToolCall-shaped input to a tool without BaseTool's parsing", lambda: StandInRunnable("payments.charge"),
             lambda t: t.run(SHAPED), refused),
            ("control: a plain call", lambda: StandInBaseTool("payments.charge", charge),
             lambda t: t.invoke(tool_call({"amount": 5})), ran({"amount": 5})),
            ("control: a plain input to a tool without BaseTool's parsing", lambda: StandInRunnable("payments.charge"),
             lambda t: t.run({"amount": 5}), ran({"amount": 5})),
        ]
        for name, make, call, (want, seen) in cases:
            with self.subTest(case=name):
                client = AgentTrustClient(self.srv.url, self.srv.admin_key)
                self.addCleanup(client.close)
                checked: List[Any] = []
                check = client.actions.check
                client.actions.check = lambda **kw: checked.append(kw["attributes"]) or check(**kw)  # type: ignore[method-assign]
                tool = guard_langchain_tool(make(), client)
                got = "ran"
                with identity(agent_id="lc-bot"):
                    try:
                        call(tool)
                    except PermissionError:
                        got = "held"
                    except AgentTrustError:
                        got = "refused"
                self.assertEqual(got, want, "checked %r, the tool got %r" % (checked, tool.calls))
                self.assertEqual(tool.calls, [seen] if want == "ran" else [])
                self.assertEqual(checked, [] if want == "refused" else [seen])

    def test_langchain_parsers_of_every_shape(self) -> None:
        """Older langchain_core's parsers take tool_input alone; a tool that
        only has _parse_input is checked with its result; a pydantic model
        among the parsed arguments is checked as its JSON; a tool that would
        run with several positional arguments is refused."""

        class Item:
            def __init__(self, amount: int) -> None:
                self.amount = amount

            def model_dump(self, mode: str = "python") -> Dict[str, Any]:
                return {"amount": self.amount}

        class Old(StandInRunnable):
            def _to_args_and_kwargs(self, tool_input: Any) -> Tuple[tuple, dict]:
                return (), {"amount": int(tool_input["amount"]), "items": [Item(1)]}

        class ParseOnly(StandInRunnable):
            def _parse_input(self, tool_input: Any, tool_call_id: Any) -> Any:
                return {"amount": int(tool_input["amount"])}

        class Positional(StandInRunnable):
            def _to_args_and_kwargs(self, tool_input: Any, tool_call_id: Any) -> Tuple[tuple, dict]:
                return (1, 2), {}

        client = AgentTrustClient(self.srv.url, self.srv.admin_key)
        self.addCleanup(client.close)
        checked: List[Any] = []
        check = client.actions.check
        client.actions.check = lambda **kw: checked.append(kw["attributes"]) or check(**kw)  # type: ignore[method-assign]
        with identity(agent_id="lc-bot"):
            self.assertEqual(guard_langchain_tool(Old("payments.charge"), client).run({"amount": "7"}), "ran")
            self.assertEqual(guard_langchain_tool(ParseOnly("payments.charge"), client).run(SHAPED | {"amount": "6"}), "ran")
            positional = guard_langchain_tool(Positional("payments.charge"), client)
            with self.assertRaises(AgentTrustError):
                positional.run({"amount": 1})
        self.assertEqual(checked, [{"amount": 7, "items": [{"amount": 1}]}, {"amount": 6}])
        self.assertEqual(positional.calls, [])

    def test_langchain_deny_message(self) -> None:
        tool = guard_langchain_tool(
            StandInBaseTool("email.send", lambda to: "sent"), deny_message=lambda d: "refused: " + d.reason
        )
        with identity(agent_id="agent-123", client=self.admin):
            self.assertEqual(tool.invoke("x@example.com"), "refused: denied by policy")
        with identity(agent_id="mailer", client=self.admin):
            self.assertEqual(tool.invoke("x@example.com"), "sent")
        self.assertEqual(tool.calls, ["x@example.com"])

    def test_openai_agents_tool(self) -> None:
        calls: List[str] = []

        async def invoke(ctx: Any, input_json: str) -> str:
            calls.append(input_json)
            return "charged %d" % json.loads(input_json)["amount"]

        tool = guard_openai_agents_tool(
            StandInFunctionTool("payments.charge", "Charge", {"type": "object"}, invoke), self.admin
        )

        async def main() -> None:
            with identity(agent_id="oa-bot"):
                self.assertEqual(await tool.on_invoke_tool(None, '{"amount": 3}'), "charged 3")
                with self.assertRaises(PermissionError):
                    await tool.on_invoke_tool(None, '{"amount": 300}')
                for bad in ("[1]", "{", '"x"'):
                    with self.assertRaises(AgentTrustError):
                        await tool.on_invoke_tool(None, bad)

        asyncio.run(main())
        self.assertEqual(calls, ['{"amount": 3}'])

    def test_openai_deny_message_and_no_server(self) -> None:
        async def invoke(ctx: Any, input_json: str) -> str:
            raise AssertionError("ran")

        down = AgentTrustClient("http://127.0.0.1:9", "atk_x", timeout=0.5, retries=0)
        t1 = guard_openai_agents_tool(StandInFunctionTool("email.send", "", {}, invoke), self.admin, deny_message=lambda d: "no: " + d.rule_id)
        t2 = guard_openai_agents_tool(StandInFunctionTool("email.send", "", {}, invoke), down, deny_message=lambda d: "no")

        async def main() -> None:
            with identity(agent_id="agent-123"):
                self.assertEqual(await t1.on_invoke_tool(None, "{}"), "no: no-email-for-agent-123")
                # deny_message is for decisions; a failure still raises.
                with self.assertRaises(AgentTrustError):
                    await t2.on_invoke_tool(None, "{}")

        asyncio.run(main())

    def test_tools_without_the_shape_are_refused(self) -> None:
        with self.assertRaises(AgentTrustError):
            guard_langchain_tool(object(), self.admin)
        with self.assertRaises(AgentTrustError):
            guard_openai_agents_tool(StandInFunctionTool("x", "", {}, None), self.admin)  # type: ignore[arg-type]
        self.assertIsInstance(DeniedError.__mro__, tuple)


if __name__ == "__main__":
    unittest.main()
