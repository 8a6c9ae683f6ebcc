"""Numbers written as text (query strings, rendered templates), read as ASCII only.

Python's `int()` and `float()` take far more than the digits a person types: Arabic-Indic
and fullwidth digits (`int("٣")` is 3, `int("３")` is 3), underscores (`int("1_000")`
is 1000), surrounding whitespace, and for `float` also `inf` and `nan`. A page size of
`٣`, a wait of `1_0` or a delay rendered as `１０００` was silently read as another number
instead of being refused. Everything that reads a number from text goes through here.
Django-free.
"""

from __future__ import annotations

import re

# Whole numbers: optional minus, ASCII digits only.
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
# JSON's number grammar (leading zeros allowed): what `str()` of an int or a float writes
# (`1e+20` included), so a number rendered into a template reads back as itself.
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)


def ascii_int(text: str) -> int | None:
    """`text` as a whole number if it is one written in ASCII digits, else None."""
    return int(text) if isinstance(text, str) and _INTEGER.fullmatch(text) else None


def ascii_number(text: str) -> float | None:
    """`text` as a number if it is one written as JSON writes numbers (ASCII), else None.
    A finite float only: `1e999` is None too."""
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else None


def is_ascii_digits(text: str) -> bool:
    """`str.isdigit`, but for 0-9 only (`"٣".isdigit()` is True)."""
    return text.isascii() and text.isdigit()
