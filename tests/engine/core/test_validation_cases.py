"""The shared validation cases (tests/validation_cases.json) against the server's rules.

The same file is run by Vitest against the editor's pre-check
(editor/frontend/tests/validationCases.test.ts), so the two cannot drift apart: each case
names the problems a definition has — severity and node/edge id — and both sides must find
exactly those. Messages may differ (the editor's are shorter); the server's answer wins
when both are shown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.core.graph import validate_definition

CASES = json.loads((Path(__file__).resolve().parents[2] / "validation_cases.json").read_text())


def _problems(issues: list[dict[str, Any]], severity: str) -> list[tuple[str, str | None, str | None]]:
    return [(severity, i.get("nodeId"), i.get("edgeId")) for i in issues]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_server_finds_exactly_the_listed_problems(case: dict[str, Any]) -> None:
    report = validate_definition(case["definition"])
    found = sorted(_problems(report.errors, "error") + _problems(report.warnings, "warning"), key=str)
    expected = sorted(((p["severity"], p.get("nodeId"), p.get("edgeId")) for p in case["problems"]), key=str)
    assert found == expected
