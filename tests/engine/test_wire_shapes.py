"""The two messages the websockets send are written in four places: the server's shape
(engine/wire.py), the TypeScript types the pages read them with
(editor/frontend/src/timeline/types.ts), the API document (docs/api.md) and, for an
execution's summary, the REST list's row (engine/serializers.py), whose fields the
Executions page merges with the live message. A field added to one place only passes
every other test (the pages ignore a key their type lacks; TypeScript cannot see the
server), so these tests compare the lists and say which file lacks which name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from engine import wire
from engine.serializers import ExecutionSummarySerializer

ROOT = Path(__file__).resolve().parents[2]
TS_TYPES = ROOT / "editor/frontend/src/timeline/types.ts"
API_DOC = ROOT / "docs/api.md"


def _event_keys() -> set[str]:
    row = {column: None for column in wire.EVENT_COLUMNS} | {"ts": datetime.now(UTC)}
    return set(wire.event_message(row))


def _summary_keys() -> set[str]:
    row = {column: None for column in wire.SUMMARY_COLUMNS}
    return set(wire.execution_summary(row))


def _ts_interface_fields(name: str) -> set[str]:
    text = TS_TYPES.read_text(encoding="utf-8")
    body = re.search(rf"export interface {name} \{{(.*?)\n\}}", text, re.S)
    assert body, f"{TS_TYPES.relative_to(ROOT)} has no `export interface {name}`"
    return set(re.findall(r"^\s+(\w+)\??:", body.group(1), re.M))


def _ts_execution_row_fields() -> set[str]:
    text = TS_TYPES.read_text(encoding="utf-8")
    declaration = re.search(r"export type ExecutionRow = (.*?);", text, re.S)
    assert declaration, f"{TS_TYPES.relative_to(ROOT)} has no `export type ExecutionRow`"
    return set(re.findall(r'"(\w+)"', declaration.group(1)))


def _differences(server: set[str], other: set[str], where: str, add_how: str) -> list[str]:
    return ([f"{where} lacks {name!r}: {add_how}" for name in sorted(server - other)]
            + [f"{where} has {name!r}, which engine/wire.py does not send: remove it or send it"
               for name in sorted(other - server)])


def test_the_event_message_is_typed_and_documented_as_sent() -> None:
    sent = _event_keys()
    example = re.search(r'```json\n(\{"seq".*?\})\n```', API_DOC.read_text(encoding="utf-8"), re.S)
    assert example, "docs/api.md lost its example event (```json {\"seq\": …} ```)"
    documented = set(re.findall(r'"(\w+)":', example.group(1)))
    problems = [
        *_differences(sent, _ts_interface_fields("StreamEvent"), "StreamEvent in editor/frontend/src/timeline/types.ts",
                      "add it with its type"),
        *_differences(sent, documented, "docs/api.md's example event (\"One execution\")", "add it to the example"),
    ]
    assert not problems, "\n".join(problems)


def test_the_execution_status_message_is_typed_documented_and_a_row_of_the_rest_list() -> None:
    sent = _summary_keys()
    line = re.search(r'`\{"type": "execution.status", "execution": \{([^}]*)\}\}`', API_DOC.read_text(encoding="utf-8"))
    assert line, "docs/api.md lost the execution.status message's line (\"Your executions\")"
    documented = {name.strip() for name in line.group(1).split(",")}
    rest = set(ExecutionSummarySerializer.Meta.fields)
    ts_row = _ts_execution_row_fields()
    problems = [
        *_differences(sent, documented, "docs/api.md's execution.status line (\"Your executions\")",
                      "add it to the list in braces"),
        *[f"ExecutionRow in editor/frontend/src/timeline/types.ts lacks {name!r}: add it to its Pick<…> list"
          for name in sorted(sent - ts_row)],
        # The Executions page merges a live message into the row the REST list gave it.
        *[f"ExecutionSummarySerializer in engine/serializers.py (GET /api/executions) lacks {name!r}, which the "
          "websocket's execution.status sends: add the field there too, so a listed row and a live one agree"
          for name in sorted(sent - rest)],
    ]
    assert not problems, "\n".join(problems)
