"""Cold start: importing function_app against importing only the SDK packages it imports, and the first
invocations in a fresh interpreter.

`python -m devtools.bench.coldstart --first-invocation` is the child process: it imports function_app
first thing (this module imports only the standard library), indexes the functions as the host does,
then invokes `incoming_call` twice and `callbacks` twice against the running stack named by its
environment, and prints one JSON line of timings and per-invocation request counts.
"""

from __future__ import annotations

import ast
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def cached_bytecode_env(prefix: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which every module's bytecode is cached (under `prefix`, outside the repo), as
    site-packages' is by pip: imports then compare loading, not compiling."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def _parse_importtime(stderr: str) -> list[tuple[int, int, int, str]]:
    rows = []
    for line in stderr.splitlines():
        found = _IMPORTTIME.match(line)
        if found:
            rows.append((int(found[1]), int(found[2]), len(found[3]) // 2, found[4]))
    return rows


def _importtime(code: str, env: dict[str, str] | None = None) -> list[tuple[int, int, int, str]]:
    """(self us, cumulative us, depth, module) for each module a fresh interpreter imports running `code`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=True, env=env)
    return _parse_importtime(done.stderr)


def _local_module(name: str) -> bool:
    top = name.split(".")[0]
    return top == "function_app" or (PROJECT_ROOT / top).is_dir() or (PROJECT_ROOT / f"{top}.py").exists()


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (PROJECT_ROOT.joinpath(*parts).with_suffix(".py"), PROJECT_ROOT.joinpath(*parts, "__init__.py")):
        if candidate.exists():
            return candidate
    return None


def _module_level_imports(path: Path) -> set[str]:
    """The import statements at module level (not inside functions) of one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(f"import {alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # The names too: a package may load what they name lazily (azure.core.pipeline.transport does).
                found.add(f"from {node.module} import {', '.join(alias.name for alias in node.names)}")
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                    continue
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []) or []:
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])
    visit(tree.body)
    return found


def sdk_modules() -> tuple[list[str], list[str]]:
    """(the third-party import statements function_app's own modules run at import time, the app's own modules)."""
    rows = _importtime("import function_app")
    own = sorted({name for _, _, _, name in rows if _local_module(name)})
    third: set[str] = set()
    for name in own:
        path = _module_file(name)
        if path is None:
            continue
        for statement in _module_level_imports(path):
            imported = statement.split()[1]
            top = imported.split(".")[0]
            if top in sys.stdlib_module_names or _local_module(imported):
                continue
            third.add(statement)
    return sorted(third), own


def _time_import(statements: list[str], env: dict[str, str]) -> float:
    code = ("import sys, time; sys.path.insert(0, %r); t = time.perf_counter(); %s; "
            "print(time.perf_counter() - t)") % (str(PROJECT_ROOT), "; ".join(statements))
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
                          env=env)
    return float(done.stdout.strip().splitlines()[-1])


def _time_process(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, check=True, env=env)
    return time.perf_counter() - start


def import_times(runs: int, pycache: str) -> dict[str, Any]:
    """Median import times over `runs` fresh interpreters each, app and SDK-only alternating.

    The headline compares them with every module's bytecode cached (`pycache`, outside the repo); the
    `as_run` figures use the environment as it is (with PYTHONDONTWRITEBYTECODE=1 the app's own modules are
    compiled from source on every import, as in a read-only package shipped without .pyc files)."""
    modules, own = sdk_modules()
    sdk_code = "; ".join(modules)
    cached = cached_bytecode_env(pycache)
    as_run = dict(os.environ)
    for env in (cached, as_run):  # fill the bytecode cache and the OS page cache first
        _time_import(["import function_app"], env)
        _time_import(modules, env)
    app, sdk, app_proc, sdk_proc, bare, app_src, sdk_src = [], [], [], [], [], [], []
    for _ in range(runs):
        app.append(_time_import(["import function_app"], cached))
        sdk.append(_time_import(modules, cached))
        app_src.append(_time_import(["import function_app"], as_run))
        sdk_src.append(_time_import(modules, as_run))
        app_proc.append(_time_process("import function_app", cached))
        sdk_proc.append(_time_process(sdk_code, cached))
        bare.append(_time_process("pass", cached))
    # Where the difference goes: modules the app import loads that the SDK-only import does not.
    app_rows = _importtime("import function_app", cached)
    sdk_names = {name for _, _, _, name in _importtime(sdk_code, cached)}
    extra = sorted(((self_us, name) for self_us, _, _, name in app_rows if name not in sdk_names), reverse=True)
    own_self_us = sum(self_us for self_us, _, _, name in app_rows if _local_module(name))
    med = statistics.median
    return {
        "runs": runs,
        "dataclasses": _dataclass_cost(cached),
        "sdk_modules": modules,
        "app_modules": own,
        "app_import_ms": round(med(app) * 1000, 2),
        "sdk_import_ms": round(med(sdk) * 1000, 2),
        "ratio": round(med(app) / med(sdk), 3),
        "as_run": {"dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
                   "app_import_ms": round(med(app_src) * 1000, 2), "sdk_import_ms": round(med(sdk_src) * 1000, 2),
                   "ratio": round(med(app_src) / med(sdk_src), 3)},
        "app_process_ms": round(med(app_proc) * 1000, 2),
        "sdk_process_ms": round(med(sdk_proc) * 1000, 2),
        "bare_interpreter_ms": round(med(bare) * 1000, 2),
        "app_own_modules_self_ms": round(own_self_us / 1000, 2),
        "app_only_modules_self_ms": round(sum(us for us, _ in extra) / 1000, 2),
        "app_only_top": [{"module": name, "self_ms": round(us / 1000, 2)} for us, name in extra[:12]],
    }


