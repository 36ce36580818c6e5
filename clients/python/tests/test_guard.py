"""@guard and identity() against a real serve."""

from __future__ import annotations

import asyncio
import threading
import time
import unittest
from typing import List

from agenttrust import (
    AgentTrustClient,
    AgentTrustError,
    ApprovalRequiredError,
    DeniedError,
    InvalidRequestError,
    current_identity,
    guard,
    identity,
)
from tests.serve import serve


class GuardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.srv = serve()
        cls.admin = AgentTrustClient(cls.srv.url, cls.srv.admin_key)

    def test_sync_guard(self) -> None:
        ran: List[str] = []

        @guard("email.send", client=self.admin)
        def send_email(to: str) -> str:
            ran.append(to)
            return "sent"

        self.assertEqual(send_email.__name__, "send_email")
        with identity(agent_id="mailer"):
            self.assertEqual(send_email("a@example.com"), "sent")
        with identity(agent_id="agent-123"), self.assertRaises(DeniedError) as cm:
            send_email("b@example.com")
        self.assertIsInstance(cm.exception, PermissionError)
        self.assertEqual(cm.exception.decision.rule_id, "no-email-for-agent-123")
        self.assertEqual(ran, ["a@example.com"])

    def test_attributes_resource_and_approval(self) -> None:
        charged: List[int] = []

        @guard("payments.charge", attributes=["amount"], resource=lambda customer, amount: "cust:" + customer)
        def charge(customer: str, amount: int = 10) -> None:
            charged.append(amount)

        with identity(agent_id="billing", client=self.admin):
            charge("c1")
            charge("c1", amount=50)
            with self.assertRaises(ApprovalRequiredError) as cm:
                charge("c1", 51)
        self.assertIsInstance(cm.exception, PermissionError)
        self.assertTrue(cm.exception.approval_id.startswith("apr_"))
        self.assertEqual(self.admin.approvals.get(cm.exception.approval_id).resource, "cust:c1")
        self.assertEqual(charged, [10, 50])

    def test_guard_waits_for_approval_when_asked(self) -> None:
        charged: List[int] = []

        @guard("payments.charge", client=self.admin, attributes=lambda amount: {"amount": amount}, approval_timeout=20)
        def charge(amount: int) -> None:
            charged.append(amount)

        def approver() -> None:
            for _ in range(100):
                pending = self.admin.approvals.list(status="pending", agent_id="waiting-bot")
                if pending:
                    self.admin.approvals.approve(pending[0].id)
                    return
                time.sleep(0.05)

        t = threading.Thread(target=approver)
        t.start()
        with identity(agent_id="waiting-bot"):
            charge(500)
        t.join()
        self.assertEqual(charged, [500])

    def test_guard_refused_approval_is_a_deny(self) -> None:
        charged: List[int] = []

        @guard("payments.charge", client=self.admin, attributes=["amount"], approval_timeout=20)
        def charge(amount: int) -> None:
            charged.append(amount)

        def refuser() -> None:
            for _ in range(100):
                pending = self.admin.approvals.list(status="pending", agent_id="refused-bot")
                if pending:
                    self.admin.approvals.deny(pending[0].id, note="no")
                    return
                time.sleep(0.05)

        t = threading.Thread(target=refuser)
        t.start()
        with identity(agent_id="refused-bot"), self.assertRaises(DeniedError) as cm:
            charge(500)
        t.join()
        self.assertIn("denied by admin", str(cm.exception))
        self.assertEqual(charged, [])

    def test_async_guard_keeps_identity_per_task(self) -> None:
        ran: List[str] = []

        @guard("email.send", client=self.admin)
        async def send_email(to: str) -> str:
            await asyncio.sleep(0)
            ran.append(to)
            return to

        async def as_agent(agent: str, to: str) -> object:
            with identity(agent_id=agent):
                try:
                    return await send_email(to)
                except DeniedError as e:
                    return e

        async def main() -> list:
            return await asyncio.gather(as_agent("mailer", "ok@x"), as_agent("agent-123", "no@x"), as_agent("mailer", "ok2@x"))

        out = asyncio.run(main())
        self.assertEqual(out[0], "ok@x")
        self.assertIsInstance(out[1], DeniedError)
        self.assertEqual(out[2], "ok2@x")
        self.assertEqual(sorted(ran), ["ok2@x", "ok@x"])

    def test_identity_nests_and_stays_in_its_thread(self) -> None:
        self.assertIsNone(current_identity().agent_id)
        seen: List[object] = []
        with identity(agent_id="a", session_id="s", credential="att_secret"):
            self.assertNotIn("att_secret", repr(current_identity()))
            with identity(agent_id="b"):
                self.assertEqual((current_identity().agent_id, current_identity().session_id), ("b", "s"))
            self.assertEqual(current_identity().agent_id, "a")
            t = threading.Thread(target=lambda: seen.append(current_identity().agent_id))
            t.start()
            t.join()
        self.assertEqual(seen, [None])
        self.assertIsNone(current_identity().agent_id)

    def test_no_client_or_server_never_runs_the_body(self) -> None:
        ran: List[int] = []

        @guard("docs.read")
        def read() -> None:
            ran.append(1)

        with identity(agent_id="mailer"), self.assertRaises(AgentTrustError):
            read()
        down = AgentTrustClient("http://127.0.0.1:9", "atk_x", timeout=0.5, retries=0)
        with identity(agent_id="mailer", client=down), self.assertRaises(AgentTrustError):
            read()
        self.assertEqual(ran, [])


    def test_attack_resource_checked_in_another_form(self) -> None:
        # The server judges a resource in Unicode NFC, while the guarded
        # function opens the text it was given. A rule allows exactly
        # "docs/caf\u00e9.txt" (tests/policy.yaml); "docs/cafe\u0301.txt"
        # (NFD) is judged as that file and opened as another, on a file
        # system that tells the two apart. The guard refuses a resource not
        # in NFC, before any check; the NFC spelling runs as before.
        nfc, nfd = "docs/caf\u00e9.txt", "docs/cafe\u0301.txt"
        opened: List[str] = []

        @guard("files.read", client=self.admin, resource=lambda path: path)
        def read(path: str) -> None:
            opened.append(path)

        @guard("files.read", client=self.admin, resource=nfd)
        def read_constant() -> None:
            opened.append(nfd)

        @guard("files.read", client=self.admin, resource=lambda path: path)
        async def aread(path: str) -> None:
            opened.append(path)

        cases = {
            "resource of the arguments": lambda: read(nfd),
            "constant resource": read_constant,
            "async function": lambda: asyncio.run(aread(nfd)),
        }
        with identity(agent_id="reader"):
            for name, call in cases.items():
                with self.subTest(case=name):
                    with self.assertRaises(InvalidRequestError) as cm:
                        call()
                    self.assertIn("NFC", str(cm.exception))
                    self.assertEqual(opened, [], "the function ran on a resource the check judged in another form")
                opened.clear()
            read(nfc)
            asyncio.run(aread(nfc))
        self.assertEqual(opened, [nfc, nfc])

if __name__ == "__main__":
    unittest.main()
