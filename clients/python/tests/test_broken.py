"""Fail closed: against a server that is down, cut, slow or answering
garbage, no call returns an allowed decision and no guarded body runs.

Each case first shows its fake can answer an allow the client accepts
(test_fake_answers_a_good_allow), so a case passes only because of what
it breaks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import unittest
from typing import Any, Dict, List, Tuple, Type

from agenttrust import (
    AgentTrustClient,
    AgentTrustError,
    ApprovalTimeoutError,
    AuthError,
    ForbiddenError,
    InvalidRequestError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    guard,
    identity,
)
from tests.fake import Fake, Behavior, good_decision, json_answer, reset, response, send

TIMEOUT = 0.5
GOOD = json.dumps(good_decision()).encode()


def silent(conn: socket.socket, req: bytes) -> None:
    threading.Event().wait(3)


def trickle_headers(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
    for _ in range(40):
        conn.sendall(b"a")
        time.sleep(0.1)


def trickle_body(conn: socket.socket, req: bytes) -> None:
    head = response(200, GOOD)[: -len(GOOD)]
    conn.sendall(head)
    for i in range(len(GOOD)):
        conn.sendall(GOOD[i : i + 1])
        time.sleep(0.1)


def huge_chunked(conn: socket.socket, req: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    for _ in range(40):
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.sendall(GOOD.join([b"%x\r\n" % len(GOOD), b"\r\n0\r\n\r\n"]))


def cut_mid_body(conn: socket.socket, req: bytes) -> None:
    conn.sendall(response(200, GOOD)[:-10])


def with_decision(**over: Any) -> Behavior:
    return json_answer(good_decision(**over))


def without(field: str) -> Behavior:
    d = good_decision()
    del d[field]
    return json_answer(d)


def raw_json(text: str, status: int = 200, ctype: str = "application/json") -> Behavior:
    return send(response(status, text.encode(), ctype=ctype))


# name -> (behavior, the error class check must raise)
CASES: Dict[str, Tuple[Behavior, Type[AgentTrustError]]] = {
    "closed without an answer": (lambda c, r: None, TransportError),
    "connection reset": (reset, TransportError),
    "cut in the status line": (send(b"HTTP/1.1 20"), TransportError),
    "cut in the headers": (send(b"HTTP/1.1 200 OK\r\nContent-Ty"), ProtocolError),
    "cut in the body": (cut_mid_body, TransportError),
    "silent past the timeout": (silent, RequestTimeoutError),
    "headers trickled past the timeout": (trickle_headers, RequestTimeoutError),
    "body trickled past the timeout": (trickle_body, RequestTimeoutError),
    "not HTTP": (send(b"SSH-2.0-OpenSSH_9.6\r\n"), AgentTrustError),
    "HTML page": (raw_json("<html><body>Welcome to nginx</body></html>", ctype="text/html"), ProtocolError),
    "HTML labelled JSON": (raw_json("<html>allowed</html>"), ProtocolError),
    "no content type": (send(response(200, GOOD, ctype=None)), ProtocolError),
    "truncated JSON": (raw_json(GOOD.decode()[:40]), ProtocolError),
    "trailing data": (raw_json(GOOD.decode() + GOOD.decode()), ProtocolError),
    "a JSON array": (raw_json("[" + GOOD.decode() + "]"), ProtocolError),
    "invalid UTF-8": (send(response(200, GOOD[:-1] + b'\xff"}')), ProtocolError),
    "allowed as the string true": (with_decision(allowed="true"), ProtocolError),
    "allowed as 1": (with_decision(allowed=1), ProtocolError),
    "allowed null": (with_decision(allowed=None), ProtocolError),
    "allowed with effect deny": (with_decision(allowed=True, effect="deny"), ProtocolError),
    "allowed with effect needs_approval": (with_decision(allowed=True, effect="needs_approval", approval_id="apr_x"), ProtocolError),
    "effect allow, allowed false": (with_decision(allowed=False), ProtocolError),
    "effect in capitals": (with_decision(effect="ALLOW"), ProtocolError),
    "allowed with an error": (with_decision(error="store_unavailable"), ProtocolError),
    "allowed missing": (without("allowed"), ProtocolError),
    "effect missing": (without("effect"), ProtocolError),
    "decision_id missing": (without("decision_id"), ProtocolError),
    "staleness_ns missing": (without("staleness_ns"), ProtocolError),
    "reason missing": (without("reason"), ProtocolError),
    "decision_id not a UUID": (with_decision(decision_id="42"), ProtocolError),
    "staleness as a string": (with_decision(staleness_ns="0"), ProtocolError),
    "staleness as a bool": (with_decision(staleness_ns=False), ProtocolError),
    "negative staleness": (with_decision(staleness_ns=-1), ProtocolError),
    "NaN staleness": (raw_json(GOOD.decode().replace('"staleness_ns": 0', '"staleness_ns": NaN')), ProtocolError),
    "needs_approval without approval id": (with_decision(allowed=False, effect="needs_approval"), ProtocolError),
    "a decision about another agent": (with_decision(agent_id="agent-2"), ProtocolError),
    "allowed twice, the last true": (
        raw_json('{"allowed": false, "effect": "allow", ' + GOOD.decode()[1:].replace('"allowed": true, "effect": "allow", ', '"allowed": true, ')),
        ProtocolError,
    ),
    "an error body with 200": (json_answer({"error": {"code": "internal", "message": "boom"}}), ProtocolError),
    "an empty object": (json_answer({}), ProtocolError),
    "an empty body": (send(response(200, b"")), ProtocolError),
    "huge body, announced": (send(response(200, GOOD + b" " * (2 << 20))), ProtocolError),
    "huge body, chunked": (huge_chunked, ProtocolError),
    "invalid Content-Length": (send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n" + GOOD), ProtocolError),
    "an allow with status 201": (json_answer(good_decision(), status=201), ProtocolError),
    "status 204": (send(b"HTTP/1.1 204 No Content\r\n\r\n"), ProtocolError),
    "an allow with status 500": (json_answer(good_decision(), status=500), ServerError),
    "503 without Retry-After": (json_answer({"error": {"code": "closed", "message": "closing"}}, status=503), ServerError),
    "503 with Retry-After, every time": (json_answer({"error": {"code": "closed", "message": "x"}}, status=503, headers="Retry-After: 0\r\n"), ServerError),
    "an allow with status 401": (json_answer(good_decision(), status=401), AuthError),
    "redirect 307 to the same server": (send(response(307, GOOD, headers="Location: /v1/actions/check\r\n")), ProtocolError),
}


class BrokenServerTest(unittest.TestCase):
    def client(self, url: str, **kw: Any) -> AgentTrustClient:
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("retries", 2)
        c = AgentTrustClient(url, "atk_test", sleep=lambda s: None, **kw)
        self.addCleanup(c.close)
        return c

    def fake(self, behavior: Behavior) -> Fake:
        f = Fake(behavior)
        self.addCleanup(f.close)
        return f

    def assert_fails_closed(self, url: str, want: Type[AgentTrustError], **kw: Any) -> None:
        c = self.client(url, **kw)
        ran: List[int] = []

        @guard("email.send", client=c)
        def send_email() -> None:
            ran.append(1)

        start = time.monotonic()
        try:
            d = c.actions.check(agent_id="agent-1", tool_name="email.send")
        except AgentTrustError as e:
            self.assertIsInstance(e, want, "raised %r" % (e,))
        else:
            self.fail("check returned %r" % (d,))
        with identity(agent_id="agent-1"), self.assertRaises(AgentTrustError):
            send_email()
        self.assertEqual(ran, [])
        # The watchdog bounds every attempt: three attempts at most.
        self.assertLess(time.monotonic() - start, 2 * 3 * (TIMEOUT + 1))

    def test_fake_answers_a_good_allow(self) -> None:
        f = self.fake(json_answer(good_decision()))
        d = self.client(f.url).actions.check(agent_id="agent-1", tool_name="email.send")
        self.assertTrue(d.allowed)

    def test_broken_servers(self) -> None:
        self.assertGreaterEqual(len(CASES), 20)
        for name, (behavior, want) in CASES.items():
            with self.subTest(case=name):
                self.assert_fails_closed(self.fake(behavior).url, want)

    def test_server_down(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        self.assert_fails_closed(url, TransportError)

    def test_redirect_to_another_host_is_not_followed(self) -> None:
        other = self.fake(json_answer(good_decision()))
        f = self.fake(send(response(302, b"", headers="Location: http://localhost:%d/v1/actions/check\r\n" % other.port)))
        self.assert_fails_closed(f.url, ProtocolError)
        self.assertEqual(other.requests, [], "the credential went to the redirect's host")

    def test_retries_are_bounded_and_only_where_safe(self) -> None:
        busy = self.fake(json_answer({"error": {"code": "closed", "message": "x"}}, status=503, headers="Retry-After: 0\r\n"))
        with self.assertRaises(ServerError):
            self.client(busy.url, retries=3).actions.check(agent_id="agent-1", tool_name="t")
        self.assertEqual(len(busy.requests), 4)
        # Creating a token is not repeated: a second token is not the same call.
        busy.requests.clear()
        with self.assertRaises(ServerError):
            self.client(busy.url, retries=3).tokens.exchange()
        self.assertEqual(len(busy.requests), 1)
        # A Retry-After longer than the client waits is not waited for.
        slow = self.fake(json_answer({"error": {"code": "closed", "message": "x"}}, status=503, headers="Retry-After: 3600\r\n"))
        with self.assertRaises(ServerError):
            self.client(slow.url, retries=3).actions.check(agent_id="agent-1", tool_name="t")
        self.assertEqual(len(slow.requests), 1)
        # Retry-After as an HTTP date is read; one that is neither is not.
        for value, attempts in (("Wed, 21 Oct 2015 07:28:00 GMT", 3), ("soon", 1), ("-1", 1), ("1e3", 1)):
            f = self.fake(json_answer({"error": {"code": "closed", "message": "x"}}, status=503, headers="Retry-After: %s\r\n" % value))
            with self.subTest(retry_after=value), self.assertRaises(ServerError):
                self.client(f.url, retries=2).actions.check(agent_id="agent-1", tool_name="t")
            self.assertEqual(len(f.requests), attempts, value)
        # A 500 or a cut connection is not retried: the server may have acted.
        for behavior in (json_answer({"error": {"code": "internal", "message": "x"}}, status=500), cut_mid_body):
            f = self.fake(behavior)
            with self.assertRaises(AgentTrustError):
                self.client(f.url, retries=3).actions.check(agent_id="agent-1", tool_name="t")
            self.assertEqual(len(f.requests), 1)

    def test_a_retry_after_502_can_still_allow(self) -> None:
        answers = [
            response(502, b"bad gateway", ctype="text/plain", headers="Retry-After: 1\r\n"),
            response(200, GOOD),
        ]
        f = self.fake(lambda conn, req: conn.sendall(answers.pop(0)))
        waited: List[float] = []
        c = AgentTrustClient(f.url, "atk_test", timeout=TIMEOUT, retries=1, sleep=waited.append)
        self.assertTrue(c.actions.check(agent_id="agent-1", tool_name="t").allowed)
        self.assertEqual(waited, [1.0])

    def test_attack_an_allow_for_another_agent_when_checking_a_credential(self) -> None:
        # A resource server checks the token an agent presented, naming the
        # agent it claims to be. The server decides about the credential's
        # agent and denies (agent_mismatch) when it is not the one named, so
        # an allow naming another agent (a misrouting proxy or cache handing
        # over another agent's answer) is no allow for this call.
        f = self.fake(with_decision(agent_id="agent-2"))
        c = self.client(f.url)
        with self.assertRaises(ProtocolError):
            c.actions.check(agent_id="agent-1", tool_name="email.send", credential="att_presented")
        ran: List[int] = []

        @guard("email.send", client=c)
        def send_email() -> None:
            ran.append(1)

        with identity(agent_id="agent-1", credential="att_presented"), self.assertRaises(ProtocolError):
            send_email()
        self.assertEqual(ran, [])
        # Controls: the allow about the agent named is believed, and a deny
        # naming the credential's own agent stays a deny, not an error.
        ok = self.fake(with_decision(agent_id="agent-1"))
        self.assertTrue(self.client(ok.url).actions.check(agent_id="agent-1", tool_name="t", credential="att_presented").allowed)
        mismatch = self.fake(with_decision(allowed=False, effect="deny", agent_id="agent-2", error="agent_mismatch"))
        d = self.client(mismatch.url).actions.check(agent_id="agent-1", tool_name="t", credential="att_presented")
        self.assertEqual((d.allowed, d.error), (False, "agent_mismatch"))

    def test_a_server_error_decision_is_a_deny(self) -> None:
        f = self.fake(with_decision(allowed=False, effect="deny", reason="store down", error="store_unavailable"))
        d = self.client(f.url).actions.check(agent_id="agent-1", tool_name="t")
        self.assertEqual((d.allowed, d.error), (False, "store_unavailable"))

    def test_a_lapsed_approval_ends_the_wait(self) -> None:
        apr = {
            "id": "apr_x", "agent_id": "a", "session_id": "", "on_behalf_of": "", "tool_name": "t", "resource": "",
            "attributes": {}, "rule_id": "r", "reason": "", "approvers": ["*"], "status": "pending",
            "created_at": "2020-01-01T00:00:00Z", "expires_at": "2020-01-01T00:15:00.123456789Z",
            "decided_by": "", "note": "",
        }
        f = self.fake(json_answer(apr))
        with self.assertRaises(ApprovalTimeoutError) as cm:
            self.client(f.url).approvals.wait("apr_x", 30)
        self.assertTrue(cm.exception.lapsed)
        self.assertEqual(len(f.requests), 1)
        self.assertIn(b"wait=30000ms", f.requests[0])

    def test_other_calls_fail_closed_too(self) -> None:
        # An approval wait answered "approved" in garbage is no approval.
        apr = {"id": "apr_x", "status": "approved"}
        for behavior in (json_answer(apr), json_answer(dict(apr, status="APPROVED")), raw_json("{")):
            f = self.fake(behavior)
            with self.assertRaises(ProtocolError):
                self.client(f.url).approvals.wait("apr_x", 1)
        f = self.fake(json_answer({"token": "", "format": "macaroon", "token_id": "t", "expires_at": "x"}, status=201))
        with self.assertRaises(ProtocolError):
            self.client(f.url).tokens.exchange()

    def test_attack_a_credential_echoed_into_an_error(self) -> None:
        # Whatever stands between the client and the server (a proxy, a
        # debugging endpoint, a misrouted base_url) may reflect the request
        # in its error: the bearer API key, the credential a check
        # presents. The error is shown to people, logs and, through an
        # agent framework's tool error (LangGraph's ToolNode), to the
        # model. No credential may be in it, also when the message is cut
        # in the middle of one; the rest of the text stays.
        key = "atk_" + "Zq3" * 12
        presented = "att_" + "AgEEdGVzdA" * 5
        other_jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"

        def echo(status: int, pad: int = 0, headers: str = "") -> Behavior:
            def b(conn: socket.socket, req: bytes) -> None:
                msg = "x" * pad + "you sent: " + req.decode("latin-1") + " and " + other_jwt
                conn.sendall(response(status, json.dumps({"error": {"code": "bad", "message": msg}}).encode(), headers=headers))

            return b

        def redirect(conn: socket.socket, req: bytes) -> None:
            conn.sendall(response(302, b"", headers="Location: https://elsewhere.example/?k=%s\r\n" % key))

        cases: Dict[str, Tuple[Behavior, Type[AgentTrustError]]] = {
            "400 echoing the request": (echo(400), InvalidRequestError),
            "401 echoing the request": (echo(401), AuthError),
            "403 echoing the request": (echo(403), ForbiddenError),
            "500 echoing the request": (echo(500), ServerError),
            "503 echoing the request, retried": (echo(503, headers="Retry-After: 0\r\n"), ServerError),
            "echo cut inside the key": (echo(400, pad=500 - len("you sent: POST /v1/actions/check HTTP/1.1\r\nHost: 127.0.0.1:00000\r\nAccept-Encoding: identity\r\nAuthorization: Bearer ") - 10), InvalidRequestError),
            "redirect naming the key": (redirect, ProtocolError),
        }
        for name, (behavior, want) in cases.items():
            with self.subTest(case=name):
                f = self.fake(behavior)
                c = AgentTrustClient(f.url, key, timeout=TIMEOUT, retries=1, sleep=lambda s: None)
                self.addCleanup(c.close)
                ran: List[int] = []

                @guard("email.send", client=c)
                def send_email() -> None:
                    ran.append(1)

                with identity(agent_id="agent-1", credential=presented), self.assertRaises(want) as cm:
                    send_email()
                self.assertEqual(ran, [])
                text = str(cm.exception) + " " + cm.exception.message + " " + repr(cm.exception)
                for secret in (key, presented, other_jwt):
                    self.assertNotIn(secret[:12], text, "a credential's start is in the error")
                if name != "redirect naming the key":
                    self.assertIn("you sent", text)

    def test_attack_odd_answers_raise_other_exceptions(self) -> None:
        # Every failure is an AgentTrustError (its typed subclass), which is
        # what a caller catches to treat a call without a decision as a
        # deny. A Retry-After of many digits or of Latin-1 digits ("\xb2"),
        # a body nested past Python's recursion limit or holding a number
        # past Decimal's exponents, or attributes nested that deep, raised
        # OverflowError, ValueError, RecursionError or InvalidOperation
        # instead, past such a handler, and a 403 lost its ForbiddenError.
        deep = b"[" * 100000
        cases: Dict[str, Tuple[Behavior, Type[AgentTrustError]]] = {
            "Retry-After of 400 digits": (send(response(503, b"{}", headers="Retry-After: %s\r\n" % ("9" * 400))), ServerError),
            "Retry-After of 5000 digits": (send(response(503, b"{}", headers="Retry-After: %s\r\n" % ("9" * 5000))), ServerError),
            "Retry-After of a Latin-1 digit": (
                send(b"HTTP/1.1 503 X\r\nContent-Type: application/json\r\nContent-Length: 2\r\nRetry-After: \xb2\r\n\r\n{}"),
                ServerError,
            ),
            "an allow nested past the recursion limit": (send(response(200, deep)), ProtocolError),
            "a 403 nested past the recursion limit": (send(response(403, deep)), ForbiddenError),
            "an allow with a number past Decimal's exponents": (
                raw_json(GOOD.decode().replace("{", '{"x": 1e999999999999999999999, ', 1)), ProtocolError,
            ),
        }
        for name, (behavior, want) in cases.items():
            with self.subTest(case=name):
                try:
                    self.assert_fails_closed(self.fake(behavior).url, want)
                except AgentTrustError:
                    raise
                except Exception as e:  # the failure under test
                    self.fail("raised %s, not %s" % (type(e).__name__, want.__name__))
        with self.subTest(case="attributes nested past the recursion limit"):
            f = self.fake(json_answer(good_decision()))
            nested: Any = []
            for _ in range(100000):
                nested = [nested]
            ran: List[int] = []

            @guard("email.send", client=self.client(f.url), attributes=lambda: {"to": nested})
            def send_email() -> None:
                ran.append(1)

            try:
                with identity(agent_id="agent-1"), self.assertRaises(InvalidRequestError):
                    send_email()
            except AgentTrustError:
                raise
            except Exception as e:  # the failure under test
                self.fail("raised %s, not InvalidRequestError" % type(e).__name__)
            self.assertEqual((ran, f.requests), ([], []))


def case_count() -> int:
    return len(CASES) + 2  # and: server down, redirect to another host


if __name__ == "__main__":
    unittest.main()
