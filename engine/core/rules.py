"""The strict part of definition validation (SPEC §3): the schema of the keys around the
node configs (the definition, its nodes and edges, `edges[].branch`, `settings`), unknown
keys with a suggestion of the nearest known one, numbers outside their documented range,
and the rules about where a policy can apply.

Unknown keys are found by walking the value along its schema, not by jsonschema's
`additionalProperties: false` (whose message, "Additional properties are not allowed
('x' was unexpected)", names no alternative). The schemas served to the editor keep
`additionalProperties: false`; jsonschema checks types and ranges on a copy without it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from engine.nodes.base import (
    MAX_CONCURRENCY,
    MAX_QUEUE_SIZE,
    ON_TIMEOUT_DESCRIPTION,
    PARALLEL_POLICY_SCHEMA,
    RETRY_SCHEMA,
    duration_ms,
)

DEFINITION_KEYS = ("schemaVersion", "name", "description", "settings", "nodes", "edges")
NODE_KEYS = ("id", "type", "name", "position", "config", "parentId")
# Node ids and names, and branch names, are copied into every node run, event and dead
# letter; these are the widths of those columns (engine.models), so a longer one would be
# saved here and then fail every run on PostgreSQL (SQLite does not enforce widths).
MAX_NODE_ID_LENGTH = 100
# Characters a node id may not hold: a run names a loop item's node runs by a scope such as
# `loop#3/inner#0`, and redrives, dead letters and traces read the loop's id back out of it.
# A loop whose id held one was read as another node: a redrive re-ran its failed item but
# left that item's dead letter open, offering to run it yet again.
NODE_ID_SEPARATORS = ("/", "#")
MAX_NODE_NAME_LENGTH = 200
MAX_BRANCH_NAME_LENGTH = 200
MAX_NOTIFY_ADDRESSES = 20
# Loops inside loops, at most this deep (a node in the innermost of 32 nested loops is
# inside 32). The engine starts a nested loop's items recursively (about seven frames a
# level): 400 levels failed the run with a RecursionError. Far past any drawn workflow.
MAX_NESTING = 32
MAX_POSITION = 1e9  # a node's canvas coordinates, each way: far past any canvas a person draws
EDGE_KEYS = ("id", "source", "target", "sourceHandle", "branch")
SIGNAL_ACTIONS = ("pause", "resume", "cancel", "custom")

BRANCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Branch",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z_$][A-Za-z0-9_$]*$", "maxLength": MAX_BRANCH_NAME_LENGTH},
        "timeout": duration_ms(1, "ms from the branch's first node start to its last node's end"),
        "onTimeout": {"type": "string", "enum": ["cancel", "continue", "error"], "default": "error",
                      "description": ON_TIMEOUT_DESCRIPTION},
        "retry": RETRY_SCHEMA,
        # `route` is a node's error handle; a branch has none.
        "onError": {"type": "string", "enum": ["fail", "continue"], "default": "fail",
                    "description": "after the branch's last attempt, fail: the join sees a failed branch; "
                                   "continue: the branch succeeds with {error}"},
    },
    "additionalProperties": False,
}
# Handles that choose a path instead of starting a branch: they never fan out.
ROUTING_HANDLES = frozenset({"true", "false", "error"})
BRANCH_POLICY_KEYS = ("timeout", "onTimeout", "retry", "onError")

SIGNAL_HANDLER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(SIGNAL_ACTIONS)},
        "cleanup": {"type": "boolean", "description": "pause: interrupt the runs in flight"},
        "rollback": {"type": "boolean", "description": "cancel: run the compensate nodes"},
        # Bounded: one cancel sends one mail to all of them, with the canceller's reason in
        # it, so an unbounded list made the server a mail relay for anyone with an account.
        "notify": {"type": "array", "items": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$"},
                   "maxItems": MAX_NOTIFY_ADDRESSES,
                   "description": f"cancel: e-mail addresses told of the cancel (at most {MAX_NOTIFY_ADDRESSES})"},
        "handler": {"type": "string", "minLength": 1, "description": "custom: the node id to run"},
    },
    "required": ["action"],
    "additionalProperties": False,
}
# Which options each action reads: any other option would silently do nothing.
HANDLER_OPTIONS = {"pause": {"cleanup"}, "resume": set(), "cancel": {"rollback", "notify"}, "custom": {"handler"}}

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Settings",
    "properties": {
        "maxConcurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY, "default": 32,
                           "description": "node runs of one execution in flight at most"},
        "timeout": duration_ms(1, "ms before the whole execution times out"),
        "variables": {"type": "object", "additionalProperties": True},
        "queue": {
            "type": "object",
            "properties": {
                "maxConcurrentRuns": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
                "maxSize": {"type": "integer", "minimum": 1, "maximum": MAX_QUEUE_SIZE},
                "priority": {"type": "string", "enum": ["fifo", "lifo", "priority"], "default": "fifo"},
                "timeout": duration_ms(1, "ms a run may wait in the queue"),
                "deadLetterQueue": {"type": "boolean", "default": False},
            },
            "additionalProperties": False,
        },
        "signalHandlers": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z0-9_.:-]{1,64}$"},
            "additionalProperties": SIGNAL_HANDLER_SCHEMA,
        },
        "parallel": PARALLEL_POLICY_SCHEMA,
    },
    "additionalProperties": False,
}


# -- unknown keys ------------------------------------------------------------------------
def nearest(key: str, known: list[str]) -> str | None:
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {k.lower(): k for k in known}
    return lowered.get(key.lower())


def _object_schema(schema: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
    """The alternative of a `oneOf`/`anyOf` that describes an object (loop `parallel`)."""
    if "properties" in schema or not isinstance(value, Mapping):
        return schema
    for alt in (*schema.get("oneOf", ()), *schema.get("anyOf", ())):
        if isinstance(alt, Mapping) and ("properties" in alt or alt.get("type") == "object"):
            return alt
    return schema


def unknown_keys(schema: Mapping[str, Any], value: Any, where: str) -> Iterator[str]:
    """A message per key of `value` that its schema does not know, recursively."""
    if not isinstance(value, Mapping) or not isinstance(schema, Mapping):
        return
    schema = _object_schema(schema, value) or schema
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if isinstance(props, Mapping) and key in props:
            yield from unknown_keys(props[key], item, f"{where}.{key}")
        elif isinstance(extra, Mapping):
            yield from unknown_keys(extra, item, f"{where}.{key}")
        elif isinstance(props, Mapping) and extra in (None, False):
            yield unknown_key_message(str(key), where, props)


def unknown_key_message(key: str, where: str, props: Mapping[str, Any]) -> str:
    known = sorted(props)
    guess = nearest(key, known)
    if guess is None:
        # The key may belong one level down (`onPartialFailure` straight in settings).
        for name, sub in props.items():
            sub_props = (sub or {}).get("properties") if isinstance(sub, Mapping) else None
            if isinstance(sub_props, Mapping) and key in sub_props:
                guess = f"{name}.{key}"
                break
    if guess is not None:
        return f"{where}: unknown key '{key}' — did you mean '{guess}'?"
    return f"{where}: unknown key '{key}' (known keys: {', '.join(known)})"


# -- types and ranges --------------------------------------------------------------------
def _without_closed_objects(schema: Any) -> Any:
    if isinstance(schema, Mapping):
        return {k: _without_closed_objects(v) for k, v in schema.items()
                if not (k == "additionalProperties" and v is False)}
    if isinstance(schema, list):
        return [_without_closed_objects(v) for v in schema]
    return schema


@cache
def _validator(schema_text: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_without_closed_objects(json.loads(schema_text)))


def validator_for(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    return _validator(json.dumps(schema, sort_keys=True))


def _deepest(error: ValidationError) -> ValidationError:
    """For a failed `oneOf` (boolean or policy object), the problem inside the object."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # The alternative of the value's own type speaks: not "is not of type 'boolean'".
        # Only a type error about the value itself is the wrong alternative's; one deeper
        # down (a policy's `collectErrors: "yes"`) is the problem to name.
        relevant = [e for e in error.context if e.validator != "type" or e.relative_path] or error.context
        inner = best_match(relevant)
        return _deepest(inner) if inner is not None else error
    return error