# A connection string that exports nowhere (the ingestion endpoint is a closed local port): what is measured is
# the import and set-up of the Azure Monitor distro, which the app does only when the setting is present.
OFFLINE_CONNECTION_STRING = ("InstrumentationKey=00000000-0000-0000-0000-000000000000;"
                             "IngestionEndpoint=http://127.0.0.1:9/")


def telemetry_cost(runs: int, pycache: str) -> dict[str, Any]:
    """Median `import function_app` without and with APPLICATIONINSIGHTS_CONNECTION_STRING, runs interleaved so
    both see the same machine load (bytecode cached, as in the deployed package)."""
    off = cached_bytecode_env(pycache, {k: v for k, v in os.environ.items()
                                        if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"})
    on = {**off, "APPLICATIONINSIGHTS_CONNECTION_STRING": OFFLINE_CONNECTION_STRING}
    for env in (off, on):
        _time_import(["import function_app"], env)
    without, with_ = [], []
    for _ in range(runs):
        without.append(_time_import(["import function_app"], off))
        with_.append(_time_import(["import function_app"], on))
    med = statistics.median
    return {"runs": runs, "import_ms_without": round(med(without) * 1000, 2),
            "import_ms_with": round(med(with_) * 1000, 2),
            "added_ms": round((med(with_) - med(without)) * 1000, 2),
            "ratio": round(med(with_) / med(without), 3)}


_DATACLASS_PROBE = """
import dataclasses, json, sys, time
sys.path.insert(0, %r)
spent, count = [0.0], [0]
original = dataclasses._process_class
def timed(cls, *args, **kwargs):
    start = time.perf_counter()
    try:
        return original(cls, *args, **kwargs)
    finally:
        if cls.__module__.split(".")[0] in ("shared", "function_app"):
            spent[0] += time.perf_counter() - start
            count[0] += 1
dataclasses._process_class = timed
start = time.perf_counter()
import function_app
print(json.dumps({"app_dataclasses": count[0], "creation_ms": round(spent[0] * 1000, 2),
                  "import_ms": round((time.perf_counter() - start) * 1000, 2)}))
"""


def _dataclass_cost(env: dict[str, str]) -> dict[str, Any]:
    """How many dataclasses the app's modules define at import, and the time spent building them."""
    done = subprocess.run([sys.executable, "-c", _DATACLASS_PROBE % str(PROJECT_ROOT)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _lazy_imports(stderr: str) -> dict[str, Any]:
    """Imports made after function_app's own (so during the first invocations), outside the standard library."""
    rows = _parse_importtime(stderr)
    names = [name for _, _, depth, name in rows if depth == 0]
    if "function_app" not in names:
        return {}
    after = rows[[n for n, r in enumerate(rows) if r[2] == 0 and r[3] == "function_app"][0] + 1:]
    top = [(cum, name) for _, cum, depth, name in after
           if depth == 0 and name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "devtools"]
    return {"total_ms": round(sum(c for c, _ in top) / 1000, 2),
            "top": [{"module": name, "cumulative_ms": round(c / 1000, 2)} for c, name in sorted(top, reverse=True)[:8]]}


def first_invocations(env: dict[str, str], runs: int) -> dict[str, Any]:
    """Run the child `runs` times (fresh interpreters); medians of its timings, counts of the first run."""
    results = []
    for n in range(runs + 2):
        # Two more runs first, not timed: one fills the bytecode cache for what the first invocations import
        # lazily, the next runs with -X importtime to name those imports.
        if n == 0:
            subprocess.run([sys.executable, "-m", "devtools.bench.coldstart", "--first-invocation"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=120)
            continue
        profiled = n == 1
        done = subprocess.run([sys.executable, *(["-X", "importtime"] if profiled else []), "-m",
                               "devtools.bench.coldstart", "--first-invocation"],
                              cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"cold-start child failed ({done.returncode}): {done.stderr[-2000:]}")
        if profiled:
            lazy = _lazy_imports(done.stderr)
        else:
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    timings = {key: round(statistics.median(r[key] for r in results), 3) for key in results[0] if key.endswith("_ms")}
    return {"runs": runs, **timings, "lazy_imports": lazy, "requests": results[0]["requests"]}


# ---- the child ---------------------------------------------------------------------------------------


def _child() -> None:
    started = time.perf_counter()
    import function_app  # noqa: PLC0415 - the first import is what is measured

    import_s = time.perf_counter() - started
    started = time.perf_counter()
    # What the host does once at start-up (devtools.host.discover calls the same, once per app).
    functions = {f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()}
    index_s = time.perf_counter() - started

    import asyncio
    import urllib.request
    from datetime import datetime
    from urllib.parse import urlsplit

    import azure.functions as func

    emulator, control = os.environ["BENCH_EMULATOR_URL"], os.environ["BENCH_CONTROL_URL"]

    def http(method: str, url: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def counters() -> dict[str, Any]:
        return http("GET", f"{control}/bench/counters")

    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, label in (("app_acs", "acs"), ("app_tables", "tables")):
            routes = {k: v - before[name]["by_route"].get(k, 0) for k, v in after[name]["by_route"].items()}
            out[label] = {"requests": after[name]["requests"] - before[name]["requests"],
                          "connections": after[name]["connections"] - before[name]["connections"],
                          "by_route": {k: v for k, v in routes.items() if v}}
        return out

    def event_time(value: str) -> datetime:
        text = value.replace("Z", "+00:00")
        if "." in text:
            head, _, rest = text.partition(".")
            digits = len(rest) - len(rest.lstrip("0123456789"))
            text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
        return datetime.fromisoformat(text)

    def grid_event(raw: dict[str, Any]) -> func.EventGridEvent:
        return func.EventGridEvent(id=raw["id"], data=raw["data"], topic=raw.get("topic"), subject=raw.get("subject"),
                                   event_type=raw["eventType"], event_time=event_time(raw["eventTime"]),
                                   data_version=raw.get("dataVersion"))

    async def timed(coro: Any) -> tuple[float, Any, dict[str, Any]]:
        before = counters()
        start = time.perf_counter()
        result = await coro
        elapsed = time.perf_counter() - start
        return elapsed, result, delta(before, counters())

    async def main() -> dict[str, Any]:
        from shared.bootstrap import close_services

        incoming = functions["incoming_call"]
        callbacks = functions["callbacks"]
        events = [http("POST", f"{emulator}/emulator/incoming-calls?deliver=false",
                       {"from": f"+1425555{n:04d}", "to": os.environ["BENCH_ANSWER_TO"]}) for n in (1, 2)]
        first_s, _, first_req = await timed(incoming(event=grid_event(events[0])))
        second_s, _, second_req = await timed(incoming(event=grid_event(events[1])))
        http("POST", f"{emulator}/emulator/idle?timeout=10")
        correlation = events[0]["data"]["correlationId"]
        listing = http("GET", f"{emulator}/emulator/calls")
        connection = next(c["callConnectionId"] for c in listing["incomingCalls"] if c["correlationId"] == correlation)
        records = [r for r in http("GET", f"{emulator}/emulator/callbacks") if r["call_connection_id"] == connection]
        token = http("POST", f"{emulator}/emulator/callback-tokens", {})["token"]
        times, reqs = [], []
        for record in records[:2]:
            _, key, url_token = urlsplit(record["url"]).path.rstrip("/").rsplit("/", 2)
            req = func.HttpRequest(method="POST", url=record["url"], body=json.dumps([record["event"]]).encode(),
                                   headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                                   params={}, route_params={"callKey": key, "token": url_token})
            elapsed, response, counted = await timed(callbacks(req))
            if response.status_code != 200:
                raise RuntimeError(f"callback answered {response.status_code}: {response.get_body()[:300]!r}")
            times.append(elapsed)
            reqs.append(counted)
        await close_services()
        return {"import_ms": import_s * 1000, "index_ms": index_s * 1000,
                "first_incoming_ms": first_s * 1000, "second_incoming_ms": second_s * 1000,
                "first_callback_ms": times[0] * 1000, "second_callback_ms": times[1] * 1000,
                "requests": {"first_incoming": first_req, "second_incoming": second_req,
                             "first_callback": reqs[0], "second_callback": reqs[1]}}

    print(json.dumps(asyncio.run(main())), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--first-invocation"]:
        sys.path.insert(0, str(PROJECT_ROOT))
        _child()
    elif sys.argv[1:2] == ["--telemetry"]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="callsteer-bench-pycache-") as cache:
            print(json.dumps(telemetry_cost(int(sys.argv[2]) if len(sys.argv) > 2 else 7, cache), indent=2))
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="callsteer-bench-pycache-") as cache:
            print(json.dumps(import_times(int(sys.argv[1]) if len(sys.argv) > 1 else 5, cache), indent=2))
