"""Bounded execution values for the API (issue 12): an execution's own `input`, `output`,
`error` and run-scoped `state`.

A 1,000,000-item loop's input is 7 MB of JSON (~36 MB as Python objects). Answered whole,
it made the detail, every list row and the timeline 8.8 MB, and every request decoded it,
so daphne's memory grew while a page watched. So these values are read like node-run
fields (engine.node_run_pages), through `engine.json_sizes`:

- their size is computed by the database (the bytes of their JSON text), and the value
  itself is read only when it is at most `value_cap()` bytes: an eighth of
  `FLOWMAESTRO_PAGE_MAX_BYTES`, 500 KB by default, the node runs' bound (list rows:
  `LIST_VALUE_CAP`);
- beyond it the answer carries `{"truncated": true, "size": <bytes>, "url":
  "/api/executions/{id}/input"}` instead, and that URL answers the whole value as the
  database holds it (`whole_value`), without decoding it in Python.

Everything that reads executions for an answer defers the four columns
(`engine.selectors`), so a request that does not show them (signals, node-run pages,
events) never loads them either.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from engine.json_sizes import bounded, whole_json, with_json_sizes
from engine.models import Execution
from engine.node_run_pages import value_cap

# The execution columns that can grow with the run's data, in the order the API shows them.
VALUE_FIELDS = ("input", "output", "error", "state")
# A list answer has up to 200 rows: its values are cut at the size of an event's output
# (engine.core.records), so that a list stays a few MB at most however big its runs are.
LIST_VALUE_CAP = 4000

__all__ = ["LIST_VALUE_CAP", "VALUE_FIELDS", "bounded_value", "value_cap", "value_url", "whole_value", "with_values"]


def with_values(qs: QuerySet[Execution], fields: tuple[str, ...] = VALUE_FIELDS, *,
                cap: int | None = None) -> QuerySet[Execution]:
    """`qs` with `fields` sized by the database and read only when at most `cap` bytes
    (default `value_cap()`)."""
    return with_json_sizes(qs, fields, cap=value_cap() if cap is None else cap)


def value_url(execution_id: Any, field: str) -> str:
    return f"/api/executions/{execution_id}/{field}"


def bounded_value(execution: Execution, field: str) -> Any:
    """The value of `field` as an answer carries it: whole up to the bound, else the
    `{"truncated": true, "size", "url"}` marker (engine.json_sizes.bounded)."""
    return bounded(execution, field, cap=value_cap(), url=lambda: value_url(execution.pk, field))


def whole_value(execution: Execution, field: str) -> bytes | None:
    """The JSON text of the execution's `field` as the database holds it, as bytes (None:
    the column is NULL). One query, one copy; nothing is decoded."""
    if field not in VALUE_FIELDS:
        raise ValueError(f"{field} is not one of {', '.join(VALUE_FIELDS)}")
    return whole_json(Execution.objects.all(), execution.pk, field)
