"""A cron field croniter fills in at random (`R`, `R(0-30)`, `R/10`) is a 400 naming the
field, like the other crons that would run at times nobody wrote (README, "Schedules").

Found by the attacker pass of 2026-11-30: `R R * * *` was saved with a 201, and each read
of the schedule showed other upcoming times (`21:51`, then `02:48`, then `10:53`): croniter
draws a new random value every time it computes an occurrence, so the runs fell at times
no one chose and no one could predict."""

from __future__ import annotations

import pytest

from editor.models import Schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(("cron", "field"), [("R R * * *", "minute"), ("0 R(8-10) * * *", "hour"),
                                            ("0 0 * * r/2", "day-of-week"), ("*/5 * R * *", "day-of-month")])
def test_a_random_field_is_refused_naming_it(alice_client, make_workflow, cron, field):
    workflow = make_workflow()
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/schedules", {"cron": cron}, format="json")
    assert answer.status_code == 400, answer.content
    detail = answer.json()["detail"]
    assert f"{field} " in detail and "random" in detail, detail
    assert not Schedule.objects.exists()


def test_month_and_weekday_names_are_still_taken(alice_client, make_workflow):
    workflow = make_workflow()
    for cron in ("0 9 * mar-apr fri", "0 9 * * sat-sun", "0 0 L * *"):
        answer = alice_client.post(f"/api/workflows/{workflow.pk}/schedules", {"cron": cron}, format="json")
        assert answer.status_code == 201, (cron, answer.content)
