"""Azurite's Table service for tests and the local demo: in memory, on a free loopback port, stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Azurite's documented development account; it only ever exists inside the local emulator.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def azurite_table_binary() -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-table"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-table")
    if found:
        return found
    raise RuntimeError("azurite-table not found: run `npm ci` in the project (./dev installs it)")


class Azurite:
    """One Azurite Table service process."""

    def __init__(self, port: int | None = None, location: str | None = None) -> None:
        self.port = port or free_port()
        # With a location, Azurite keeps its data in that folder (its LokiJS file) instead of memory only.
        self.location = location
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"TableEndpoint={self.endpoint};")

    def start(self, timeout: float = 120.0) -> "Azurite":
        # Generous: it returns as soon as Azurite listens; on a loaded 2-core machine node takes tens of seconds.
        self._workdir = tempfile.mkdtemp(prefix="callsteer-azurite-")
        self._process = subprocess.Popen(
            [azurite_table_binary(), *(["--location", self.location] if self.location else ["--inMemoryPersistence"]),
             "--tableHost", "127.0.0.1", "--tablePort",
             str(self.port), "--skipApiVersionCheck", "--silent"],
            # Azurite writes a debug log and settings into its working directory: keep them out of the repo.
            cwd=self._workdir,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"Azurite exited at start (code {self._process.returncode}): {err[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Azurite did not listen on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        if self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
