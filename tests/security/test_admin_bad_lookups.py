"""Bad filter values in an admin list's address are Django's "?e=1" answer, never a 500.

Probed: `/admin/engine/execution/?created_at__year=99999` answered 500 — the admin's date
lookups raise ValueError/OverflowError while the list's SQL is built (a year past 9999,
a year of 30 digits), after Django's own `IncorrectLookupParameters` guard has passed.
Every changelist of our apps is walked from the admin registry, with every kind of bad
value its fields can be given, by a logged-in staff user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client

from flowmaestro.admin_lookups import ModelAdmin
from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)

OUR_APPS = {"editor", "engine"}


HUGE = "9" * 30


def bad_lookups(field: models.Field[Any, Any]) -> list[str]:
    """Query strings that name a real field with a value it cannot take: the admin's
    "?e=1" answer is expected."""
    name = field.name
    if isinstance(field, models.DateTimeField | models.DateField):
        return [f"{name}__year=99999", f"{name}__year={HUGE}", f"{name}__year=abc", f"{name}__gte=not-a-date",
                f"{name}__date=2026-13-45", f"{name}__lt={HUGE}"]
    if isinstance(field, models.ForeignKey):
        return [f"{name}=abc", f"{name}__in=1,x"]
    if isinstance(field, models.BooleanField):
        return [f"{name}=maybe", f"{name}__exact=2"]
    if isinstance(field, models.IntegerField | models.BigAutoField | models.AutoField | models.FloatField):
        return [f"{name}=abc", f"{name}__gte=x1", f"{name}__in=1,x", f"{name}__exact=1e999"]
    if isinstance(field, models.UUIDField):
        return [f"{name}=not-a-uuid"]
    if isinstance(field, models.CharField | models.TextField):
        return [f"{name}__regex=(", f"{name}__iregex=[a-"]
    return []


def odd_lookups(field: models.Field[Any, Any]) -> list[str]:
    """Values that can be read as a filter matching nothing (Django answers an empty list,
    a fair answer) or as a bad lookup: either, but never a 500."""
    name = field.name
    if isinstance(field, models.DateTimeField | models.DateField):
        return [f"{name}__year=9999", f"{name}__year=2026&{name}__month=13",
                f"{name}__year=2026&{name}__month=2&{name}__day=30", f"{name}__year=0", f"{name}__year=-5"]
    if isinstance(field, models.ForeignKey):
        return [f"{name}__id__exact=abc", f"{name}__id__exact={HUGE}", f"{name}__exact={HUGE}"]
    if isinstance(field, models.IntegerField | models.BigAutoField | models.AutoField):
        return [f"{name}={HUGE}", f"{name}__lt=-{HUGE}"]
    return []


def our_changelists() -> list[tuple[str, str, list[str], list[str]]]:
    lists = []
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label not in OUR_APPS:
            continue
        lists.append((f"/admin/{meta.app_label}/{meta.model_name}/", meta.label,
                      [q for field in meta.concrete_fields for q in bad_lookups(field)],
                      [q for field in meta.concrete_fields for q in odd_lookups(field)]))
    return lists


def test_every_changelist_of_ours_guards_its_lookups():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in OUR_APPS:
            assert isinstance(model_admin, ModelAdmin), model._meta.label


def test_every_changelist_is_walked():
    labels = {label for _, label, _, _ in our_changelists()}
    assert {"editor.Workflow", "editor.WorkflowVersion", "engine.Execution", "engine.NodeRun", "engine.Event",
            "engine.DeadLetter", "engine.RetentionRun"} <= labels


def test_bad_filter_values_redirect_with_the_admin_error_flag(django_user_model, alice):
    # Rows in every list, so a lookup evaluated per row (a regex) meets one.
    run(alice, definition([START], []))
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_user("sam", password="pw", is_staff=True,
                                                             is_superuser=True))
    wrong: list[tuple[str, int, str]] = []
    walked = 0
    for url, _label, queries, odd in our_changelists():
        assert client.get(url).status_code == 200, url
        for query in odd:
            answer = client.get(f"{url}?{query}")
            if answer.status_code not in (200, 302):
                wrong.append((f"{url}?{query}", answer.status_code, ""))
        for query in queries:
            walked += 1
            answer = client.get(f"{url}?{query}")
            location = answer.headers.get("Location", "")
            if answer.status_code != 302 or not location.endswith("?e=1"):
                wrong.append((f"{url}?{query}", answer.status_code, location))
    assert walked > 100
    assert not wrong, wrong


def test_the_error_flag_page_is_the_admins_own_not_a_500(django_user_model, alice):
    run(alice, definition([START], []))
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    answer = client.get("/admin/engine/execution/?created_at__year=99999", follow=True)
    assert answer.status_code == 200
    assert answer.redirect_chain[-1][0].endswith("?e=1")
    # Good values still filter.
    assert client.get("/admin/engine/execution/?created_at__year=2026").status_code == 200
