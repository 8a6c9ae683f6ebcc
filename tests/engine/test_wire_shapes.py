"""The two messages the websockets send are written in four places: the server's shape
(engine/wire.py), the TypeScript types the pages read them with
(editor/frontend/src/timeline/types.ts), the API document (docs/api.md) and, for an
execution's summary, the REST list's row (engine/serializers.py), whose fields the
Executions page merges with the live message. The front end has one type of an execution
(`ExecutionSummary`, and `Execution` with its node runs, in editor/frontend/src/api/types.ts);
the live message's type picks from it, so that type is compared with the serializers too.
A field added to one place only passes every other test (the pages ignore a key their type
lacks; TypeScript cannot see the server), so these tests compare the lists and say which
file lacks which name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from engine import wire
from engine.serializers import ExecutionSerializer, ExecutionSummarySerializer

ROOT = Path(__file__).resolve().parents[2]
TS_TYPES = ROOT / "editor/frontend/src/timeline/types.ts"
TS_API_TYPES = ROOT / "editor/frontend/src/api/types.ts"
API_DOC = ROOT / "docs/api.md"


def _event_keys() -> set[str]:
    row = {column: None for column in wire.EVENT_COLUMNS} | {"ts": datetime.now(UTC)}
    return set(wire.event_message(row))


def _summary_keys() -> set[str]:
    row = {column: None for column in wire.SUMMARY_COLUMNS}
    return set(wire.execution_summary(row))


def _ts_interface_fields(name: str, path: Path = TS_TYPES) -> set[str]:
    text = path.read_text(encoding="utf-8")
    body = re.search(rf"export interface {name}(?: extends \w+)? \{{(.*?)\n\}}", text, re.S)
    assert body, f"{path.relative_to(ROOT)} has no `export interface {name}`"
    return set(re.findall(r"^  (\w+)\??:", body.group(1), re.M))


def _ts_live_execution_fields() -> set[str]:
    text = TS_TYPES.read_text(encoding="utf-8")
    declaration = re.search(r"export type LiveExecution = Pick<ExecutionSummary, (.*?)>;", text, re.S)
    assert declaration, f"{TS_TYPES.relative_to(ROOT)} has no `export type LiveExecution = Pick<ExecutionSummary, …>`"
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
    ts_row = _ts_live_execution_fields()
    problems = [
        *_differences(sent, documented, "docs/api.md's execution.status line (\"Your executions\")",
                      "add it to the list in braces"),
        *_differences(sent, ts_row, "LiveExecution in editor/frontend/src/timeline/types.ts",
                      "add it to its Pick<…> list (and to ExecutionSummary in api/types.ts)"),
        # The Executions page merges a live message into the row the REST list gave it.
        *[f"ExecutionSummarySerializer in engine/serializers.py (GET /api/executions) lacks {name!r}, which the "
          "websocket's execution.status sends: add the field there too, so a listed row and a live one agree"
          for name in sorted(sent - rest)],
    ]
    assert not problems, "\n".join(problems)


def test_the_front_ends_execution_type_is_what_the_api_answers() -> None:
    """`ExecutionSummary` is a row of GET /api/executions (and the timeline's execution);
    `Execution` adds what GET /api/executions/{id} has more. Each field the serializer
    writes is typed, and each typed field is written."""
    summary = set(ExecutionSummarySerializer.Meta.fields)
    detail = set(ExecutionSerializer.Meta.fields) - summary
    problems = []
    for name, serializer, written in (("ExecutionSummary", "ExecutionSummarySerializer", summary),
                                      ("Execution", "ExecutionSerializer", detail)):
        typed = _ts_interface_fields(name, TS_API_TYPES)
        where = f"{name} in editor/frontend/src/api/types.ts"
        problems += [f"{where} lacks {field!r}: add it with its type" for field in sorted(written - typed)]
        problems += [f"{where} has {field!r}, which {serializer} (engine/serializers.py) does not write: "
                     "remove it or write it" for field in sorted(typed - written)]
    assert not problems, "\n".join(problems)
