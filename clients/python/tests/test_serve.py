"""The client against a real agenttrust serve."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
import unittest
import urllib.request
import uuid
from decimal import Decimal

from agenttrust import (
    AgentTrustClient,
    ApprovalTimeoutError,
    AuthError,
    ConflictError,
    Decision,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    RequestTimeoutError,
    TransportError,
    identity,
)
from agenttrust._transport import decode_json
from tests.fake import Fake
from tests.serve import serve


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


class ServeTest(unittest.TestCase):
    srv = None  # type: ignore[assignment]

    @classmethod
    def setUpClass(cls) -> None:
        cls.srv = serve()
        cls.admin = AgentTrustClient(cls.srv.url, cls.srv.admin_key)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.admin.close()

    def agent(self, agent_id: str, **kw) -> AgentTrustClient:
        key = self.admin.keys.create(agent_id, **kw).secret
        c = AgentTrustClient(self.srv.url, key)
        self.addCleanup(c.close)
        return c

    def test_check_allow_deny_and_needs_approval(self) -> None:
        d = self.admin.actions.check(agent_id="agent-123", tool_name="email.send", session_id="s-1")
        self.assertIsInstance(d, Decision)
        self.assertEqual((d.allowed, d.effect, d.rule_id, d.reason), (False, "deny", "no-email-for-agent-123", "denied by policy"))
        self.assertEqual(d.agent_id, "agent-123")
        uuid.UUID(d.decision_id)
        self.assertTrue(d.request_id)
        d = self.admin.actions.check(agent_id="mailer", tool_name="email.send")
        self.assertEqual((d.allowed, d.effect, d.rule_id), (True, "allow", "mailer-sends"))
        d = self.admin.actions.check(agent_id="a1", tool_name="payments.charge", attributes={"amount": 10})
        self.assertTrue(d.allowed)
        d = self.admin.actions.check(agent_id="a1", tool_name="payments.charge", attributes={"amount": 500}, resource="cust-1")
        self.assertEqual((d.allowed, d.effect), (False, "needs_approval"))
        self.assertTrue(d.approval_id.startswith("apr_"))
        self.assertTrue(d.needs_approval)
        d = self.admin.actions.check(agent_id="a1", tool_name="unknown.tool")
        self.assertFalse(d.allowed)

    def test_agent_key_checks_itself_and_identity_fills_in(self) -> None:
        c = self.agent("agent-123")
        d = c.actions.check(tool_name="email.send")
        self.assertEqual((d.effect, d.agent_id), ("deny", "agent-123"))
        with self.assertRaises(ForbiddenError):
            c.actions.check(agent_id="mailer", tool_name="email.send")
        with identity(agent_id="mailer", session_id="s-9"):
            d = self.admin.actions.check(tool_name="email.send")
            self.assertEqual((d.allowed, d.agent_id), (True, "mailer"))
            with identity(agent_id="agent-123"):
                self.assertFalse(self.admin.actions.check(tool_name="email.send").allowed)
            self.assertTrue(self.admin.actions.check(tool_name="email.send").allowed)

    def test_check_with_a_credential_and_its_error(self) -> None:
        key = self.admin.keys.create("mailer").secret
        d = self.admin.actions.check(tool_name="email.send", credential=key)
        self.assertTrue(d.allowed)
        d = self.admin.actions.check(agent_id="mailer", tool_name="email.send", credential="att_garbage")
        self.assertFalse(d.allowed)
        self.assertEqual(d.effect, "deny")
        self.assertTrue(d.error)

    def test_approval_wait_approve_and_recheck(self) -> None:
        agent_id = unique("payer")
        c = self.agent(agent_id)
        d = c.actions.check(tool_name="payments.charge", attributes={"amount": 75})
        self.assertEqual(d.effect, "needs_approval")
        pending = self.admin.approvals.list(status="pending", agent_id=agent_id)
        self.assertEqual([a.id for a in pending], [d.approval_id])
        self.assertEqual(pending[0].attributes, {"amount": 75})
        with self.assertRaises(ApprovalTimeoutError) as cm:
            c.approvals.wait(d.approval_id, 0.2)
        self.assertEqual(cm.exception.approval.status, "pending")

        def approve() -> None:
            time.sleep(0.3)
            self.admin.approvals.approve(d.approval_id, note="fine")

        t = threading.Thread(target=approve)
        t.start()
        a = c.approvals.wait(d.approval_id, 20)
        t.join()
        self.assertEqual((a.status, a.note, a.decided_by), ("approved", "fine", "admin"))
        again = c.actions.check(tool_name="payments.charge", attributes={"amount": 75})
        self.assertTrue(again.allowed)
        self.assertEqual(again.approval_id, d.approval_id)
        self.assertEqual(c.approvals.get(d.approval_id).status, "consumed")
        with self.assertRaises(ConflictError):
            self.admin.approvals.deny(d.approval_id)

    def test_attack_approval_shows_the_numbers_sent(self) -> None:
        # An approver must see the number the grant binds: the server keeps
        # each attribute number as its text, and a float would show
        # 0.10000000000000001 as 0.1 and 1e400 as inf.
        agent_id = unique("payer")
        key = self.admin.keys.create(agent_id).secret
        body = (b'{"tool_name":"payments.charge","attributes":{"amount":75,'
                b'"rate":0.10000000000000001,"small":0.25,"id":12345678901234567890}}')
        req = urllib.request.Request(self.srv.url + "/v1/actions/check", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            d = json.loads(resp.read())
        self.assertEqual(d["effect"], "needs_approval")
        for a in (self.admin.approvals.get(d["approval_id"]),
                  self.admin.approvals.list(status="pending", agent_id=agent_id)[0]):
            attrs = a.attributes
            self.assertEqual(attrs["rate"], Decimal("0.10000000000000001"))
            self.assertEqual((attrs["small"], type(attrs["small"])), (0.25, float))
            self.assertEqual((attrs["id"], type(attrs["id"])), (12345678901234567890, int))
        # What a float would overflow or round, from any answer.
        got = decode_json(b'[1e400, -1e400, 0.10000000000000001, 1e-400, 0.5, 1e300]')
        self.assertEqual(got, [Decimal("1e400"), Decimal("-1e400"), Decimal("0.10000000000000001"), Decimal("1e-400"), 0.5, 1e300])
        self.assertEqual([type(v) for v in got[4:]], [float, float])

    def test_approval_deny(self) -> None:
        d = self.admin.actions.check(agent_id=unique("payer"), tool_name="payments.charge", attributes={"amount": 99})
        a = self.admin.approvals.deny(d.approval_id, note="no")
        self.assertEqual(a.status, "denied")
        self.assertEqual(self.admin.approvals.wait(d.approval_id, 5).status, "denied")
        with self.assertRaises(NotFoundError):
            self.admin.approvals.get("apr_" + "a" * 26)

    def test_tokens_exchange_delegate_inspect_revoke(self) -> None:
        agent_id = unique("reader")
        c = self.agent(agent_id)
        tok = c.tokens.exchange()
        self.assertEqual(tok.format, "macaroon")
        self.assertTrue(tok.token.startswith("att_"))
        self.assertNotIn(tok.token, repr(tok))
        jwt = c.tokens.exchange(format="jwt", audience="http://127.0.0.1")
        self.assertEqual(jwt.format, "jwt")
        narrow = c.tokens.delegate(tok.token, ttl_seconds=60, caveats=["tool in docs.read"])
        self.assertEqual(narrow.hop.agent_id, agent_id)
        self.assertIn("tool in docs.read", narrow.hop.caveats)
        info = c.tokens.inspect(narrow.token)
        self.assertEqual(info.agent_id, agent_id)
        self.assertIn(narrow.hop.id, info.hop_ids)
        worker = AgentTrustClient(self.srv.url, narrow.token)
        self.assertTrue(worker.actions.check(tool_name="docs.read").allowed)
        with self.assertRaises(ForbiddenError):
            # The hop's caveat binds: a check outside it is refused.
            worker.actions.check(tool_name="payments.charge", attributes={"amount": 1}, credential=tok.token)
        self.assertEqual(self.admin.actions.check(tool_name="docs.read", credential=narrow.token).effect, "allow")
        self.admin.revoke(narrow.hop.id)
        d = self.admin.actions.check(agent_id=agent_id, tool_name="docs.read", credential=narrow.token)
        self.assertFalse(d.allowed)
        self.assertEqual(d.error, "revoked")
        with self.assertRaises(AuthError):
            worker.actions.check(tool_name="docs.read")
        # The parent token is untouched by the hop's revocation.
        self.assertTrue(self.admin.actions.check(tool_name="docs.read", credential=tok.token).allowed)

    def test_suspend_and_resume(self) -> None:
        agent_id = unique("worker")
        c = self.agent(agent_id)
        self.assertTrue(c.actions.check(tool_name="docs.read").allowed)
        self.admin.agents.suspend(agent_id, reason="looks wrong")
        self.admin.agents.suspend(agent_id)  # repeating is harmless
        with self.assertRaises(AuthError) as cm:
            c.actions.check(tool_name="docs.read")
        self.assertEqual(cm.exception.code, "suspended")
        self.assertFalse(self.admin.actions.check(agent_id=agent_id, tool_name="docs.read").allowed)
        self.admin.agents.resume(agent_id)
        self.assertTrue(c.actions.check(tool_name="docs.read").allowed)
        with self.assertRaises(NotFoundError):
            self.admin.agents.resume(agent_id)

    def test_roles_and_bad_keys(self) -> None:
        c = self.agent(unique("plain"))
        with self.assertRaises(ForbiddenError):
            c.keys.create("someone")
        with self.assertRaises(ForbiddenError):
            c.revoke("agent-x")
        bad = AgentTrustClient(self.srv.url, "atk_notavalidkey")
        with self.assertRaises(AuthError) as cm:
            bad.actions.check(agent_id="mailer", tool_name="email.send")
        self.assertEqual(cm.exception.status, 401)
        with self.assertRaises(InvalidRequestError):
            self.admin.actions.check(tool_name="docs.read")  # an admin must name the agent
        self.assertEqual(self.admin.whoami().roles, ["admin"])

    def test_closed_client_refuses(self) -> None:
        c = AgentTrustClient(self.srv.url, self.srv.admin_key)
        with c:
            self.assertTrue(c.actions.check(agent_id="mailer", tool_name="email.send").allowed)
        with self.assertRaises(TransportError):
            c.actions.check(agent_id="mailer", tool_name="email.send")

    def test_inputs_refused_before_sending(self) -> None:
        for kw in (
            dict(tool_name=""), dict(tool_name=None), dict(tool_name="x", attributes={"n": float("nan")}),
            dict(tool_name="x", attributes={"f": object()}), dict(tool_name="x", attributes={1: 2}),
            dict(tool_name="x", agent_id=5), dict(tool_name="x", credential="a b"),
        ):
            with self.subTest(kw=kw), self.assertRaises(InvalidRequestError):
                self.admin.actions.check(**kw)
        for url in ("ftp://x", "http://example.com", "https://u:p@h", "https://h/?q=1", "nohost", "https://h:99999"):
            with self.subTest(url=url), self.assertRaises(InvalidRequestError):
                AgentTrustClient(url, "atk_x")
        for key in ("", "a b", "k\n", None):
            with self.subTest(key=key), self.assertRaises(InvalidRequestError):
                AgentTrustClient("https://h", key)  # type: ignore[arg-type]
        self.assertNotIn(self.srv.admin_key, repr(self.admin))


if __name__ == "__main__":
    unittest.main()


class TLSTest(unittest.TestCase):
    """HTTPS to serve --tls-cert, and a TLS server that goes silent."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.srv = serve(tls=True)
        cls.trust = ssl.create_default_context(cafile=cls.srv.cert)

    def test_check_over_https(self) -> None:
        self.assertTrue(self.srv.url.startswith("https://"))
        port = self.srv.url.rsplit(":", 1)[1]
        for url in (self.srv.url, "https://localhost:" + port):
            with self.subTest(url=url), AgentTrustClient(url, self.srv.admin_key, ssl_context=self.trust) as c:
                self.assertTrue(c.actions.check(agent_id="mailer", tool_name="email.send").allowed)
                self.assertFalse(c.actions.check(agent_id="agent-123", tool_name="email.send").allowed)

    def test_untrusted_certificate_fails_closed(self) -> None:
        # The default context trusts the system's authorities, not this
        # self-signed certificate.
        c = AgentTrustClient(self.srv.url, self.srv.admin_key, retries=3, sleep=lambda s: self.fail("retried"))
        with self.assertRaises(TransportError):
            c.actions.check(agent_id="mailer", tool_name="email.send")

    def test_silent_tls_server_times_out(self) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.srv.cert, os.path.join(os.path.dirname(self.srv.cert), "key.pem"))
        for name, behavior in (("silent", lambda conn, req: threading.Event().wait(3)), ("trickle", trickle)):
            with self.subTest(name):
                f = Fake(behavior, tls=ctx)
                self.addCleanup(f.close)
                c = AgentTrustClient("https://127.0.0.1:%d" % f.port, "atk_x", timeout=0.5, ssl_context=self.trust)
                start = time.monotonic()
                with self.assertRaises(RequestTimeoutError):
                    c.actions.check(agent_id="mailer", tool_name="email.send")
                self.assertLess(time.monotonic() - start, 2 * 3 * 1.5)

    def test_broken_tls_handshakes(self) -> None:
        cases = (
            ("silent in the handshake", None, RequestTimeoutError),
            ("plain HTTP where TLS was asked", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", TransportError),
        )
        for name, answer, want in cases:
            with self.subTest(name):

                def behavior(conn, req, answer=answer) -> None:
                    # At the first byte of the ClientHello, answer (or not).
                    conn.recv(1)
                    if answer:
                        conn.sendall(answer)
                    threading.Event().wait(2)

                f = Fake(behavior, raw=True)
                self.addCleanup(f.close)
                c = AgentTrustClient("https://127.0.0.1:%d" % f.port, "atk_x", timeout=0.5, ssl_context=self.trust)
                start = time.monotonic()
                with self.assertRaises(want):
                    c.actions.check(agent_id="mailer", tool_name="email.send")
                self.assertLess(time.monotonic() - start, 2 * 3 * 1.5)


def trickle(conn, req) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(40):
        conn.sendall(b"a")
        time.sleep(0.1)
