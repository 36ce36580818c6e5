"""Attack: a credential echoed into the parts of an error other than its
message (the error code, a deny's error and reason)."""

from __future__ import annotations

import json
import socket
import unittest
from typing import Any, Dict, List, Tuple, Type

from agenttrust import (
    AgentTrustClient,
    AgentTrustError,
    AuthError,
    DeniedError,
    InvalidRequestError,
    ServerError,
    guard,
    identity,
)
from tests.fake import Behavior, Fake, good_decision, response

TIMEOUT = 0.5


class ErrorCodeEchoTest(unittest.TestCase):
    def test_attack_a_credential_echoed_into_an_error_code(self) -> None:
        # A proxy, an echo service or a hostile endpoint reflects the
        # request into the error's code, or into a deny's error or reason,
        # rather than its message. str(error), which LangGraph's ToolNode
        # hands to the model, printed the code as sent ("(<code>, HTTP
        # 400)"), and a deny's error and reason went into DeniedError
        # without the bearer or the presented credential taken out. Keys
        # of any shape are the client's to keep: an opaque gateway key is
        # not caught by the agenttrust credential pattern.
        keys = {
            "an agenttrust key": "atk_" + "Zq3" * 12,
            "an opaque key": "gw-9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        }
        presented = "att_" + "AgEEdGVzdA" * 5

        def echo_code(status: int, headers: str = "") -> Behavior:
            def b(conn: socket.socket, req: bytes) -> None:
                body = {"error": {"code": "you sent: " + req.decode("latin-1"), "message": "bad"}}
                conn.sendall(response(status, json.dumps(body).encode(), headers=headers))

            return b

        def deny(field: str) -> Behavior:
            def b(conn: socket.socket, req: bytes) -> None:
                d = good_decision(allowed=False, effect="deny", error="unauthenticated", reason="denied")
                d[field] = "you sent: " + req.decode("latin-1")
                conn.sendall(response(200, json.dumps(d).encode()))

            return b

        cases: Dict[str, Tuple[Behavior, Type[AgentTrustError]]] = {
            "400 echoing the request in its code": (echo_code(400), InvalidRequestError),
            "401 echoing the request in its code": (echo_code(401), AuthError),
            "500 echoing the request in its code": (echo_code(500), ServerError),
            "503 echoing the request in its code, retried": (echo_code(503, "Retry-After: 0\r\n"), ServerError),
            "a deny echoing the request in its error": (deny("error"), DeniedError),
            "a deny echoing the request in its reason": (deny("reason"), DeniedError),
        }
        for kname, key in keys.items():
            for name, (behavior, want) in cases.items():
                with self.subTest(key=kname, case=name):
                    f = Fake(behavior)
                    self.addCleanup(f.close)
                    c = AgentTrustClient(f.url, key, timeout=TIMEOUT, retries=1, sleep=lambda s: None)
                    self.addCleanup(c.close)
                    ran: List[int] = []

                    @guard("email.send", client=c)
                    def send_email() -> None:
                        ran.append(1)

                    with identity(agent_id="agent-1", credential=presented), self.assertRaises(want) as cm:
                        send_email()
                    self.assertEqual(ran, [])
                    e: Any = cm.exception
                    parts = [str(e), repr(e), e.message, e.code]
                    if isinstance(e, DeniedError):
                        parts += [e.decision.reason, e.decision.error or "", repr(e.decision)]
                    text = " ".join(parts)
                    for secret in (key, presented):
                        self.assertNotIn(secret[:12], text, "a credential's start is in the error")
                    self.assertIn("you sent", text)


if __name__ == "__main__":
    unittest.main()