def schema_problems(schema: Mapping[str, Any], value: Any, where: str,
                    validator: jsonschema.Draft202012Validator | None = None) -> list[str]:
    """Unknown keys first, then type and range problems, each prefixed with its path."""
    problems = list(unknown_keys(schema, value, where))
    for error in sorted((validator or validator_for(schema)).iter_errors(value), key=str):
        error = _deepest(error)
        path = ".".join(str(p) for p in error.absolute_path)
        problems.append(f"{where}{'.' + path if path else ''}: {_plain(error)}")
    return problems


def _plain(error: ValidationError) -> str:
    """jsonschema's message, with a huge or tiny number named as the user wrote it and the
    documented range said in words."""
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{error.instance!r} is out of range: allowed {low} to {high}"
    # Said by size, not by echoing the value: it may be megabytes long.
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"is {len(error.instance)} characters long; at most {error.validator_value} are allowed"
    if error.validator == "maxItems" and isinstance(error.instance, list):
        return f"has {len(error.instance)} items; at most {error.validator_value} are allowed"
    if error.validator == "pattern" and isinstance(error.schema, Mapping) and error.schema.get("x-pattern-says"):
        shown = error.instance if len(error.instance) <= 40 else f"{error.instance[:40]}…"
        return f"{shown!r} is not {error.schema['x-pattern-says']}"
    if error.validator == "enum" and isinstance(error.instance, str):
        choices = [str(c) for c in error.validator_value]
        guess = nearest(error.instance, choices)
        return (f"{error.instance!r} is not one of {', '.join(repr(c) for c in choices)}"
                + (f" — did you mean '{guess}'?" if guess else ""))
    return error.message
