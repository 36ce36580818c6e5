"""One HTTP exchange with the server, bounded and checked.

A new connection per call, closed after it: a half-read keep-alive
connection can never leak a stale answer into the next call, and nothing is
sent twice by a transparent reconnect. Each attempt has one deadline for
everything (connect, send, headers, body): a watchdog shuts the socket when
it passes, so a server trickling bytes cannot hold a caller forever.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import math
import re
import socket
import ssl
import threading
import time
import urllib.parse
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from ._errors import (
    AgentTrustError,
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    redact,
)
from ._models import error_body

USER_AGENT = "agenttrust-python/0.1.0"
MAX_CREDENTIAL = 16 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")


class _Retry(Exception):
    """An attempt that failed in a way that is safe to repeat."""

    def __init__(self, error: AgentTrustError, delay: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay


def _no_duplicates(pairs: Sequence[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            # {"allowed": false, "allowed": true}: which one a reader
            # keeps differs between parsers, so neither is believed.
            raise ValueError("duplicate key %r" % (k,))
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError("%s is not JSON" % name)


def _exact_float(text: str) -> Any:
    # The server hands back a request's numbers as they were sent (an
    # approval's attributes): a float that is not that number (it rounded,
    # or overflowed to inf) would show an approver another value than the
    # one the grant binds, so such a number is a Decimal of its text.
    f = float(text)
    if math.isfinite(f) and Decimal(repr(f)) == Decimal(text):
        return f
    return Decimal(text)


def decode_json(data: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN or Infinity, no duplicate keys, nothing
    after the value. A number with a fraction or an exponent is a float
    when a float is exactly it, else a Decimal."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_exact_float)
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError("answer is not valid JSON: %s" % (str(e)[:200],)) from None
    except ArithmeticError:
        # decimal.InvalidOperation: an exponent past what a Decimal holds.
        raise ProtocolError("answer holds a number out of range") from None
    except RecursionError:
        raise ProtocolError("answer is nested too deep") from None


def parse_base_url(base_url: str, allow_insecure_http: bool) -> urllib.parse.SplitResult:
    if not isinstance(base_url, str):
        raise InvalidRequestError("base_url must be a string")
    u = urllib.parse.urlsplit(base_url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise InvalidRequestError("base_url must be https://host[:port][/path] (or http:// to loopback)")
    if u.query or u.fragment or u.username or u.password:
        raise InvalidRequestError("base_url must not carry a user, query or fragment")
    try:
        u.port
    except ValueError:
        raise InvalidRequestError("base_url has an invalid port") from None
    if u.scheme == "http" and not allow_insecure_http and not _loopback(u.hostname):
        raise InvalidRequestError(
            "plain http to %s would send the API key unencrypted: use https, or allow_insecure_http=True" % u.hostname
        )
    return u._replace(path=u.path.rstrip("/"))


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_credential(cred: Any, what: str = "api_key") -> str:
    if not isinstance(cred, str) or not cred:
        raise InvalidRequestError("%s must be a non-empty string" % what)
    if len(cred) > MAX_CREDENTIAL:
        raise InvalidRequestError("%s is longer than %d bytes" % (what, MAX_CREDENTIAL))
    if any(c <= " " or c == "\x7f" or c > "~" for c in cred):
        raise InvalidRequestError("%s holds a space, control or non-ASCII character" % what)
    return cred


def retry_after(value: Optional[str], now: Callable[[], float]) -> Optional[float]:
    """Seconds a Retry-After header asks to wait, or None when absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    # ASCII digits only: str.isdigit takes "\xb2", which int refuses.
    if re.fullmatch(r"[0-9]+", value):
        # Past 10 digits it is longer than anyone waits, and int and
        # float refuse thousands of digits.
        return float(value) if len(value) <= 10 else math.inf
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


