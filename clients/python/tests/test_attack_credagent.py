"""Attack: an allow about another agent than the checked credential's."""

from __future__ import annotations

import base64
import json
import unittest

from agenttrust import AgentTrustClient, ProtocolError
from tests.fake import Fake, good_decision, json_answer

TIMEOUT = 0.5

# testdata/token_vectors.json: a token whose caveats say "agent = planner".
TOKEN = (
    "att_AgJFYXQxfHRva19seXk1NnZ5bzR4Z2liZHJnczZ1bTJwbHlucXxrZXlfZG5mdDZtenhsdXVxdXN1MjV2a3JnbWs1Mnl8bWsxAAIQdGVuYW"
    "50ID0gZGVmYXVsdAACD2FnZW50ID0gcGxhbm5lcgACHmV4cGlyZXMgPCAyMDI2LTExLTIyVDA1OjA1OjAwWgACEGlwIGluIDEwLjAuMC4wLzgAAAYg"
    "AC3cmtWXvQaIdggc3GEtMkpG2MnCNB80mJFCQ2dvxi0"
)


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# A JWT naming planner; the client reads it unverified, the server verifies it.
JWT = _b64({"alg": "HS256", "typ": "JWT"}) + "." + _b64({"sub": "planner", "aud": "agenttrust"}) + "." + "c2ln" * 11
KEY = "atk_" + "Zq3" * 12


class CredentialAgentTest(unittest.TestCase):
    def test_attack_allow_for_another_agent_than_the_credentials(self) -> None:
        # A check naming no agent is about the agent its credential names
        # (the presented one, else the client's own). The client compared
        # the answer's agent only with agent_id, so with none given it took
        # an allow a cache, a replaying proxy or a hostile endpoint gave
        # mallory as the allow of a check of planner's token or JWT.
        cases = {
            "presented token, allow for mallory": (KEY, TOKEN, "mallory", True, False),
            "presented JWT, allow for mallory": (KEY, JWT, "mallory", True, False),
            "own token, allow for mallory": (TOKEN, None, "mallory", True, False),
            "own JWT, allow for mallory": (JWT, None, "mallory", True, False),
            "control: presented token, allow for planner": (KEY, TOKEN, "planner", True, True),
            "control: own JWT, allow for planner": (JWT, None, "planner", True, True),
            "control: own token, deny for mallory": (TOKEN, None, "mallory", False, True),
            "control: own API key, allow for anyone": (KEY, None, "mallory", True, True),
        }
        for name, (own, presented, agent, allowed, ok) in cases.items():
            with self.subTest(case=name):
                effect = "allow" if allowed else "deny"
                f = Fake(json_answer(good_decision(allowed=allowed, effect=effect, agent_id=agent)))
                self.addCleanup(f.close)
                c = AgentTrustClient(f.url, own, timeout=TIMEOUT, retries=0, sleep=lambda s: None)
                self.addCleanup(c.close)
                if ok:
                    d = c.actions.check(tool_name="email.send", credential=presented)
                    self.assertEqual(d.allowed, allowed)
                else:
                    with self.assertRaises(ProtocolError):
                        c.actions.check(tool_name="email.send", credential=presented)


if __name__ == "__main__":
    unittest.main()
