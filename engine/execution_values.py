"""Bounded execution values for the API (issue 12): an execution's own `input`, `output`,
`error` and run-scoped `state`.

A 1,000,000-item loop's input is 7 MB of JSON (~36 MB as Python objects). Answered whole,
it made the detail, every list row and the timeline 8.8 MB, and every request decoded it,
so daphne's memory grew while a page watched. So these values are read like node-run
fields (engine.node_run_pages):

- their size is computed by the database (the bytes of their JSON text), and the value
  itself is read only when it is at most `value_cap()` bytes: an eighth of
  `FLOWMAESTRO_PAGE_MAX_BYTES`, 500 KB by default, the node runs' bound;
- beyond it the answer carries `{"truncated": true, "size": <bytes>, "url":
  "/api/executions/{id}/input"}` instead, and that URL answers the whole value as the
  database holds it (`whole_value`), without decoding it in Python.

Everything that reads executions for an answer defers the four columns
(`engine.selectors`), so a request that does not show them (signals, node-run pages,
events) never loads them either.
"""

from __future__ import annotations

from typing import Any

from django.db.models import BigIntegerField, BinaryField, Case, F, Func, QuerySet, Value, When
from django.db.models.expressions import Expression

from engine.fields import ReadableJSONField
from engine.models import Execution
from engine.node_run_pages import page_max_bytes

# The execution columns that can grow with the run's data, in the order the API shows them.
VALUE_FIELDS = ("input", "output", "error", "state")


# A list answer has up to 200 rows: its values are cut at the size of an event's output
# (engine.core.records), so that a list stays a few MB at most however big its runs are.
LIST_VALUE_CAP = 4000


def value_cap() -> int:
    """The largest value answered inline, in bytes of JSON: the node-run fields' bound."""
    return page_max_bytes() // 8


class JSONTextBytes(Func):
    """The number of bytes of a JSON column's text, computed in the database: PostgreSQL
    renders `jsonb` as text (`octet_length(x::text)`); SQLite stores the text itself, and
    `length()` of it as a blob counts bytes, not characters. NULL stays NULL."""

    function = "LENGTH"
    template = "LENGTH(CAST(%(expressions)s AS TEXT))"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, output_field=BigIntegerField())

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="octet_length((%(expressions)s)::text)", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="length(CAST(%(expressions)s AS BLOB))", **extra)


class JSONTextAsBytes(Func):
    """A JSON column's text as bytes (`bytea` / blob): the whole-value answer is then one
    copy in Python, handed to the server as it is, never decoded into objects."""

    template = "CAST(%(expressions)s AS TEXT)"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, output_field=BinaryField())

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="convert_to((%(expressions)s)::text, 'UTF8')", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS BLOB)", **extra)


# The annotation holding the bound a query read its values with.
CAP_NAME = "values_cap"


def _size_name(field: str) -> str:
    return f"{field}_bytes"


def _small_name(field: str) -> str:
    return f"{field}_inline"


def with_values(qs: QuerySet[Execution], fields: tuple[str, ...] = VALUE_FIELDS, *,
                cap: int | None = None) -> QuerySet[Execution]:
    """`qs` with, for each of `fields`, its size in bytes (`<field>_bytes`) and its value
    when that is at most `cap` bytes (default `value_cap()`; `<field>_inline`, else NULL),
    in the same query; the columns themselves stay deferred, so a large value is never
    read."""
    cap = value_cap() if cap is None else cap
    annotations: dict[str, Expression] = {CAP_NAME: Value(cap, output_field=BigIntegerField())}
    for field in fields:
        annotations[_size_name(field)] = JSONTextBytes(F(field))
        annotations[_small_name(field)] = Case(
            When(**{f"{_size_name(field)}__lte": cap}, then=F(field)),
            default=Value(None),
            output_field=ReadableJSONField(null=True),
        )
    return qs.defer(*fields).annotate(**annotations)


def value_url(execution_id: Any, field: str) -> str:
    return f"/api/executions/{execution_id}/{field}"


def truncated(execution_id: Any, field: str, size: int) -> dict[str, Any]:
    return {"truncated": True, "size": size, "url": value_url(execution_id, field)}


def bounded_value(execution: Execution, field: str) -> Any:
    """The value of `field` as an answer carries it: whole up to `value_cap()` bytes, else
    the `{"truncated": true, "size", "url"}` marker. Read through `with_values`, nothing
    large is loaded; an execution made in this request (a retry's new one) holds its
    value already, and it is measured as the database would store it."""
    size_name = _size_name(field)
    if size_name in execution.__dict__:
        size = execution.__dict__[size_name]
        if size is None:  # SQL NULL: no value
            return None
        if size > execution.__dict__.get(CAP_NAME, value_cap()):
            return truncated(execution.pk, field, int(size))
        return execution.__dict__[_small_name(field)]
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    value = getattr(execution, field)
    size = len(json.dumps(value, cls=DjangoJSONEncoder).encode())
    return truncated(execution.pk, field, size) if size > value_cap() else value


def whole_value(execution: Execution, field: str) -> bytes | None:
    """The JSON text of the execution's `field` as the database holds it, as bytes (None:
    the column is NULL). One query, one copy; nothing is decoded."""
    if field not in VALUE_FIELDS:
        raise ValueError(f"{field} is not one of {', '.join(VALUE_FIELDS)}")
    raw = Execution.objects.filter(pk=execution.pk).values_list(JSONTextAsBytes(F(field)), flat=True).first()
    if raw is None:
        return None
    return bytes(raw) if not isinstance(raw, bytes) else raw
