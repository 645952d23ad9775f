"""The local stack as separate processes: Azurite, the ACS emulator and the local Functions host.

Used by the demo (and by anything that wants the app running as it would run under `func start`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from devtools.azurite import Azurite, free_port
from shared.config import SETTING_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SETTINGS = PROJECT_ROOT / "local.settings.sample.json"


def http_json(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """A JSON request to the local stack: its status and decoded body (None when empty), errors included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, json.loads(text) if text else None


def restore_environ(saved: dict[str, str | None]) -> None:
    """Put back environment variables as `saved` had them (None: the variable was unset)."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def port_is_free(port: int) -> bool:
    """Whether a server can listen on the port now. SO_REUSEADDR, as the emulator, the host and Azurite bind: a port
    whose last listener has just stopped (its connections in TIME_WAIT) is free for them."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_for_line(process: subprocess.Popen[str], marker: str, timeout: float, name: str) -> str:
    """Read the process's stdout until a line holds `marker`; the rest of its output is passed on to stderr."""
    found: list[str] = []
    ready = threading.Event()

    def pump(stream: IO[str]) -> None:
        for line in stream:
            if not ready.is_set() and marker in line:
                found.append(line.strip())
                ready.set()
            elif os.environ.get("CALLSTEER_STACK_VERBOSE"):
                sys.stderr.write(f"[{name}] {line}")

    threading.Thread(target=pump, args=(process.stdout,), daemon=True).start()
    if not ready.wait(timeout):
        process.kill()
        raise RuntimeError(f"{name} did not start within {timeout} s (exit code {process.poll()})")
    return found[0]


class LocalStack:
    """Azurite + emulator + host, wired by settings the way a developer would wire them by hand."""

    def __init__(self, rules_file: str | None = None, emulator_args: tuple[str, ...] = (),
                 extra_settings: dict[str, str] | None = None, host_port: int | None = None,
                 emulator_port: int | None = None) -> None:
        self.azurite = Azurite()
        self.emulator_port = emulator_port if emulator_port and port_is_free(emulator_port) else free_port()
        self.host_port = host_port if host_port and port_is_free(host_port) else free_port()
        self.rules_file = rules_file
        self.emulator_args = emulator_args
        self.extra_settings = extra_settings or {}
        self._processes: list[subprocess.Popen[str]] = []
        self.settings: dict[str, str] = {}

    @property
    def host_url(self) -> str:
        return f"http://127.0.0.1:{self.host_port}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    def _spawn(self, args: list[str], env: dict[str, str], marker: str, name: str) -> str:
        process = subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT_ROOT, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=None if env.get("CALLSTEER_STACK_VERBOSE")
                                   else subprocess.DEVNULL)
        self._processes.append(process)
        return _wait_for_line(process, marker, 30, name)

    def start(self) -> "LocalStack":
        self.azurite.start()
        sample = json.loads(SAMPLE_SETTINGS.read_text(encoding="utf-8"))["Values"]
        self.settings = {
            **{k: v for k, v in sample.items() if v},
            "ACS_ENDPOINT": self.emulator_url,
            "ACS_CALLBACK_JWKS_URL": f"{self.emulator_url}/calling/keys",
            "CALLBACK_BASE_URL": self.host_url,
            "CALLBACK_SECRET": secrets.token_urlsafe(32),
            "TABLES_CONNECTION_STRING": self.azurite.connection_string,
            **({"ROUTING_RULES_FILE": self.rules_file} if self.rules_file else {}),
            **self.extra_settings,
        }
        # The stack's settings are the whole configuration: an app setting in the caller's environment (a shell's
        # export, a test session's ROUTING_RULES) must not change what the stack runs.
        inherited = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
        env = {**inherited, **self.settings, "PYTHONUNBUFFERED": "1"}
        self._spawn(["devtools.emulator", "--port", str(self.emulator_port), "--app-url", self.host_url,
                     "--access-key", self.settings["ACS_ACCESS_KEY"], "--resource-id",
                     self.settings["ACS_RESOURCE_ID"], *self.emulator_args], env, "emulator listening on", "emulator")
        # The host reads no local.settings.json here: the stack's settings are the whole configuration.
        self._spawn(["devtools.host", "--port", str(self.host_port), "--settings", "-"], env,
                    "local host listening on", "host")
        return self

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self._processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        self.azurite.stop()

    def __enter__(self) -> "LocalStack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
