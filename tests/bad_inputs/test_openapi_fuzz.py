"""The control API fuzzed from its own OpenAPI document (schemathesis): never a 5xx, only documented answers.

Every operation of GET /api/openapi.json gets bounded, derandomized examples, valid ones and invalid ones, sent over
HTTP to the app on the local host. Path ids are sometimes a real connected call, so the actions also run against
ACS (the emulator) and the calls table. schemathesis's calls are blocking: they run in a worker thread while the
test's event loop keeps serving the local host and the emulator.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.reliability.helpers import answered_call

pytestmark = pytest.mark.e2e
EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def fuzz(document: dict[str, Any], base_url: str, real_ids: dict[str, str]) -> tuple[Counter, list[str]]:
    schema = schemathesis.openapi.from_dict(document)
    statuses: Counter = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            def with_real_ids(case, use_real):
                if use_real and case.path_parameters:
                    for name, value in real_ids.items():
                        if name in case.path_parameters:
                            case.path_parameters[name] = value
                return case

            strategy = st.builds(with_real_ids, operation.as_strategy(generation_mode=mode), st.booleans())

            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def run(case):
                response = case.call(base_url=base_url, timeout=15)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as exc:  # noqa: BLE001 - collect every operation's failures, then report them all
                    failures.append(f"{operation.label} [{mode.value}] -> {response.status_code}: "
                                    f"{str(exc).splitlines()[0][:300]}")

            try:
                run()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters or body (GET /openapi.json).
                assert mode is GenerationMode.NEGATIVE, operation.label
    return statuses, failures


# Hypothesis warns when the `random` module's state moves while a case is drawn. This test's own strategy never
# touches it; the draws run in a worker thread while the event loop thread serves the app and the emulator, and
# schemathesis's generation sits in between, so the warning names no fault of this test.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_the_control_api_fuzzed_from_its_openapi_document_never_answers_5xx(stack):
    call, _, _ = await answered_call(stack, "+14255550951")
    status, document = await stack.get("/api/openapi.json")
    assert status == 200
    statuses, failures = await asyncio.to_thread(fuzz, document, f"{stack.url}/api", {"callId": call["id"]})
    await stack.emulator.idle(timeout=30)
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= 11 * EXAMPLES
    assert not [s for s in statuses if s >= 500], (statuses, failures[:20])
    assert not failures, "\n".join(sorted(set(failures))[:40])
