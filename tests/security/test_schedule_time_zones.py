"""A schedule's time zone is an IANA zone the same everywhere: the zone database's own
aliases for "this server's zone" (`localtime`, `posixrules`), its placeholder (`Factory`)
and its leap-second variants (`right/…`, `posix/…`) are a 400 naming the zone.

Found by the attacker pass of 2026-11-30: each was saved with a 201, and `localtime` ran at
whatever zone the server happened to have (another machine, another hour), `posixrules` at
New York time."""

from __future__ import annotations

import pytest

from editor.models import Schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "right/UTC", "posix/Europe/Paris"])
def test_a_zone_that_is_not_one_place_is_refused(alice_client, make_workflow, zone):
    workflow = make_workflow()
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/schedules",
                               {"cron": "0 9 * * *", "timezone": zone}, format="json")
    assert answer.status_code == 400, (zone, answer.content)
    assert repr(zone) in answer.json()["detail"]
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Etc/GMT+5", "Asia/Kolkata"])
def test_iana_zones_are_taken(alice_client, make_workflow, zone):
    workflow = make_workflow()
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/schedules",
                               {"cron": "0 9 * * *", "timezone": zone}, format="json")
    assert answer.status_code == 201, (zone, answer.content)
