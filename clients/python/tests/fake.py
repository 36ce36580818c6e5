"""A fake server on a raw socket, answering whatever a test tells it to:
broken HTTP, garbage, silence, a connection cut at any byte."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import uuid
from typing import Callable, List, Optional

Behavior = Callable[["socket.socket", bytes], None]


def good_decision(**over: object) -> dict:
    d = {
        "allowed": True, "effect": "allow", "reason": "allowed by policy", "rule_id": "r",
        "decision_id": str(uuid.uuid4()), "approval_id": "", "agent_id": "agent-1", "staleness_ns": 0,
    }
    d.update(over)
    return d


def response(status: int, body: bytes, ctype: Optional[str] = "application/json", headers: str = "", reason: str = "X") -> bytes:
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    if ctype is not None:
        head += "Content-Type: %s\r\n" % ctype
    head += "Content-Length: %d\r\nConnection: close\r\n%s\r\n" % (len(body), headers)
    return head.encode() + body


def send(data: bytes) -> Behavior:
    def b(conn: socket.socket, req: bytes) -> None:
        conn.sendall(data)

    return b


def json_answer(obj: object, status: int = 200, headers: str = "") -> Behavior:
    return send(response(status, json.dumps(obj).encode(), headers=headers))


class Fake:
    """Listens on 127.0.0.1; each connection gets behavior(conn, request)."""

    def __init__(self, behavior: Behavior, tls: "Optional[ssl.SSLContext]" = None, raw: bool = False) -> None:
        """tls wraps each connection in TLS first; raw hands the
        connection to behavior at once, before any request is read."""
        self.behavior = behavior
        self.tls = tls
        self.raw = raw
        self.requests: List[bytes] = []
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.raw:
                self.behavior(conn, b"")
                return
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.requests.append(head + b"\r\n\r\n" + body)
            self.behavior(conn, head + b"\r\n\r\n" + body)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.release.set()
        self.sock.close()


def reset(conn: socket.socket, req: bytes) -> None:
    """Close with a TCP reset rather than a clean end."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
