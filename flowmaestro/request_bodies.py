"""Request bodies that name only what they accept.

DRF drops keys a serializer does not declare. For the bodies people write by hand (run,
retry, replay, redrive, signal, save, test-expression) that turned a typo into silence:
`{"priorty": 5}` started a run at priority 0 with a 201. These bodies refuse an unknown
key with a 400 that names it and the key it was probably meant to be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.request import Request

from engine.core.rules import nearest

MAX_NAMED = 20
MAX_KEY_SHOWN = 100


def _shown(key: str) -> str:
    return key if len(key) <= MAX_KEY_SHOWN else f"{key[:MAX_KEY_SHOWN]}… ({len(key)} characters)"


class KnownKeysSerializer(serializers.Serializer[Any]):
    """A body serializer that refuses keys it does not declare."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(self.fields)
            # Named as sent, but at most MAX_NAMED keys of at most MAX_KEY_SHOWN characters: a
            # body of 100,000 made-up (or megabyte-long) keys was echoed whole in the 400.
            strays = [str(key) for key in data if key not in self.fields]
            unknown = {_shown(key): [unknown_key_message(key, known)] for key in strays[:MAX_NAMED]}
            if len(strays) > MAX_NAMED:
                unknown["…"] = [f"and {len(strays) - MAX_NAMED} more unknown keys"]
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


# What a 400 echoes of a query parameter's unknown values: a few, each cut short. A
# 15,000-character `status=` came back whole in its 400.
MAX_VALUES_SHOWN = 5
MAX_VALUE_SHOWN = 40


def shown_values(values: list[str]) -> str:
    """`values` as a 400 names them: the first MAX_VALUES_SHOWN, each at most
    MAX_VALUE_SHOWN characters, and how many more there were."""
    named = [repr(v if len(v) <= MAX_VALUE_SHOWN else v[:MAX_VALUE_SHOWN] + "…") for v in values[:MAX_VALUES_SHOWN]]
    more = f" and {len(values) - MAX_VALUES_SHOWN} more" if len(values) > MAX_VALUES_SHOWN else ""
    return ", ".join(named) + more


def unknown_key_message(key: str, known: list[str]) -> str:
    # The same guess as the definition's unknown keys (engine.core.rules).
    guess = nearest(key, known)
    if guess is not None:
        return f"unknown key — did you mean '{guess}'?"
    return f"unknown key (known keys: {', '.join(known)})"


class JSONIntegerField(serializers.IntegerField):
    """A whole number as JSON writes one: `5` (or `5.0`), never text. DRF's IntegerField
    calls int() on whatever it gets, so `"5"`, `"٣"` (Arabic-Indic 3), `"３"` (fullwidth)
    and `"1_000"` were read as numbers: a body meant one thing and ran as another."""

    default_error_messages = {
        "not_json_integer": "must be a JSON number without quotes (such as 5), not {kind}.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            kind = ("true/false" if isinstance(data, bool) else f"the text {str(data)[:40]!r}"
                    if isinstance(data, str) else f"a JSON {type(data).__name__}")
            self.fail("not_json_integer", kind=kind)
        return int(super().to_internal_value(data))


class JSONBooleanField(serializers.BooleanField):
    """`true` or `false` as JSON writes them, nothing else. DRF's BooleanField also reads the
    text "yes", "on", "t", "y", "1" (any case) as true, "no", "off", "f", "n", "0" as false,
    and the numbers 1, 1.0, 0 and 0.0: `{"enabled": "off"}` disabled a schedule with a 200
    while `"disabled"` was a 400, so what a body meant hung on DRF's list of words. Every
    boolean of every serializer is this field (tests/security/test_strict_json_types.py
    walks them)."""

    default_error_messages = {
        "not_json_boolean": "must be true or false (a JSON boolean, without quotes), not {kind}.",
    }

    def to_internal_value(self, data: Any) -> bool:
        # `null` never gets here: DRF answers it before (allow_null or "may not be null").
        if not isinstance(data, bool):
            self.fail("not_json_boolean", kind=_kind(data))
        return data


class JSONStringField(serializers.CharField):
    """Text as JSON writes it, in quotes. DRF's CharField also took a number and stored its
    Python spelling: `{"name": 1.50}` saved the name "1.5", `{"cron": 5}` was read as "5"
    and a redrive's `"nodes": [1e2]` looked for a node "100.0"."""

    default_error_messages = {
        "not_json_string": "must be text (a JSON string, in quotes), not {kind}.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_json_string", kind=_kind(data))
        return str(super().to_internal_value(data))


def _kind(data: Any) -> str:
    if isinstance(data, bool):
        return f"the boolean {'true' if data else 'false'}"
    if isinstance(data, str):
        return f"the text {data[:40]!r}"
    if isinstance(data, int | float):
        return f"the number {data!r}"
    return f"a JSON {'object' if isinstance(data, dict) else 'array' if isinstance(data, list) else type(data).__name__}"


# A yes/no in a query string, where text is the only way to send one: these spellings
# exactly (README, "Limits"). "yes", "on" or "True" were read as no (`?download=yes` showed
# the value instead of saving it) or, elsewhere, as yes.
QUERY_TRUE, QUERY_FALSE = ("true", "1"), ("false", "0")


def query_bool(request: Request, name: str, *, default: bool = False) -> bool:
    """`?name=true|1|false|0` (absent or empty: `default`); anything else is a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw in QUERY_TRUE:
        return True
    if raw in QUERY_FALSE:
        return False
    raise exceptions.ParseError(f"{name} must be true or false (or 1 or 0), not {raw[:40]!r}.")
