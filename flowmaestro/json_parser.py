"""The API's JSON parser: DRF's, plus the bounds of `engine.core.json_bounds`.

DRF's parser refuses the literals `NaN` and `Infinity`, but not `1e999` (which Python
reads as `inf`), and a body nested a thousand deep ends in a RecursionError (a 500) or is
stored and breaks every later read of it. Here every request body, and so every
definition, run input and signal data, is finite and nested at most
`FLOWMAESTRO_JSON_MAX_DEPTH` deep, and names each key of an object once (Python's
parser keeps the last of two silently), or the request is a 400 that says which.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]

from engine.core import json_bounds


def max_depth() -> int:
    return int(getattr(settings, "FLOWMAESTRO_JSON_MAX_DEPTH", json_bounds.DEFAULT_MAX_DEPTH))


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (ValueError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        limit = max_depth()
        try:
            return json_bounds.loads(text, max_depth=limit, what="the request body", unique_keys=True)
        except json_bounds.JSONBoundsError as exc:
            raise ParseError(f"{exc} (FLOWMAESTRO_JSON_MAX_DEPTH)" if "nested" in str(exc) else str(exc)) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
