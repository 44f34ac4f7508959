"""A real Cosmos DB API server for the tests: cosmium, built by `scripts/cosmium.sh build` (as .ci/run does; the
first test that needs it builds it when it is missing, which needs Go).

It listens on every interface (it has no bind flag); the tests send it traffic on 127.0.0.1 only.
"""
from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("DATAFLIX_COSMIUM", REPO / ".ci" / "work" / "cosmium" / "cosmium"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cosmium:
    """One server process on 127.0.0.1 (TLS with a self-signed certificate)."""

    def __init__(self, auth: bool = False) -> None:
        if not BINARY.is_file():
            build = subprocess.run(["bash", str(REPO / "scripts" / "cosmium.sh"), "build"], capture_output=True,
                                   text=True, timeout=1200)
            if build.returncode != 0 or not BINARY.is_file():
                pytest.fail(f"cosmium is not built ({BINARY}) and scripts/cosmium.sh build failed: "
                            f"{build.stderr.strip()[-500:]}", pytrace=False)
        self.auth = auth
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def start(self) -> "Cosmium":
        args = [str(BINARY), "-Port", str(self.port), "-Host", "localhost", "-LogLevel", "error"]
        self.process = subprocess.Popen(args + ([] if self.auth else ["-DisableAuth"]), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.endpoint, context=context, timeout=2).read()
                return self
            except OSError as error:
                if getattr(error, "code", None) == 401:  # auth on: it answers, and refuses
                    return self
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"cosmium did not start on port {self.port}") from error
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: the server dies at once (its documents, kept in memory, with it)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
