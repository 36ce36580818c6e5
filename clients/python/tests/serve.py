"""A real agenttrust serve for the tests, started once per test run.

The binary is $AGENTTRUST_BIN when set (test.sh builds it), else built here
with go build from the repository. serve runs on a fresh SQLite file in a
temporary directory, on an ephemeral port, with tests/policy.yaml; its
first start prints the admin key, read from its stderr. The TLS one serves
a self-signed certificate made with openssl.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
POLICY = os.path.join(HERE, "policy.yaml")


def self_signed(directory: str) -> "tuple[str, str]":
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


_binary: Optional[str] = None


def binary() -> str:
    """$AGENTTRUST_BIN, else agenttrust built once from the repository."""
    global _binary
    if _binary is None:
        _binary = os.environ.get("AGENTTRUST_BIN")
        if not _binary:
            out = tempfile.mkdtemp(prefix="agenttrust-py-bin-")
            atexit.register(shutil.rmtree, out, True)
            _binary = os.path.join(out, "agenttrust")
            subprocess.run(["go", "build", "-o", _binary, "./cmd/agenttrust"], cwd=REPO, check=True)
    return _binary


class Serve:
    def __init__(self, tls: bool = False) -> None:
        self.dir = tempfile.mkdtemp(prefix="agenttrust-py-")
        args = [binary(), "serve", "--data", os.path.join(self.dir, "db"), "--listen", "127.0.0.1:0",
                "--policy", POLICY, "--console=false"]
        self.cert: Optional[str] = None
        if tls:
            self.cert, key = self_signed(self.dir)
            args += ["--tls-cert", self.cert, "--tls-key", key, "--issuer", "https://127.0.0.1"]
        else:
            args += ["--issuer", "http://127.0.0.1"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.log: list = []
        self.url: Optional[str] = None
        self.admin_key: Optional[str] = None
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log = (self.log + [line])[-200:]
                m = re.search(r"\b(atk_[A-Za-z0-9]+)", line)
                if m and self.admin_key is None:
                    self.admin_key = m.group(1)
                m = re.search(r'listening.*url=(https?://[0-9.:]+)', line)
                if m:
                    self.url = m.group(1)
                if self.url and self.admin_key:
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(60) or not (self.url and self.admin_key):
            self.stop()
            raise RuntimeError("agenttrust serve did not start:\n" + "".join(self.log))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # The reader ends at the pipe's end, once serve has exited.
        self.reader.join(5)
        if self.proc.stderr is not None and not self.reader.is_alive():
            self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


_serves: "dict[bool, Serve]" = {}
_lock = threading.Lock()


def serve(tls: bool = False) -> Serve:
    """The shared server (plain HTTP, or HTTPS with a self-signed
    certificate), started on first use and stopped at exit."""
    with _lock:
        if tls not in _serves:
            _serves[tls] = Serve(tls)
            atexit.register(_serves[tls].stop)
        return _serves[tls]
