"""The framework hooks, with stand-ins shaped as LangChain's BaseTool and
the OpenAI Agents SDK's FunctionTool (neither package is installed)."""

from __future__ import annotations

import asyncio
import json
import unittest
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, List

from agenttrust import AgentTrustClient, AgentTrustError, DeniedError, identity
from agenttrust.integrations import guard_langchain_tool, guard_openai_agents_tool
from tests.serve import serve


class StandInBaseTool:
    """LangChain's BaseTool as its callers see it: a pydantic model whose
    __setattr__ refuses unknown names, run/arun taking tool_input (str or
    dict), invoke/ainvoke going through them."""

    def __init__(self, name: str, func: Callable[..., Any]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "func", func)
        object.__setattr__(self, "calls", [])

    def __setattr__(self, key: str, value: Any) -> None:
        raise ValueError('"StandInBaseTool" object has no field "%s"' % key)

    def _run(self, tool_input: Any) -> Any:
        self.calls.append(tool_input)
        return self.func(**tool_input) if isinstance(tool_input, dict) else self.func(tool_input)

    def run(self, tool_input: Any, verbose: bool = False, **kwargs: Any) -> Any:
        return self._run(tool_input)

    async def arun(self, tool_input: Any, **kwargs: Any) -> Any:
        # BaseTool.arun calls _arun, by default _run in an executor; not run.
        return await asyncio.get_running_loop().run_in_executor(None, self._run, tool_input)

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if isinstance(input, dict) and input.get("type") == "tool_call":
            input = input["args"]
        return self.run(input, **kwargs)

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        if isinstance(input, dict) and input.get("type") == "tool_call":
            input = input["args"]
        return await self.arun(input, **kwargs)


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
        tool = guard_langchain_tool(StandInBaseTool("payments.charge", lambda amount: "charged %d" % amount), client)
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
