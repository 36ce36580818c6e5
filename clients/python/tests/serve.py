"""A real agenttrust serve for the tests, started once per test run.

The binary is $AGENTTRUST_BIN when set (test.sh builds it), else built here
with go build from the repository. serve runs on a fresh SQLite file in a
temporary directory, on an ephemeral port, with tests/policy.yaml; its
first start prints the admin key, read from its stderr.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
POLICY = os.path.join(HERE, "policy.yaml")


class Serve:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="agenttrust-py-")
        binary = os.environ.get("AGENTTRUST_BIN")
        if not binary:
            binary = os.path.join(self.dir, "agenttrust")
            subprocess.run(["go", "build", "-o", binary, "./cmd/agenttrust"], cwd=REPO, check=True)
        self.proc = subprocess.Popen(
            [binary, "serve", "--data", os.path.join(self.dir, "db"), "--listen", "127.0.0.1:0",
             "--issuer", "http://127.0.0.1", "--policy", POLICY, "--console=false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
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
                m = re.search(r'listening.*url=(http://[0-9.:]+)', line)
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


_serve: Optional[Serve] = None
_lock = threading.Lock()


def serve() -> Serve:
    """The shared server, started on first use and stopped at exit."""
    global _serve
    with _lock:
        if _serve is None:
            _serve = Serve()
            atexit.register(_serve.stop)
        return _serve
