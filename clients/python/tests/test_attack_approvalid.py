"""Attack: a credential echoed as a needs-approval's approval id."""

from __future__ import annotations

import json
import socket
import unittest
from typing import Any, List

from agenttrust import AgentTrustClient, AgentTrustError, ApprovalRequiredError, ProtocolError, guard, identity
from tests.fake import Behavior, Fake, good_decision, response

TIMEOUT = 0.5


class ApprovalIDEchoTest(unittest.TestCase):
    def test_attack_a_credential_as_the_approval_id(self) -> None:
        # ApprovalRequiredError quotes the approval id ("(approval <id>)"),
        # keeps it as .approval_id, and str(error) is what LangGraph's
        # ToolNode hands the model. A hostile endpoint, or one reflecting
        # the request, answered needs_approval with the bearer API key or
        # the presented credential as the approval id, and any non-empty id
        # was taken. An approval id must now be one (apr_..., nothing a
        # credential redactor takes out), else the answer is malformed.
        keys = {"an agenttrust key": "atk_" + "Zq3" * 12, "an opaque key": "gw-9f8e7d6c5b4a39281706f5e4d3c2b1a0"}
        presented = "att_" + "AgEEdGVzdA" * 5

        def held(approval_id: str) -> Behavior:
            def b(conn: socket.socket, req: bytes) -> None:
                d = good_decision(allowed=False, effect="needs_approval", reason="held", approval_id=approval_id)
                conn.sendall(response(200, json.dumps(d).encode()))

            return b

        for kname, key in keys.items():
            cases = {
                "the key as the approval id": (key, ProtocolError),
                "the presented credential as the approval id": (presented, ProtocolError),
                "the key inside an apr_ id": ("apr_" + key, ProtocolError),
                "an id that is not an approval's": ("approval-7", ProtocolError),
                "control: an approval id": ("apr_0123456789abcdef", ApprovalRequiredError),
            }
            for name, (approval_id, want) in cases.items():
                with self.subTest(key=kname, case=name):
                    f = Fake(held(approval_id))
                    self.addCleanup(f.close)
                    c = AgentTrustClient(f.url, key, timeout=TIMEOUT, retries=0, sleep=lambda s: None)
                    self.addCleanup(c.close)
                    ran: List[int] = []

                    @guard("email.send", client=c)
                    def send_email() -> None:
                        ran.append(1)

                    with identity(agent_id="agent-1", credential=presented), self.assertRaises(AgentTrustError) as cm:
                        send_email()
                    self.assertEqual(ran, [])
                    e: Any = cm.exception
                    self.assertIsInstance(e, want, "raised %r" % (e,))
                    text = " ".join([str(e), repr(e), getattr(e, "approval_id", ""), repr(getattr(e, "decision", ""))])
                    for secret in (key, presented):
                        self.assertNotIn(secret[:12], text, "a credential's start is in the error")
                    if want is ApprovalRequiredError:
                        self.assertIn(approval_id, str(e))


if __name__ == "__main__":
    unittest.main()
