"""What JSON may enter the engine: finite numbers only, nested at most so deep.

Python's `json` reads and writes `NaN`, `Infinity` and numbers like `1e999` (which
become `inf`), but they are not JSON: the database refuses them (SQLite's `JSON_VALID`
check, PostgreSQL's jsonb), browsers' `JSON.parse` refuses them, and one such value in a
shared write used to fail the writes of every execution in it. Deeply nested values are
valid JSON but every later reader pays for them (recursion in the decoder, the renderer,
the admin), so one stored value nested 950 deep broke every list it appeared in.

The NUL character (`\\u0000`) is valid JSON but PostgreSQL's jsonb cannot hold it
("unsupported Unicode escape sequence"): refused too, so that the same value behaves alike
on SQLite and PostgreSQL instead of answering 500 (or failing a write) on one of them.

Request bodies (`unique_keys=True`) also refuse an object that names a key twice: Python
keeps the last one silently, so `{"priority": 9, "priority": 0}` ran at priority 0 and a
definition with two `config` keys saved the one the author did not look at.

So every door checks: request bodies (`flowmaestro.json_parser`), sandbox results and
HTTP response bodies (`loads`), and each node run's output (`storable`). Django-free.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Request bodies: definitions, run inputs, signal data (FLOWMAESTRO_JSON_MAX_DEPTH).
DEFAULT_MAX_DEPTH = 64
# Node outputs (FLOWMAESTRO_OUTPUT_MAX_DEPTH): deeper than inputs, because nodes wrap what
# they receive (a loop's list of item outputs, a merge's object of branches).
DEFAULT_OUTPUT_MAX_DEPTH = 128
# A node run's output and its rendered config, in characters of JSON
# (FLOWMAESTRO_OUTPUT_MAX_BYTES). Templates and joins multiply values without the
# definition growing (`"{{input.s}}"` written 100 times; merges of branches that pass the
# same value on), so without it one small workflow could ask for gigabytes of the memory
# every user's runs share. Far above what a node makes by itself: an HTTP body is at most
# 20 MB, an expression's result 1 MB.
DEFAULT_OUTPUT_MAX_BYTES = 64_000_000
# Values and object keys an `http` node's JSON answer may parse into
# (FLOWMAESTRO_HTTP_JSON_MAX_VALUES): what a parsed answer costs is counted in values, not
# bytes of text. A 20 MB answer of `[{},{},…]` is 7 million empty objects, ~480 MB of
# Python objects (72 bytes each), and one user holds many node threads at once. One value
# costs at most ~100 bytes parsed (36 for `{}`, 59 for a short string, ~64 per key and
# value of `{"a":1}`), so the default keeps one answer under ~100 MB; 5 MB of ordinary
# records (~600,000 values and keys) fits.
DEFAULT_HTTP_JSON_MAX_VALUES = 1_000_000

_PLAIN = (str, int, bool)

# `json.dumps(v, allow_nan=False)` builds a new encoder per call (only the all-defaults call
# reuses one): this one is built once, for the engine's per-node-run hot path.
strict_dumps = json.JSONEncoder(allow_nan=False).encode


# JSON writes NUL only as the escape `\u0000` (a raw control character is a syntax error).
_NUL_REFUSED = "{what} holds a NUL character (\\u0000), which the database cannot store"


class JSONBoundsError(ValueError):
    """A value that must not enter the engine; the message says why, for the user."""


def _refuse_constant(name: str) -> Any:
    raise JSONBoundsError(f"{name} is not a JSON number (only finite numbers are allowed)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONBoundsError(f"the number {text[:40]} is too large for JSON (only finite numbers are allowed)")
    return value


class _Duplicated(dict):  # type: ignore[type-arg]
    """An object read from JSON text that named `duplicate` twice; found by `_duplicate_at`
    after the parse, which knows the path the hook does not."""

    duplicate: str


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no key repeats")  # pragma: no cover (only called when one does)


def _shown_key(key: str) -> str:
    return repr(key if len(key) <= 100 else f"{key[:100]}…")


def _duplicate_at(value: Any, what: str) -> str | None:
    """"duplicate key 'x' in <path> (<what>)" for the first object of `value` (in document
    order) marked `_Duplicated`, or None. Iterative: `value` may be nested deep."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, _Duplicated):
            return f"duplicate key {_shown_key(item.duplicate)} in {f'{path} ({what})' if path else what}"
        if isinstance(item, dict):
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(v, f"{path}[{i}]") for i, v in enumerate(item)]
        else:
            continue
        stack.extend(reversed([c for c in children if isinstance(c[0], dict | list)]))
    return None


