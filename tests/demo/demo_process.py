"""`python -m devtools.demo --keep-running` as a process, as `./dev demo --keep-running` runs it (./dev execs it)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from devtools.stack import PROJECT_ROOT

READY = "running until Ctrl-C"
URLS = re.compile(r"local host: http://127\.0\.0\.1:(\d+)\s+emulator: http://127\.0\.0\.1:(\d+)\s+"
                  r"Azurite tables: port (\d+)")


def descendants(pid: int) -> set[int]:
    """Every live process below pid (children, their children, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether pid is a process that has not exited (a zombie has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@dataclass
class Demo:
    """One demo process and what it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    host_port: int = 0
    emulator_port: int = 0
    azurite_port: int = 0

    @classmethod
    def start(cls, *args: str, timeout: float = 180) -> "Demo":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen([sys.executable, "-m", "devtools.demo", "--keep-running", *args],
                                   cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        demo = cls(process)
        threading.Thread(target=demo._read, daemon=True).start()
        if not demo.ready.wait(timeout) or process.poll() is not None:
            demo.kill()
            raise AssertionError(f"the demo did not reach {READY!r} within {timeout} s:\n{demo.output}")
        return demo

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            match = URLS.search(line)
            if match:
                self.host_port, self.emulator_port, self.azurite_port = map(int, match.groups())
            if READY in line:
                self.ready.set()
        self.ready.set()  # the process ended: stop waiting

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def signal(self, signum: int, timeout: float = 60) -> int:
        """Send signum to the demo alone (not its process group) and wait for it to exit; its exit code."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the demo did not exit within {timeout} s of signal {signum}:\n{self.output}")

    def kill(self) -> None:
        """Last resort for a failed test: the demo and everything below it, so nothing outlives the test."""
        for pid in descendants(self.process.pid) | {self.process.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(10)