class Transport:
    """Sends requests to one server with one credential. Safe for
    concurrent use: nothing is shared between calls but configuration."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        retries: int,
        max_retry_after: float,
        max_body: int,
        allow_insecure_http: bool,
        ssl_context: Optional[ssl.SSLContext],
        user_agent: str,
        sleep: Callable[[float], None],
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise InvalidRequestError("timeout must be a positive number of seconds")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise InvalidRequestError("retries must be an integer from 0 to 10")
        self.url = parse_base_url(base_url, allow_insecure_http)
        self._key = check_credential(api_key)
        self.timeout = float(timeout)
        self.retries = retries
        self.max_retry_after = float(max_retry_after)
        self.max_body = max_body
        self._ssl = ssl_context
        if self.url.scheme == "https" and self._ssl is None:
            self._ssl = ssl.create_default_context()
        self.user_agent = user_agent
        self._sleep = sleep
        self.closed = False

    def redact(self, text: str, secrets: Sequence[Optional[str]] = ()) -> str:
        """text taken from an answer without the API key, secrets or
        anything shaped like a credential."""
        return redact(text, self._key, *secrets)

    def request(
        self,
        op: str,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, str]] = None,
        body: Any = None,
        expect: int = 200,
        idempotent: bool = False,
        extra_time: float = 0.0,
        secrets: Sequence[Optional[str]] = (),
    ) -> Tuple[Any, str]:
        """Send one call and return its decoded JSON body (None for a 204)
        and the answer's request id. Raises an AgentTrustError for anything
        but the expected status with a well-formed body; its message holds
        neither the API key nor secrets (credentials the body carries)."""
        if self.closed:
            raise TransportError("%s: client closed" % op)
        payload = None
        if body is not None:
            try:
                payload = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise InvalidRequestError("%s: the request cannot be sent as JSON: %s" % (op, e)) from None
            except RecursionError:
                raise InvalidRequestError("%s: the request cannot be sent as JSON: nested too deep" % op) from None
        target = self.url.path + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        backoff = 0.05
        for attempt in range(self.retries + 1):
            try:
                return self._once(op, method, target, payload, expect, idempotent, self.timeout + extra_time, secrets)
            except _Retry as r:
                if attempt == self.retries:
                    raise r.error from None
                delay = r.delay if r.delay >= 0 else backoff
                backoff = min(backoff * 2, 1.0)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, op: str, method: str, target: str, payload: Optional[bytes], expect: int, idempotent: bool, limit: float,
        secrets: Sequence[Optional[str]],
    ) -> Tuple[Any, str]:
        start = time.monotonic()
        tls = self.url.scheme == "https"
        host = self.url.hostname or ""
        conn = http.client.HTTPConnection(host, self.url.port or (443 if tls else 80), timeout=limit)
        try:
            try:
                conn.connect()  # TCP only: TLS comes below, under the watchdog
            except OSError as e:
                # Nothing of the request has left: repeating it is safe.
                raise _Retry(TransportError("%s: cannot connect to %s: %s" % (op, self.url.netloc, e)), -1) from None
            expired = threading.Event()
            # Every socket of the exchange, held here: the connection
            # forgets its socket once the response owns it.
            socks = [conn.sock]

            def kill() -> None:
                expired.set()
                for sock in socks:
                    try:
                        # The plain socket's shutdown, also for TLS: it
                        # wakes a blocked read without touching TLS state.
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                    except OSError:
                        pass

            watchdog = threading.Timer(max(0.0, limit - (time.monotonic() - start)), kill)
            watchdog.daemon = True
            watchdog.start()
            try:
                if tls:
                    assert self._ssl is not None
                    conn.sock = self._ssl.wrap_socket(conn.sock, server_hostname=host)
                    socks.append(conn.sock)
                status, headers, data = self._exchange(conn, method, target, payload)
            except ProtocolError as e:
                if expired.is_set():
                    raise RequestTimeoutError("%s: no answer within %.3gs" % (op, limit)) from None
                raise ProtocolError("%s: %s" % (op, e.message)) from None
            except (OSError, ValueError, http.client.HTTPException) as e:
                if expired.is_set() or isinstance(e, socket.timeout):
                    raise RequestTimeoutError("%s: no answer within %.3gs" % (op, limit)) from None
                if isinstance(e, ssl.SSLError):
                    raise TransportError("%s: TLS with %s failed: %s" % (op, host, _short(e))) from None
                raise TransportError("%s: the connection failed before a full answer: %s" % (op, _short(e))) from None
            finally:
                watchdog.cancel()
            if expired.is_set():
                raise RequestTimeoutError("%s: no answer within %.3gs" % (op, limit))
        finally:
            conn.close()
        return self._answer(op, status, headers, data, expect, idempotent, secrets)

    def _exchange(
        self, conn: http.client.HTTPConnection, method: str, target: str, payload: Optional[bytes]
    ) -> Tuple[int, http.client.HTTPMessage, bytes]:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Authorization", "Bearer " + self._key)
        conn.putheader("Accept", "application/json")
        conn.putheader("User-Agent", self.user_agent)
        if payload is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(payload)))
        elif method == "POST":
            conn.putheader("Content-Length", "0")
        conn.endheaders(payload)
        resp = conn.getresponse()
        length = resp.getheader("Content-Length")
        n = -1
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise ProtocolError("invalid Content-Length %r" % (length[:40],)) from None
            if n > self.max_body or n < 0:
                raise ProtocolError("answer of %s bytes exceeds the %d-byte bound" % (length[:40], self.max_body))
        data = resp.read(self.max_body + 1)
        if len(data) > self.max_body:
            raise ProtocolError("answer exceeds the %d-byte bound" % self.max_body)
        if n >= 0 and len(data) < n and resp.status != 204 and method != "HEAD":
            # read(amt) returns short, without an error, when the
            # connection ends early.
            raise http.client.IncompleteRead(data, n - len(data))
        return resp.status, resp.msg, data

    def _answer(
        self, op: str, status: int, headers: http.client.HTTPMessage, data: bytes, expect: int, idempotent: bool,
        secrets: Sequence[Optional[str]],
    ) -> Tuple[Any, str]:
        rid = headers.get("X-Request-Id") or ""
        # An id is printed with errors and decisions: one that is, or holds,
        # a credential (whatever answered chose it) is no id.
        if not _REQUEST_ID.match(rid) or redact(rid, self._key, *secrets) != rid:
            rid = ""
        if status == expect:
            if status == 204:
                return None, rid
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise ProtocolError("%s: answer is %r, not application/json" % (op, ctype or "untyped"), status=status, request_id=rid)
            try:
                return decode_json(data), rid
            except ProtocolError as e:
                raise ProtocolError("%s: %s" % (op, e.message), status=status, request_id=rid) from None
        if 300 <= status < 400:
            # The API never redirects: a redirect is someone else
            # answering, and following it would hand them the credential.
            # Redacted before it is cut, so no credential's start is left.
            where = redact(headers.get("Location") or "", self._key, *secrets)[:200]
            raise ProtocolError(
                "%s: redirect (HTTP %d to %r) refused" % (op, status, where),
                status=status, request_id=rid,
            )
        code, message = "", ""
        if (headers.get("Content-Type") or "").split(";")[0].strip().lower() == "application/json":
            try:
                code, message = error_body(decode_json(data))
            except ProtocolError:
                pass
        # Whatever answered may have echoed the request: its credentials go
        # before the message is cut, so no credential's start is left.
        message = redact(message, self._key, *secrets)[:500] or "HTTP %d" % status
        code = redact(code, self._key, *secrets)[:100]
        kw = dict(status=status, code=code, request_id=rid)
        text = "%s: %s" % (op, message)
        if status in (502, 503) and idempotent:
            delay = retry_after(headers.get("Retry-After"), time.time)
            if delay is not None and delay <= self.max_retry_after:
                raise _Retry(ServerError(text, **kw), delay)
        if status == 401:
            raise AuthError(text, **kw)
        if status == 403:
            raise ForbiddenError(text, **kw)
        if status == 404:
            raise NotFoundError(text, **kw)
        if status == 409:
            raise ConflictError(text, **kw)
        if 400 <= status < 500:
            raise InvalidRequestError(text, **kw)
        if 200 <= status < 300:
            raise ProtocolError("%s: unexpected HTTP %d" % (op, status), **kw)
        raise ServerError(text, **kw)


def _short(e: BaseException) -> str:
    s = str(e) or type(e).__name__
    return s[:200]
