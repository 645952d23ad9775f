"""The README's call control examples run as written, in order, against `./dev demo --keep-running`.

The test takes the bash block of the README's "Call control API" section as it stands, runs it with bash against a
demo started the way the README says (on free ports: only the two URLs of its first lines are pointed at them), and
records every curl request the block makes. Each request to the API must answer what the section's table promises
for its route (the status and every field listed), every route of the table must be exercised, and once the calls
have settled every operation the block sent must have closed as the table says (succeeded; the cancelled
invitation `cancelled`; the 1:1 transfer leaves its call `transferred`).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import pytest

from devtools.azurite import free_port
from devtools.stack import http_json
from tests.demo.demo_process import Demo
from tests.readme import readme

pytestmark = pytest.mark.e2e

README_HOST, README_EMULATOR = "127.0.0.1:7071", "127.0.0.1:8089"
# Every curl the block runs, as it ran: a line on stderr per request (curl's -w "%{stderr}") and the body in a file.
CURL_RECORDER = r'''
set -eu -o pipefail
curl() {
  local body
  body=$(mktemp "$CURL_RECORD_DIR/body.XXXXXX")
  command curl -s -o "$body" -w "%{stderr}@curl %{http_code} %{method} %{url_effective} $body\n" "$@"
  cat "$body"
}
'''


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    status: int
    fields: tuple[str, ...]
    closed_by: str

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(self.template))
        return method == self.method and re.fullmatch(pattern, path) is not None


@dataclass(frozen=True)
class Request:
    status: int
    method: str
    url: str
    body: str

    @property
    def path(self) -> str:
        return urlparse(self.url).path

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def control_section() -> str:
    return readme.section("Call control API")


def promised_routes() -> list[Route]:
    """The table of the section: route, success status and the fields of the success body, and what closes it."""
    routes = []
    for cells in readme.table_with(control_section(), "route"):
        method, template = cells[0].strip("`").split(" ", 1)
        match = re.fullmatch(r"(\d{3}) `\{(.*)\}`", cells[2])
        assert match, f"README table row {cells[0]}: success cell {cells[2]!r} is not 'STATUS `{{fields}}`'"
        routes.append(Route(method, template, int(match.group(1)),
                            tuple(f.strip() for f in match.group(2).split(",")), cells[3]))
    assert routes, "the Call control API section has no route table"
    return routes


def example_block() -> str:
    blocks = readme.code_blocks(control_section(), "bash")
    assert blocks, "the Call control API section has no bash block"
    block = blocks[0]
    assert f"H=http://{README_HOST}/api" in block and f"E=http://{README_EMULATOR}/emulator" in block, \
        "the examples should start from the demo's documented URLs"
    return block


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    running = Demo.start("--host-port", str(free_port()), "--emulator-port", str(free_port()))
    try:
        yield running
    finally:
        running.signal(signal.SIGTERM)


def run_block(demo: Demo, tmp_path: Path) -> list[Request]:
    block = (example_block().replace(README_HOST, f"127.0.0.1:{demo.host_port}")
             .replace(README_EMULATOR, f"127.0.0.1:{demo.emulator_port}"))
    script = tmp_path / "readme-examples.sh"
    script.write_text(CURL_RECORDER + block, encoding="utf-8")
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env={"PATH": "/usr/bin:/bin", "CURL_RECORD_DIR": str(tmp_path)})
    assert done.returncode == 0, f"the README block failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    requests = []
    for line in done.stderr.splitlines():
        if line.startswith("@curl "):
            _, status, method, url, body = line.split(" ", 4)
            requests.append(Request(int(status), method, url, Path(body).read_text(encoding="utf-8")))
    assert requests, f"the README block ran no curl:\n{done.stderr}"
    return requests


def settled(demo: Demo, call_id: str, timeout: float = 30) -> dict[str, Any]:
    """The call once the emulator is idle and none of its operations is pending."""
    deadline = time.monotonic() + timeout
    while True:
        http_json("POST", f"http://127.0.0.1:{demo.emulator_port}/emulator/idle?timeout=10")
        status, call = http_json("GET", f"http://127.0.0.1:{demo.host_port}/api/calls/{call_id}")
        assert status == 200, f"GET /api/calls/{call_id}: {status} {call}"
        pending = [op for op in call["operations"] if op["status"] == "pending"]
        if not pending:
            return call
        assert time.monotonic() < deadline, f"call {call_id} still has pending operations: {pending}"
        time.sleep(0.2)


def test_every_example_answers_what_the_table_promises_and_every_operation_closes_as_promised(
        demo: Demo, tmp_path: Path) -> None:
    routes = promised_routes()
    requests = run_block(demo, tmp_path)
    api = f"127.0.0.1:{demo.host_port}"
    exercised: set[Route] = set()
    created: list[str] = []
    cancelled_invitations: set[str] = set()
    for request in requests:
        where = f"{request.method} {request.url}"
        if urlparse(request.url).netloc != api:  # the emulator's own controls: they must work, nothing more
            assert 200 <= request.status < 300, f"{where}: {request.status} {request.body}"
            continue
        route = next((r for r in routes if r.matches(request.method, request.path)), None)
        if route is None:  # a read: the state API answers 200 with a call
            assert request.method == "GET" and request.status == 200, f"{where}: {request.status} {request.body}"
            continue
        exercised.add(route)
        assert request.status == route.status, \
            f"{where}: the README promises {route.status}, got {request.status} {request.body}"
        body = request.json()
        missing = [f for f in route.fields if f not in body]
        assert not missing, f"{where}: the README promises {route.fields}, {missing} missing from {body}"
        if route.status == 201:
            created.append(body["callConnectionId"])
        if "invitations/" in request.path:
            cancelled_invitations.add(request.path.rsplit("/", 1)[1])
    assert set(routes) <= exercised, \
        f"routes of the table the examples never call: {[r.template for r in routes if r not in exercised]}"

    calls = [settled(demo, call_id) for call_id in created]
    for call in calls:
        for op in call["operations"]:
            wanted = "cancelled" if op.get("invitationId") in cancelled_invitations else "succeeded"
            assert op["status"] == wanted, f"call {call['id']} ({call['to']}): {op['action']} {op} is not {wanted}"
    by_action = {op["action"]: call for call in calls for op in call["operations"]}
    assert {"createCall", "connect", "addParticipant", "cancelAddParticipant", "transfer", "removeParticipant",
            "hangUp"} <= set(by_action)
    # The 1:1 transfer leaves the app's control; the group call's hang-up for everyone ends it.
    one_to_one = next(c for c in calls if any(op["action"] == "transfer" and not op.get("transferee")
                                             for op in c["operations"]))
    assert one_to_one["state"] == "transferred"
    group = next(c for c in calls if any(op["action"] == "hangUp" for op in c["operations"]))
    assert group["state"] == "disconnected"
    assert by_action["connect"]["state"] == "connected"
