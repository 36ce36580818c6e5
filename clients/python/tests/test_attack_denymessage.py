"""Attack: a deny_message that returns None."""

from __future__ import annotations

import asyncio
import json
import unittest
from typing import Any, Callable, List

from agenttrust import AgentTrustClient, AgentTrustError
from agenttrust.integrations import guard_langchain_tool, guard_openai_agents_tool
from tests.fake import Fake, good_decision, json_answer
from tests.test_integrations import StandInBaseTool, StandInFunctionTool

TIMEOUT = 0.5


class DenyMessageNoneTest(unittest.TestCase):
    def test_attack_a_deny_message_returning_none_runs_the_tool(self) -> None:
        # deny_message turns a deny into text for the model instead of an
        # exception. The hooks told "run the tool" from "refused" by
        # whether that text was None, so a deny_message that returns
        # None (one that only logs, or misses a return on some path) ran
        # the tool on every deny and hold. A deny is now never a run: a
        # deny_message that gives no text raises the decision's error.
        deny = good_decision(allowed=False, effect="deny", reason="over the limit", agent_id="agent-1")
        held = good_decision(allowed=False, effect="needs_approval", reason="big", approval_id="apr_1", agent_id="agent-1")
        logged: List[str] = []

        def log_only(d: Any) -> Any:
            logged.append(d.reason)
            return None

        def lc(answer: dict, msg: Callable[[Any], Any], use_async: bool) -> Callable[[List[int]], Any]:
            def run(ran: List[int]) -> Any:
                f = Fake(json_answer(answer))
                self.addCleanup(f.close)
                c = AgentTrustClient(f.url, "atk_test", timeout=TIMEOUT, retries=0)
                self.addCleanup(c.close)
                t = guard_langchain_tool(StandInBaseTool("payments.charge", lambda amount: ran.append(amount) or "charged"), c, deny_message=msg)
                return asyncio.run(t.arun({"amount": 5})) if use_async else t.run({"amount": 5})

            return run

        def oa(answer: dict, msg: Callable[[Any], Any]) -> Callable[[List[int]], Any]:
            def run(ran: List[int]) -> Any:
                f = Fake(json_answer(answer))
                self.addCleanup(f.close)
                c = AgentTrustClient(f.url, "atk_test", timeout=TIMEOUT, retries=0)
                self.addCleanup(c.close)

                async def invoke(ctx: Any, input_json: str) -> Any:
                    ran.append(json.loads(input_json)["amount"])
                    return "charged"

                t = guard_openai_agents_tool(StandInFunctionTool("payments.charge", "", {}, invoke), c, deny_message=msg)
                return asyncio.run(t.on_invoke_tool(None, '{"amount": 5}'))

            return run

        cases = {
            "LangChain run, a deny": (lc(deny, log_only, False), None),
            "LangChain arun, a deny": (lc(deny, log_only, True), None),
            "LangChain run, a hold": (lc(held, log_only, False), None),
            "Agents SDK, a deny": (oa(deny, log_only), None),
            "control: LangChain run, a deny given text": (lc(deny, lambda d: "refused", False), "refused"),
            "control: Agents SDK, a deny given text": (oa(deny, lambda d: "refused"), "refused"),
        }
        for name, (call, want) in cases.items():
            with self.subTest(case=name):
                ran: List[int] = []
                if want is None:
                    with self.assertRaises(AgentTrustError):
                        got = call(ran)
                        self.fail("returned %r" % (got,))
                else:
                    self.assertEqual(call(ran), want)
                self.assertEqual(ran, [], "the tool ran on a deny")
        self.assertTrue(logged)


if __name__ == "__main__":
    unittest.main()
