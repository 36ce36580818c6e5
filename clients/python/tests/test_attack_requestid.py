"""Attack: a credential echoed into an answer's X-Request-Id."""

from __future__ import annotations

import json
import socket
import unittest
from typing import Any, List

from agenttrust import AgentTrustClient, AgentTrustError, InvalidRequestError, guard, identity
from tests.fake import Behavior, Fake, good_decision, response

TIMEOUT = 0.5


class RequestIDEchoTest(unittest.TestCase):
    def test_attack_a_credential_echoed_into_the_request_id(self) -> None:
        # The client keeps an answer's X-Request-Id (naming the call in the
        # server's log) in its errors and decisions, and repr(decision) and
        # e.request_id go to logs. It took any id of the header's
        # characters, and an API key or token is made of those: an answer
        # naming the bearer or the presented credential as its request id
        # put the credential into the error and the decision. Such an id
        # is now dropped; an ordinary one is kept.
        key = "atk_" + "Zq3" * 12
        presented = "att_" + "AgEEdGVzdA" * 5

        def answer(status: int, rid: str) -> Behavior:
            def b(conn: socket.socket, req: bytes) -> None:
                if status == 200:
                    body = good_decision(allowed=False, effect="deny", reason="no")
                else:
                    body = {"error": {"code": "bad", "message": "bad"}}
                conn.sendall(response(status, json.dumps(body).encode(), headers="X-Request-Id: %s\r\n" % rid))

            return b

        cases = {
            "an error naming the key": (400, key, ""),
            "an error naming the presented credential": (400, presented, ""),
            "a deny naming the key": (200, key, ""),
            "a deny naming the presented credential": (200, presented, ""),
            "control: an error naming an ordinary id": (400, "req-7", "req-7"),
            "control: a deny naming an ordinary id": (200, "req-8", "req-8"),
        }
        for name, (status, rid, want) in cases.items():
            with self.subTest(case=name):
                f = Fake(answer(status, rid))
                self.addCleanup(f.close)
                c = AgentTrustClient(f.url, key, timeout=TIMEOUT, retries=0, sleep=lambda s: None)
                self.addCleanup(c.close)
                texts: List[str] = []
                try:
                    d = c.actions.check(agent_id="agent-1", tool_name="email.send", credential=presented)
                    self.assertFalse(d.allowed)
                    got = d.request_id
                    texts.append(repr(d))
                except InvalidRequestError as e:
                    got = e.request_id
                    texts += [str(e), repr(e), e.request_id]
                ran: List[int] = []

                @guard("email.send", client=c)
                def send_email() -> None:
                    ran.append(1)

                with identity(agent_id="agent-1", credential=presented), self.assertRaises(AgentTrustError) as cm:
                    send_email()
                self.assertEqual(ran, [])
                e: Any = cm.exception
                texts += [str(e), repr(e), e.request_id, repr(getattr(e, "decision", ""))]
                text = " ".join(texts)
                for secret in (key, presented):
                    self.assertNotIn(secret[:12], text, "a credential's start is in the error or decision")
                self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
