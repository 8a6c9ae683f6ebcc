"""SQL helpers of the Django store: values adapted as the ORM would send them, `IN (…)`
chunks, prepared INSERTs. The engine's writer builds tens of thousands of rows a second in a
big loop, so the store writes with plain statements and these helpers rather than the ORM's
per-object work.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC
from operator import itemgetter
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Field, Model

from engine.core.json_bounds import strict_dumps, without_nul

NODE_RUN_FIELDS = [
    "node_id", "name", "type", "scope", "status", "attempt", "iteration", "branch_id", "branch_name", "trace_id",
    "queued_at", "started_at", "finished_at", "input", "output", "error", "handle", "claimed_by", "pinned", "seq",
]


JSON_FIELDS = {"input", "output", "error", "data", "state"}
DATETIME_FIELDS = {"queued_at", "started_at", "finished_at", "ts", "heartbeat_at"}


# SQLite and MySQL store naive datetimes in the connection's time zone: UTC unless
# DATABASES["default"]["TIME_ZONE"] says otherwise. PostgreSQL takes aware values as they are.
_DB_IN_UTC = connection.vendor != "postgresql" and settings.USE_TZ and not connection.settings_dict.get("TIME_ZONE")


def adapt(field: str, value: Any, ops: Any = None) -> Any:
    """Python value → database parameter, as the ORM would send it. Pass `ops`
    (`connection.ops`) in loops: the connection proxy's look-up is thread-local and costs
    more than the conversion."""
    if value is None:
        return None
    if field in JSON_FIELDS:
        try:
            # The C encoder; DjangoJSONEncoder (same text for plain JSON) only for the rest.
            # NaN and Infinity are refused here, by name, rather than by the database's
            # JSON check (the engine then fails only the execution that holds them). A NUL,
            # which PostgreSQL's jsonb cannot hold, is refused at every door; should one get
            # past them it is written as U+FFFD rather than failing the execution's write.
            return without_nul(strict_dumps(value))
        except TypeError:
            return (ops or connection.ops).adapt_json_value(value, DjangoJSONEncoder)
        except ValueError as exc:
            raise UnstorableValue(f"its {field} holds a number that is not finite (NaN or Infinity)"
                                  if "Out of range float" in str(exc) else f"its {field}: {exc}") from None
        except RecursionError:
            raise UnstorableValue(f"its {field} is nested too deeply") from None
    if field in DATETIME_FIELDS:
        if value.tzinfo is UTC and _DB_IN_UTC:
            return str(value.replace(tzinfo=None))  # what the backend does for UTC, minus its checks
        return (ops or connection.ops).adapt_datetimefield_value(value)
    return value


class UnstorableValue(ValueError):
    """A value the database cannot hold as JSON (the message names the field and why)."""


def json_value(value: Any) -> Any:
    """A JSON column read with a raw query: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def in_chunks(ids: list[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """`ids` in chunks under SQLite's bound-variable limit, each with its `%s, %s, …` list
    for an `IN (…)` clause."""
    for start in range(0, len(ids), size):
        chunk = ids[start:start + size]
        yield chunk, ", ".join(["%s"] * len(chunk))


def row_builder(fields: list[str]) -> Callable[[dict[str, Any], Any], list[Any]]:
    """`row -> parameters` for `fields`, adapting only the fields that need it: the writer
    builds tens of thousands of these per second in a big loop."""
    plain = itemgetter(*fields)
    special = [(i, f) for i, f in enumerate(fields) if f in JSON_FIELDS or f in DATETIME_FIELDS]

    def build(row: dict[str, Any], ops: Any) -> list[Any]:
        values = list(plain(row))
        for i, field in special:
            values[i] = adapt(field, values[i], ops)
        return values

    return build


def columns(model: Any, fields: list[str]) -> list[str]:
    return [connection.ops.quote_name(model._meta.get_field(f).column) for f in fields]



# Per model: the INSERT, its fields, whether the database numbers the row (an AutoField),
# and whether the number comes back with the INSERT (RETURNING) rather than as lastrowid.
_INSERTS: dict[type[Model], tuple[str, list[Field[Any, Any]], bool, bool]] = {}


def insert(instance: Model) -> None:
    """`instance.save()` of a new row, with the INSERT statement built once per model
    instead of compiled by the ORM per call (~0.2 ms each on the run endpoint's path).
    Values are prepared by each field exactly as the ORM prepares them (`pre_save` fills
    `auto_now_add`, `get_db_prep_save` adapts JSON and datetimes); there are no
    `pre_save`/`post_save` receivers for the models this is used on."""
    model = type(instance)
    cached = _INSERTS.get(model)
    if cached is None:
        meta = model._meta
        qn = connection.ops.quote_name
        auto_pk = bool(getattr(meta.pk, "db_returning", False))  # an AutoField: the database numbers it
        fields = [f for f in meta.concrete_fields if not (auto_pk and f.primary_key)]
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))})")
        returning = auto_pk and connection.features.can_return_columns_from_insert
        if returning:
            sql += f" RETURNING {qn(meta.pk.column)}"  # type: ignore[union-attr]
        cached = _INSERTS[model] = (sql, fields, auto_pk, returning)
    sql, fields, auto_pk, returning = cached
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto_pk:
            instance.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias


