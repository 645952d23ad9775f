"""The hand-made mutations issue 16 names, each checked against the tests that must catch it.

    python -m devtools.named_mutations

Each mutation is written into the working tree, the tests named for it run, and the file is put back (in a
`finally`); it refuses to start on a tree with uncommitted changes to the files it mutates, so `git checkout` can
always undo an interrupted run. Prints, per mutation, the test that failed (caught) or NOT CAUGHT. Complements
`./dev mutate` (mutmut over the pure domain): these reach the triggers, adapters and handlers too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MUTATIONS = [
    ("POST /api/calls anonymous", "function_app.py",
     '@app.route(route="calls", methods=["POST"])', '@app.route(route="calls", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)',
     ["tests/unit/test_auth_levels.py"]),
    ("window start exclusive (same-day)", "shared/domain/routing.py",
     "return day in self.days and now >= self.start and", "return day in self.days and now > self.start and",
     ["tests/unit/test_routing_windows.py"]),
    ("window start exclusive (overnight)", "shared/domain/routing.py",
     "return (day in self.days and now >= self.start) or", "return (day in self.days and now > self.start) or",
     ["tests/unit/test_routing_windows.py"]),
    ("window end inclusive (same-day)", "shared/domain/routing.py",
     "(self.end_of_day or now < self.end)", "(self.end_of_day or now <= self.end)",
     ["tests/unit/test_routing_windows.py"]),
    ("window end inclusive (overnight)", "shared/domain/routing.py",
     "(yesterday in self.days and now < self.end)", "(yesterday in self.days and now <= self.end)",
     ["tests/unit/test_routing_windows.py"]),
    ("hang-up accepts undocumented fields", "shared/domain/requests.py",
     '    _only(body, {"forEveryone"})\n', "",
     ["tests/unit/test_request_schemas.py"]),
    ("reconcile reads 'disconnected' as alive", "shared/domain/call.py",
     "return acs_state is None or acs_state == DISCONNECTED", "return acs_state is None",
     ["tests/unit/test_guarantees.py", "tests/unit/test_reconcile.py"]),
    ("If-Match dropped from the callback write", "shared/adapters/store.py",
     'ops = [("update", layout.main, {"etag": loaded.etag})]', 'ops = [("update", layout.main, {"etag": "*"})]',
     ["tests/e2e/test_store_guarantees.py"]),
    ("redelivery window end inclusive", "shared/handlers/incoming.py",
     "now - services.routing_time(incoming.event_time) < REDELIVERY_WINDOW",
     "now - services.routing_time(incoming.event_time) <= REDELIVERY_WINDOW",
     ["tests/unit/test_guarantees.py"]),
    ("no re-send of unaccepted steps", "shared/handlers/callbacks.py",
     "        await _resend_unsent(services, connection_id, call_key)\n", "        pass\n",
     ["tests/unit/test_guarantees.py"]),
    ("a step re-sent at the repeatability window's limit", "shared/handlers/callbacks.py",
     "now - op.created_at >= RESEND_LIMIT", "now - op.created_at > RESEND_LIMIT",
     ["tests/unit/test_guarantees.py"]),
    ("plan never marked done after a winner", "shared/domain/flows.py",
     "        if not commands and _settled(call, ring, winner):\n            call = _with_state(call, phase=DONE)\n",
     "        pass\n", ["tests/unit/test_plan_guarantees.py"]),
    ("the later of two answering agents kept", "shared/domain/flows.py",
     "        call, removals = _remove_late_answers(call, ring, winner, n, now)\n        commands += removals\n        if not commands and _settled",
     "        if not commands and _settled", ["tests/unit/test_plan_guarantees.py"]),
]



def main() -> int:
    paths = sorted({path for _, path, _, _, _ in MUTATIONS})
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    if dirty:
        print(f"uncommitted changes to files this mutates; commit or stash them first:\n{dirty}", file=sys.stderr)
        return 2
    missed = 0
    for name, path, old, new, tests in MUTATIONS:
        file = ROOT / path
        original = file.read_text()
        if old not in original:
            print(f"{name}: the code it mutates has changed ({path}); update devtools/named_mutations.py")
            missed += 1
            continue
        file.write_text(original.replace(old, new, 1))
        try:
            out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-x", *tests], cwd=ROOT,
                                 capture_output=True, text=True, timeout=900).stdout
        finally:
            file.write_text(original)
        failed = [line.split(" ")[1] for line in out.splitlines() if line.startswith("FAILED ")]
        last = out.strip().splitlines()[-1] if out.strip() else "no output"
        print(f"{name}: {'caught by ' + ', '.join(failed) if failed else 'NOT CAUGHT'} [{last}]", flush=True)
        missed += not failed
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
