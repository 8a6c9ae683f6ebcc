"""A JSONField whose stored values can always be read back.

A value stored before the engine bounded JSON (engine.core.json_bounds), e.g. a node
output nested 950 deep, made every page that read it answer 500: the decoder or, later,
the renderer ran out of recursion, and one row broke the user's list, the staff's
`/api/executions` and the admin. Such a value now reads as a short note saying why it is
not shown; everything else reads exactly as Django's JSONField reads it.

Its form field (the admin's JSON boxes: a definition, a schedule's input) refuses an object
that names a key twice, as the API does: Django's keeps the last one silently.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db import models
from django.forms.fields import InvalidJSONInput

from engine.core.json_bounds import DEFAULT_MAX_DEPTH, DEFAULT_OUTPUT_MAX_DEPTH, depth_exceeds, repeated_key


def read_max_depth() -> int:
    """Twice the deepest value the engine lets in: room for anything it stored itself."""
    return 2 * max(int(getattr(settings, "FLOWMAESTRO_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)),
                   int(getattr(settings, "FLOWMAESTRO_OUTPUT_MAX_DEPTH", DEFAULT_OUTPUT_MAX_DEPTH)))


def unreadable(reason: str) -> dict[str, str]:
    return {"unreadable": f"this stored value is not shown: {reason}"}


class UniqueKeysJSONFormField(forms.JSONField):
    """Django's JSON form field, but `{"a": 1, "a": 2}` is a form error naming the key and
    where it is, instead of `{"a": 2}` saved."""

    def _what(self) -> str:
        return f"the {str(self.label).lower()}" if self.label else "the value"

    def to_python(self, value: Any) -> Any:
        if not self.disabled and isinstance(value, str) and value not in self.empty_values:
            problem = repeated_key(value, what=self._what())
            if problem:
                raise forms.ValidationError(problem, code="duplicate_key")
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        # The form comes back with the text as typed: parsed and written again, it would show
        # only the last of the two values, the one the person may not have meant.
        if not self.disabled and isinstance(data, str) and repeated_key(data):
            return InvalidJSONInput(data)
        return super().bound_data(data, initial)


class ReadableJSONField(models.JSONField):  # type: ignore[type-arg]
    def formfield(self, form_class: type[forms.Field] | None = None, choices_form_class: Any = None,
                  **kwargs: Any) -> forms.Field | None:
        return super().formfield(form_class=form_class or UniqueKeysJSONFormField,
                                 choices_form_class=choices_form_class, **kwargs)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        limit = read_max_depth()
        try:
            decoded = super().from_db_value(value, expression, connection)
        except RecursionError:
            return unreadable(f"it is nested deeper than {limit} levels")
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            return unreadable(f"{type(exc).__name__}: {str(exc)[:200]}")
        # Fewer brackets than the bound (counted in C) cannot nest deeper: only big values
        # are walked.
        if isinstance(value, str) and value.count("[") + value.count("{") > limit and depth_exceeds(decoded, limit):
            return unreadable(f"it is nested deeper than {limit} levels")
        return decoded

    def deconstruct(self) -> Any:
        # Migrations see Django's JSONField: the column is the same, nothing to migrate.
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.JSONField", args, kwargs