def _mark_repeated(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object hook: the object, marked `_Duplicated` when `pairs` name a key twice.
    `dict(pairs)` runs in C; a key is looked for only when the sizes differ."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Duplicated(obj)
    marked.duplicate = _first_repeated(pairs)
    return marked


_ONCE = "each key may appear once in an object (the last one would silently win)"


def repeated_key(text: str | bytes, *, what: str = "the value") -> str | None:
    """What `loads(..., unique_keys=True)` says of JSON text that names a key twice in an
    object ("duplicate key 'x' in nodes[2].config (the definition): …"), else None, also
    for text that is not JSON at all (the caller's own parse says why). For readers that
    check the other bounds after their own parse: the admin's forms."""
    try:
        value = json.loads(text, object_pairs_hook=_mark_repeated)
    except (ValueError, RecursionError):
        return None
    where = _duplicate_at(value, what)
    return f"{where}: {_ONCE}" if where else None


def loads(text: str | bytes, *, max_depth: int | None, what: str = "the value", unique_keys: bool = False) -> Any:
    """`json.loads` that refuses what `storable` would: non-finite numbers and nesting
    deeper than `max_depth` (None: only what Python's recursion limit refuses), and with
    `unique_keys` an object that names a key twice ("duplicate key 'x' in nodes[2].config").
    Other syntax errors stay `json.JSONDecodeError`."""
    repeated = False

    def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # `dict(pairs)` runs in C; a key is looked for only when the sizes differ, so the
        # hook costs one Python call per object: a 2 MB definition parses as fast as
        # before, 2.9 MB of 200,000 one-key objects ~35% slower (0.2 s → 0.27 s).
        nonlocal repeated
        obj = _mark_repeated(pairs)
        if type(obj) is _Duplicated:
            repeated = True
        return obj

    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                           object_pairs_hook=unique_pairs if unique_keys else None)
    except RecursionError:
        raise JSONBoundsError(f"{what} is nested deeper than {max_depth} levels" if max_depth
                              else f"{what} is nested too deeply") from None
    except JSONBoundsError as exc:
        raise JSONBoundsError(f"{what} is not valid JSON: {exc}") from None
    if max_depth is not None and depth_exceeds(value, max_depth):
        raise JSONBoundsError(f"{what} is nested deeper than {max_depth} levels")
    if repeated:
        raise JSONBoundsError(f"{_duplicate_at(value, what)}: {_ONCE}")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if _has_lone_surrogate(value, text):
        raise JSONBoundsError(f"{what} is not valid JSON: it holds a lone surrogate (\\ud800–\\udfff), "
                              "which is not a character")
    if "\\u0000" in text and has_nul(value):
        raise JSONBoundsError(_NUL_REFUSED.format(what=what))
    return value


# A JSON string (valid JSON has no quote outside its strings): what `json_values` skips.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_VALUE_MARKS = (",", ":", "[", "{")


