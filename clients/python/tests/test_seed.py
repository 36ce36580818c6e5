"""The AgentTrust ID write-up's Python call, as written, against serve.

SEED is the write-up's snippet verbatim but for its import line. The
README's Python section shows the same text (readme_test keeps the two
alike). Its base_url and api_key are placeholders for the reader's own
server and key; run_seed puts this test server's in their place and
changes nothing else.
"""

from __future__ import annotations

import unittest

from tests.serve import serve

SEED = '''\
from agenttrust import AgentTrustClient

client = AgentTrustClient(
    base_url="https://your-agenttrust-endpoint.example",
    api_key="sk_live_...",
)

# Ask before the agent acts — not just whether the caller is authenticated,
# but whether THIS action should happen right now.
decision = client.actions.check(
    agent_id="agent-123",
    tool_name="email.send",
    session_id="session-abc",
)

if not decision.allowed:
    raise PermissionError(decision.reason)

send_email(...)  # only runs if the action was authorized
'''

URL_PLACEHOLDER = '"https://your-agenttrust-endpoint.example"'
KEY_PLACEHOLDER = '"sk_live_..."'


def run_seed(code: str, url: str, key: str) -> list:
    """Run code with url and key in place of the placeholders; return the
    arguments send_email was called with, one entry per call."""
    assert code.count(URL_PLACEHOLDER) == 1 and code.count(KEY_PLACEHOLDER) == 1
    code = code.replace(URL_PLACEHOLDER, repr(url)).replace(KEY_PLACEHOLDER, repr(key))
    sent: list = []
    exec(compile(code, "seed.py", "exec"), {"send_email": lambda *a: sent.append(a), "__name__": "seed"})
    return sent


class SeedSnippetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.srv = serve()
        from agenttrust import AgentTrustClient

        with AgentTrustClient(cls.srv.url, cls.srv.admin_key) as admin:
            cls.agent_key = admin.keys.create("agent-123").secret

    def test_the_seed_imports_only_agenttrust(self) -> None:
        self.assertTrue(SEED.startswith("from agenttrust import AgentTrustClient\n"))
        self.assertNotIn("agenttrustid", SEED)

    def test_deny_raises_permission_error_with_an_agent_key(self) -> None:
        with self.assertRaises(PermissionError) as cm:
            run_seed(SEED, self.srv.url, self.agent_key)
        # The snippet's own raise, with the server's reason: a decision
        # arrived and said deny (not a failure dressed as one).
        self.assertIs(type(cm.exception), PermissionError)
        self.assertEqual(str(cm.exception), "denied by policy")

    def test_deny_raises_permission_error_with_an_admin_key(self) -> None:
        with self.assertRaises(PermissionError) as cm:
            run_seed(SEED, self.srv.url, self.srv.admin_key)
        self.assertIs(type(cm.exception), PermissionError)
        self.assertEqual(str(cm.exception), "denied by policy")

    def test_allow_runs_send_email(self) -> None:
        # The same code on a tool the policy allows reaches send_email, so
        # the deny above is the policy's and not the snippet failing.
        sent = run_seed(SEED.replace('"email.send"', '"docs.read"'), self.srv.url, self.agent_key)
        self.assertEqual(sent, [(Ellipsis,)])

    def test_server_down_never_sends(self) -> None:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        from agenttrust import AgentTrustError

        with self.assertRaises(AgentTrustError):
            run_seed(SEED, "http://127.0.0.1:%d" % port, self.agent_key)


if __name__ == "__main__":
    unittest.main()
