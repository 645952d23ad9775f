"""`./dev demo` stops what it started: SIGTERM or SIGINT leaves no process behind and frees its ports."""

from __future__ import annotations

import os
import signal
import socket

import pytest

from devtools.azurite import free_port
from devtools.stack import port_is_free
from tests.demo.demo_process import Demo, alive, descendants

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_demo_stops_azurite_the_emulator_and_the_host(signum: int) -> None:
    host_port, emulator_port = free_port(), free_port()
    demo = Demo.start("--host-port", str(host_port), "--emulator-port", str(emulator_port))
    try:
        children = descendants(demo.process.pid)
        # Azurite, the emulator and the host, each a process of its own under the demo.
        assert len(children) >= 3, f"expected Azurite, the emulator and the host under the demo: {children}"
        assert (demo.host_port, demo.emulator_port) == (host_port, emulator_port), demo.output
        assert not port_is_free(demo.host_port) and not port_is_free(demo.emulator_port)
        code = demo.signal(signum)
    except BaseException:
        demo.kill()
        raise
    left = sorted(pid for pid in children if alive(pid))
    for pid in left:  # the test fails below; it leaves nothing running either way
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes left running after signal {signum}: {left}\n{demo.output}"
    assert code in (0, 128 + signum), demo.output
    # A second demo finds the ports free again (it binds them as the servers do, with SO_REUSEADDR).
    for port in (demo.host_port, demo.emulator_port, demo.azurite_port):
        assert port_is_free(port), f"port {port} still taken after the demo stopped"


def test_a_taken_port_is_replaced_and_the_demo_says_so() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        demo = Demo.start("--host-port", str(taken), "--emulator-port", str(free_port()))
        try:
            assert demo.host_port != taken
            assert f"port {taken} is in use" in demo.output and f"listens on {demo.host_port}" in demo.output
        finally:
            demo.signal(signal.SIGTERM)
