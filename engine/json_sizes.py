"""JSON columns sized by the database and read only when small (issue 12).

An answer that may cut a value to `{"truncated": true, "size", "url"}` first needs its
size; measuring it in Python means decoding it, and a 1,000,000-item loop's input or
output is 7 MB of JSON (~36 MB as objects) that each request would decode only to throw
away. So the database measures: `with_json_sizes` annotates each field's byte size and,
in the same query, the value itself only when it is at most the bound; the column stays
deferred. `bounded` then gives the value or the marker. Works on PostgreSQL and SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import BigIntegerField, BinaryField, Case, F, Func, Model, QuerySet, Value, When
from django.db.models.expressions import Expression

from engine.fields import ReadableJSONField

M = TypeVar("M", bound=Model)

# The annotation holding the bound a query read its values with.
CAP_NAME = "json_cap"


class JSONTextBytes(Func):
    """The number of bytes of a JSON column's text, computed in the database: PostgreSQL
    renders `jsonb` as text (`octet_length(x::text)`); SQLite stores the text itself, and
    `length()` of it as a blob counts bytes, not characters. NULL stays NULL."""

    template = "LENGTH(CAST(%(expressions)s AS TEXT))"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, output_field=BigIntegerField())

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="octet_length((%(expressions)s)::text)", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="length(CAST(%(expressions)s AS BLOB))", **extra)


class JSONTextAsBytes(Func):
    """A JSON column's text as bytes (`bytea` / blob): a whole-value answer is then one
    copy in Python, handed to the server as it is, never decoded into objects."""

    template = "CAST(%(expressions)s AS TEXT)"

    def __init__(self, expression: Any) -> None:
        super().__init__(expression, output_field=BinaryField())

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="convert_to((%(expressions)s)::text, 'UTF8')", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS BLOB)", **extra)


def size_name(field: str) -> str:
    return f"{field}_bytes"


def inline_name(field: str) -> str:
    return f"{field}_inline"


def with_json_sizes(qs: QuerySet[M], fields: tuple[str, ...], *, cap: int) -> QuerySet[M]:
    """`qs` with, for each of `fields`, its size in bytes (`<field>_bytes`) and its value
    when that is at most `cap` bytes (`<field>_inline`, else NULL), in the same query; the
    columns themselves are deferred, so a large value is never read."""
    annotations: dict[str, Expression] = {CAP_NAME: Value(cap, output_field=BigIntegerField())}
    for field in fields:
        annotations[size_name(field)] = JSONTextBytes(F(field))
        annotations[inline_name(field)] = Case(
            When(**{f"{size_name(field)}__lte": cap}, then=F(field)),
            default=Value(None),
            output_field=ReadableJSONField(null=True),
        )
    return qs.defer(*fields).annotate(**annotations)


def whole_json(qs: QuerySet[M], pk: Any, field: str) -> bytes | None:
    """The JSON text of one row's `field` as the database holds it, as bytes (None: NULL
    or no such row). One query, one copy; nothing is decoded."""
    raw = qs.filter(pk=pk).values_list(JSONTextAsBytes(F(field)), flat=True).first()
    if raw is None:
        return None
    return raw if isinstance(raw, bytes) else bytes(raw)


def marker(size: int, url: str) -> dict[str, Any]:
    return {"truncated": True, "size": size, "url": url}


def bounded(obj: Model, field: str, *, cap: int, url: Callable[[], str]) -> Any:
    """The value of `field` as an answer carries it: whole up to the bound, else the
    `{"truncated": true, "size", "url"}` marker. Read through `with_json_sizes`, nothing
    large was loaded (and that query's bound applies); otherwise the value is in memory
    already (an object made in this request) and is measured as the database stores it."""
    sizes = obj.__dict__
    if size_name(field) in sizes:
        size = sizes[size_name(field)]
        if size is None:  # SQL NULL: no value
            return None
        if size > sizes.get(CAP_NAME, cap):
            return marker(int(size), url())
        return sizes[inline_name(field)]
    value = getattr(obj, field)
    size = len(json.dumps(value, cls=DjangoJSONEncoder).encode())
    return marker(size, url()) if size > cap else value
