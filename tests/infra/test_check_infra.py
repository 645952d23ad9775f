"""devtools/check_infra.py reads checkov's JSON report: checkov exits 0 on a file it cannot parse."""

from __future__ import annotations

import importlib.util
import sys

from infra_bicep import ROOT

spec = importlib.util.spec_from_file_location("check_infra", ROOT / "devtools" / "check_infra.py")
check_infra = importlib.util.module_from_spec(spec)
sys.modules.setdefault("check_infra", check_infra)  # dataclasses look their module up
spec.loader.exec_module(check_infra)


def report(passed=1, failed=(), skipped=(), parsing_errors=(), resources=3):
    return {
        "check_type": "bicep",
        "results": {
            "passed_checks": [{"check_id": "CKV_AZURE_3"}] * passed,
            "failed_checks": list(failed),
            "skipped_checks": list(skipped),
            "parsing_errors": list(parsing_errors),
        },
        "summary": {"resource_count": resources},
    }


def test_a_clean_report_passes():
    counts = check_infra.summarize_checkov(report(passed=4))
    assert (counts.passed, counts.failed, counts.skipped, counts.problems) == (4, 0, 0, [])


def test_a_parsing_error_is_a_failure():
    counts = check_infra.summarize_checkov(report(parsing_errors=["/x/infra/main.bicep"]))
    assert counts.failed == 1
    assert "could not parse /x/infra/main.bicep" in counts.problems[0]


def test_a_failed_check_is_a_failure_named_in_the_problems():
    failed = {"check_id": "CKV_AZURE_35", "resource": "storage", "file_path": "/core/storage.bicep", "check_name": "deny"}
    counts = check_infra.summarize_checkov(report(failed=[failed]))
    assert counts.failed == 1 and "CKV_AZURE_35" in counts.problems[0]


def test_a_skip_needs_a_reason():
    with_reason = {"check_id": "A", "check_result": {"result": "SKIPPED", "suppress_comment": "because"}}
    without = {"check_id": "B", "check_result": {"result": "SKIPPED", "suppress_comment": "No comment provided"}}
    counts = check_infra.summarize_checkov(report(skipped=[with_reason, without]))
    assert counts.skipped == 2 and counts.failed == 1 and "B" in counts.problems[0]


def test_an_empty_scan_is_a_failure():
    # checkov prints a bare summary, without results, when it finds nothing to scan
    counts = check_infra.summarize_checkov({"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0})
    assert counts.failed == 1 and "scanned no" in counts.problems[0]


def test_a_list_of_reports_is_added_up():
    counts = check_infra.summarize_checkov([report(passed=2), report(passed=3)])
    assert counts.passed == 5 and counts.failed == 0
