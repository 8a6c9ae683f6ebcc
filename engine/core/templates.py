"""`{{path}}` templates (SPEC §4.2): path look-ups only, nothing is evaluated.

A string that is exactly one `{{path}}` keeps the JSON type of what it points at; inside a
longer string a value is rendered as text (objects and lists as JSON). Parsed templates are
cached by string, so rendering the same config for 10,000 loop items parses it once.

With `max_chars`, what a config renders to is bounded (`json_bounds.json_size`): a template
inside a longer string copies its value, so `"{{input.s}}"` written 100 times made 100 MB of
a 1 MB input; and a value referenced whole is shared, not copied, but every reader that
writes the config out (an HTTP body, the node's output) repeats it. The text is counted
before it is made; the first whole reference costs nothing to count (one reference cannot
multiply anything, and what it points at was bounded when it was made).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from engine.core.json_bounds import json_size, too_large
from engine.core.numerals import is_ascii_digits

_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# `[0-9]`, not `\d`: `{{items[٣]}}` must not read items[3] (see engine.core.numerals).
_SEGMENT = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")

_MISSING = object()
_NOTHING: frozenset[str] = frozenset()


@lru_cache(maxsize=8192)
def parse_path(path: str) -> tuple[str, ...]:
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in _SEGMENT.finditer(path.strip()))


@lru_cache(maxsize=8192)
def _compile(text: str) -> tuple[bool, tuple[str | tuple[str, ...], ...]]:
    """(is_whole, parts): parts alternate literal strings and parsed paths."""
    whole = _TEMPLATE.fullmatch(text.strip()) if text.strip().startswith("{{") else None
    if whole and text.strip().count("{{") == 1:
        return True, (parse_path(whole.group(1)),)
    parts: list[str | tuple[str, ...]] = []
    pos = 0
    for match in _TEMPLATE.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(parse_path(match.group(1)))
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return False, tuple(parts)


def lookup(context: Mapping[str, Any], path: tuple[str, ...] | str) -> Any:
    """Follow `path` through dicts and lists; a missing step gives None."""
    if isinstance(path, str):
        path = parse_path(path)
    value: Any = context
    for step in path:
        if isinstance(value, Mapping):
            value = value.get(step, _MISSING)
        elif isinstance(value, list | tuple) and is_ascii_digits(step.removeprefix("-")):
            index = int(step)
            value = value[index] if -len(value) <= index < len(value) else _MISSING
        elif step == "length" and isinstance(value, list | tuple | str):
            value = len(value)
        else:
            value = _MISSING
        if value is _MISSING:
            return None
    return value


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)


class _Budget:
    """What one `render` may still produce, in characters of JSON."""

    __slots__ = ("limit", "used", "memo", "whole_refs")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.memo: dict[int, int] = {}  # json_size's, shared by the config's references
        self.whole_refs = 0

    def charge(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise too_large("the config with its templates filled in", self.limit)

    def size(self, value: Any) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, dict | list | tuple):
            return json_size(value, self.limit, self.memo)
        return 0


def render_string(text: str, context: Mapping[str, Any], budget: _Budget | None = None) -> Any:
    if "{{" not in text:
        return text
    whole, parts = _compile(text)
    if whole:
        path = parts[0]
        assert isinstance(path, tuple)
        value = lookup(context, path)
        if budget is not None:
            budget.whole_refs += 1
            if budget.whole_refs > 1:
                budget.charge(budget.size(value))
        return value
    if budget is None:
        return "".join(p if isinstance(p, str) else _as_text(lookup(context, p)) for p in parts)
    pieces = []
    for part in parts:
        if isinstance(part, str):
            piece = part
        else:
            value = lookup(context, part)
            # A list or object is counted before it is written out as text.
            if isinstance(value, dict | list | tuple) and budget.used + budget.size(value) > budget.limit:
                budget.charge(budget.size(value))
            piece = _as_text(value)
        budget.charge(len(piece))
        pieces.append(piece)
    return "".join(pieces)


def render(value: Any, context: Mapping[str, Any], *, skip: frozenset[str] = _NOTHING,
           max_chars: int | None = None) -> Any:
    """Render every template in a JSON value; keys in `skip` (top level only) stay raw.
    With `max_chars`: raises `json_bounds.TooLarge` when the templates would make more."""
    return _render(value, context, skip, _Budget(max_chars) if max_chars is not None else None)


def _render(value: Any, context: Mapping[str, Any], skip: frozenset[str], budget: _Budget | None) -> Any:
    if isinstance(value, str):
        return render_string(value, context, budget)
    if isinstance(value, Mapping):
        return {k: (v if k in skip else _render(v, context, _NOTHING, budget)) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context, _NOTHING, budget) for v in value]
    return value


def has_templates(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, Mapping):
        return any(has_templates(v) for v in value.values())
    if isinstance(value, list):
        return any(has_templates(v) for v in value)
    return False