def json_values_past(text: str, limit: int) -> int | None:
    """How many values and object keys JSON `text` would parse into, when that is more
    than `limit` (else None), counted in the text before it is parsed: one per `,` `:` `[`
    and `{` outside strings (each value after a container's first has its comma, each key
    its colon, each container its bracket). Each such mark is a character, so text no
    longer than `limit` costs nothing; a longer one is counted in C (~0.1 s for 20 MB), and
    only when that quick count, strings included, passes `limit` are the strings cut out
    and the marks counted again. Text that is not JSON is counted the same way."""
    if len(text) <= limit:
        return None
    count = sum(text.count(mark) for mark in _VALUE_MARKS)
    if count > limit and '"' in text:
        outside = _JSON_STRING.sub("", text)
        count = sum(outside.count(mark) for mark in _VALUE_MARKS)
    return count if count > limit else None


def _has_lone_surrogate(value: Any, text: str) -> bool:
    """Does `value` hold a lone UTF-16 surrogate (JSON's "\\ud800" read into Python)? It
    cannot be written as UTF-8, so every later answer that carries it would fail. Checked
    only when the JSON text has a surrogate escape at all (emoji are escaped as pairs)."""
    if "\\ud" not in text and "\\uD" not in text:
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# An error is for a person to read, and it is copied to the node run, the execution, its
# events, a dead letter and every list that shows them: a script that throws megabytes must
# not make each of those megabytes. Messages are cut to this many characters, and any other
# part of an error (a fail node's `details`) longer than this as JSON is replaced by a note.
MAX_ERROR_CHARS = 10_000


