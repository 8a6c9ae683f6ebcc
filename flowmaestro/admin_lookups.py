"""Admin lists answer bad filter values with Django's own "?e=1" redirect, never a 500.

Django's admin turns the errors it expects from a filter in the address into
`IncorrectLookupParameters` (redirect to `?e=1`, which shows "Please correct the errors
below"). Some get past that guard because they only surface later, while the list's SQL is
built or run: `?created_at__year=99999` (ValueError from the year's bounds),
`?created_at__year=<30 digits>` (OverflowError), `date_hierarchy`'s year 9999 (its
`to_date` is year 10000), `?execution__exact=<30 digits>` (OverflowError from SQLite's
driver), `?type__regex=(` (SQLite: "user-defined function raised exception"; PostgreSQL:
DataError). Every FlowMaestro admin derives from `ModelAdmin` here, so each of its
changelists builds the SQL before answering and reads a failure as a bad lookup.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet
from django.db import DataError, OperationalError, transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

M = TypeVar("M", bound=Model)

# Errors of a value that names a real field but cannot be used as that field's value.
_BAD_VALUE = (ValueError, OverflowError, TypeError)


def _check_patterns(params: dict[str, Any]) -> None:
    """A `__regex` / `__iregex` value must compile: SQLite runs it in Python per row (its
    failure is an OperationalError indistinguishable from others), PostgreSQL refuses it."""
    for key, value in params.items():
        if key.endswith(("__regex", "__iregex")):
            for pattern in value if isinstance(value, list) else [value]:
                try:
                    re.compile(str(pattern))
                except re.error as e:
                    raise IncorrectLookupParameters(e) from e


class LookupSafeChangeList(ChangeList):
    def get_filters(self, request: HttpRequest) -> Any:
        _check_patterns(dict(request.GET.lists()))
        try:
            return super().get_filters(request)
        except _BAD_VALUE as e:
            raise IncorrectLookupParameters(e) from e

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        queryset = super().get_queryset(request, exclude_parameters)
        try:
            # Builds the SQL without running it: lookups that check their value only here
            # (a year's bounds) fail now, inside Django's guard, not while the page renders.
            queryset.query.get_compiler(using=queryset.db).as_sql()
        except EmptyResultSet:
            pass  # a filter that matches nothing (an id past the column's range): an empty list
        except _BAD_VALUE as e:
            raise IncorrectLookupParameters(e) from e
        return queryset

    def get_results(self, request: HttpRequest) -> None:
        try:
            # A savepoint: on PostgreSQL a refused value must not spoil an outer transaction.
            with transaction.atomic(using=self.queryset.db):
                super().get_results(request)
        except (OverflowError, DataError) as e:
            raise IncorrectLookupParameters(e) from e
        except OperationalError as e:
            # SQLite: a Python function the query calls (REGEXP) failed on a value.
            if "user-defined function raised exception" not in str(e):
                raise
            raise IncorrectLookupParameters(e) from e


class ModelAdmin(admin.ModelAdmin[M]):
    """The base of every FlowMaestro admin (tests/security/test_admin_bad_lookups.py walks
    the registry and fails on one that is not)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LookupSafeChangeList