_PAIRS: dict[tuple[type[Model], type[Model], str], tuple[str, list[Field[Any, Any]], list[Field[Any, Any]]]] = {}


def insert_with_child(parent: Model, child: Model, link: str) -> None:
    """`insert(parent)` then `insert(child)` with `child.<link>` set to the new parent, as
    one statement on PostgreSQL (a data-modifying CTE): atomic by itself, so one round
    trip instead of four (BEGIN, two INSERTs, COMMIT). The run endpoint makes an execution
    with its first event this way; on a 2-core machine shared with the workers and the
    database, each round trip also cost a context switch (docs/performance.md, scale-out).
    Elsewhere (SQLite, a database without RETURNING): both inserts in one transaction."""
    model, child_model = type(parent), type(child)
    meta, child_meta = model._meta, child_model._meta
    auto_pk = bool(getattr(meta.pk, "db_returning", False))
    if connection.vendor != "postgresql" or not auto_pk:
        with transaction.atomic():
            insert(parent)
            setattr(child, link, parent)
            insert(child)
        return
    key = (model, child_model, link)
    cached = _PAIRS.get(key)
    if cached is None:
        qn = connection.ops.quote_name
        link_field = child_meta.get_field(link)
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        child_auto = bool(getattr(child_meta.pk, "db_returning", False))
        child_fields = [f for f in child_meta.concrete_fields
                        if f is not link_field and not (child_auto and f.primary_key)]
        pk = qn(meta.pk.column)  # type: ignore[union-attr]
        link_column = qn(str(link_field.column))  # type: ignore[union-attr]
        sql = (f"WITH p AS (INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {pk}) "
               f"INSERT INTO {qn(child_meta.db_table)} ({link_column}, "
               f"{', '.join(qn(f.column) for f in child_fields)}) "
               f"VALUES ((SELECT {pk} FROM p), {', '.join(['%s'] * len(child_fields))}) "
               f"RETURNING {link_column}")
        cached = _PAIRS[key] = (sql, fields, child_fields)
    sql, fields, child_fields = cached
    params = [f.get_db_prep_save(f.pre_save(parent, True), connection) for f in fields]
    params += [f.get_db_prep_save(f.pre_save(child, True), connection) for f in child_fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        parent.pk = cursor.fetchone()[0]
    for instance in (parent, child):
        instance._state.adding = False
        instance._state.db = connection.alias
    setattr(child, link, parent)


def keep_connection() -> None:
    """The coordinator's connection lives as long as the engine, whatever CONN_MAX_AGE
    (a setting for requests) says: a claim that reconnected would pay a connect, the
    PRAGMAs and a cold page cache. Reconnect only when an error has left it unusable (as
    Django's own health check does)."""
    if connection.connection is not None and connection.errors_occurred:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()

