"""The execution's final event goes to every watching websocket: its error is cut like a
node run's output in events (over 4,000 characters: `{"truncated": true, "size"}`),
while the execution row keeps it whole (issue 12)."""

from __future__ import annotations

import json

from tests.engine.core_runner import CoreRunner


def _failing(message: str) -> dict[str, object]:
    return {
        "schemaVersion": 1, "name": "fails", "settings": {},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "boom", "type": "fail", "config": {"message": message}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "boom"}],
    }


def test_a_big_error_is_cut_in_the_final_event_and_whole_in_the_row(core: CoreRunner) -> None:
    result = core.run(_failing("{{input.text}}"), {"text": "x" * 20_000})
    assert result["status"] == "failed"
    final = next(e for e in result["events"] if e["type"] == "execution.failed")
    # The row keeps the error (its message as long as the node makes it), the event its size.
    assert len(json.dumps(result["error"])) > 10_000
    assert final["data"]["error"] == {"truncated": True, "size": len(json.dumps(result["error"]))}


def test_a_small_error_stays_whole_in_the_final_event(core: CoreRunner) -> None:
    result = core.run(_failing("short"))
    final = next(e for e in result["events"] if e["type"] == "execution.failed")
    assert final["data"]["error"] == result["error"]