def cut_text(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026 ({len(text) - limit} more characters cut)"


def bounded_error(error: dict[str, Any]) -> dict[str, Any]:
    """A node run's error (`{"message", "details"?, …}`) of bounded size, for the reasons above."""
    out = dict(error)
    for key, value in error.items():
        if isinstance(value, str):
            out[key] = cut_text(value)
        elif isinstance(value, dict | list):
            try:
                size = len(strict_dumps(value))
            except (TypeError, ValueError, RecursionError):
                continue  # the write refuses it, with its own reason
            if size > MAX_ERROR_CHARS:
                out[key] = {"truncated": True, "size": size}
    return out


def readable_text(text: str) -> str:
    """`text` meant to be read (a script's log line or error message) with what no database
    can store replaced by U+FFFD: NUL and lone surrogates. Unlike an output, such text is
    not refused: the run goes on, or fails for its own reason, and the line is shown."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


# `\u0000` in JSON text, not preceded by an escaped backslash (`\\u0000` is plain text).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def without_nul(text: str) -> str:
    """JSON text with each NUL character written as U+FFFD: the last guard before a
    database write, so a NUL that got past every door changes one character instead of
    failing the write."""
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def has_nul(value: Any) -> bool:
    """Does a string or key anywhere in `value` hold the NUL character? Iterative."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def depth_exceeds(value: Any, max_depth: int) -> bool:
    """Is `value` nested deeper than `max_depth` (a scalar is depth 0, `[]` and `{}` 1)?
    Iterative: a value nested deeper than Python's recursion limit is answered too."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list) and child:
                stack.append((child, depth + 1))
            elif isinstance(child, dict | list) and depth + 1 > max_depth:
                return True
    return False


class TooLarge(JSONBoundsError):
    """A value whose JSON would be longer than the output bound."""


def too_large(what: str, limit: int) -> TooLarge:
    return TooLarge(f"{what} would be more than {limit} characters of JSON "
                    f"(the bound FLOWMAESTRO_OUTPUT_MAX_BYTES)")


def json_size(value: Any, limit: int, memo: dict[int, int] | None = None) -> int:
    """About how many characters `value`'s JSON text has (never more: strings count without
    their escapes, numbers as one digit), counted without writing it; past `limit` the count
    stops early and only says so. A list or object that appears several times (templates
    and joins share values instead of copying them) counts as often as the text would
    repeat it but is walked once (`memo`, by identity, for the caller's several values).
    A cycle or a nesting deeper than Python's recursion counts as 0: `storable` refuses it
    with its own reason."""
    try:
        return _size(value, limit, {} if memo is None else memo)
    except RecursionError:
        return 0


_CONTAINERS = (dict, list, tuple)


def _size(value: Any, limit: int, memo: dict[int, int]) -> int:
    # Type checks against tuples of types, scalars counted inline: this walk runs on every
    # node's output (a union in isinstance, or a call per item, made it 4x slower).
    if isinstance(value, str):
        return len(value) + 2
    if not isinstance(value, _CONTAINERS):
        return 1
    known = memo.get(id(value))
    if known is not None:
        return known
    total = 2
    if isinstance(value, dict):
        for key, item in value.items():
            # `"key":` and a comma, then the value.
            total += len(key) + 4 if isinstance(key, str) else 5
            if isinstance(item, str):
                total += len(item) + 2
            elif isinstance(item, _CONTAINERS):
                total += _size(item, limit, memo)
                if total > limit:
                    break
            else:
                total += 1
    else:
        for item in value:
            if isinstance(item, str):
                total += len(item) + 3
            elif isinstance(item, _CONTAINERS):
                total += _size(item, limit, memo) + 1
                if total > limit:
                    break
            else:
                total += 2
    if len(value) > 1000 or total > 1000:
        # Only sizable values are worth remembering: a value shared many times is either
        # big or cheap to count again, and a memo entry per small object costs more.
        memo[id(value)] = total
    return total


def storable(value: Any, *, max_depth: int, what: str = "the output", max_bytes: int | None = None) -> Any:
    """`value` as it may be stored: JSON with finite numbers, nested at most `max_depth`
    deep and, with `max_bytes`, at most that many characters of JSON (measured before the
    text is written: see `json_size`). Values that are not JSON types (e.g. a date) become
    their text, as before; raises JSONBoundsError with a message for the user otherwise."""
    if max_bytes is not None and json_size(value, max_bytes) > max_bytes:
        raise too_large(what, max_bytes)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise JSONBoundsError(f"{what} holds a lone surrogate (\\ud800–\\udfff), which is not a character") from None
        if "\x00" in value:
            raise JSONBoundsError(_NUL_REFUSED.format(what=what))
        return value
    if value is None or isinstance(value, _PLAIN):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JSONBoundsError(f"{what} is {value!r}, which is not a JSON number (only finite numbers are allowed)")
        return value
    try:
        text = strict_dumps(value)
    except RecursionError:
        raise JSONBoundsError(f"{what} is nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        if "Circular reference" in str(exc):
            raise JSONBoundsError(f"{what} refers to itself (a circular reference)") from None
        raise JSONBoundsError(f"{what} contains a number that is not finite (NaN or Infinity), "
                              "which JSON cannot hold") from None
    except TypeError:
        # Not a JSON type somewhere (a datetime, a set): stored as its text, as always.
        try:
            text = json.dumps(value, default=str, allow_nan=False)
        except RecursionError:
            raise JSONBoundsError(f"{what} is nested deeper than {max_depth} levels") from None
        except ValueError:
            raise JSONBoundsError(f"{what} contains a number that is not finite (NaN or Infinity), "
                                  "which JSON cannot hold") from None
        value = json.loads(text)
    # Fewer opening brackets than the bound (counted in C, strings included) cannot nest
    # deeper: the walk is only for the few big values.
    if text.count("[") + text.count("{") > max_depth and depth_exceeds(value, max_depth):
        raise JSONBoundsError(f"{what} is nested deeper than {max_depth} levels")
    if _has_lone_surrogate(value, text):
        raise JSONBoundsError(f"{what} holds a lone surrogate (\\ud800–\\udfff), which is not a character")
    # The encoder writes NUL as the escape `\u0000` (ensure_ascii): only then is a walk needed.
    if "\\u0000" in text and has_nul(value):
        raise JSONBoundsError(_NUL_REFUSED.format(what=what))
    return value
