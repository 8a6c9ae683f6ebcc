"""A dead letter's replay and a redrive of the same run, at the same moment.

A redrive without a selection refuses to re-run what a replay already ran elsewhere (409,
engine.services `_refuse_what_a_replay_ran`), and a replay refuses a letter a redrive has
settled. Probed on PostgreSQL with the two at once: the replay locked its letter, created
its execution and marked the letter replayed; the redrive, checking before that commit, saw
no replay, then waited on the letter's row, and once the replay committed overwrote the
letter's `replayedExecution` with itself and ran the whole run again. The work (a charge, a
mail) ran twice, in the replay and in the redrive, and the letter no longer named the replay.
Now the redrive takes the run's open letters' locks before it looks: it waits for a replay in
progress and then refuses, as it does after one."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import transaction

from engine.dead_letters import dead_letter_replay
from engine.models import DeadLetter, Execution
from tests.engine.runs import START, definition, run, wait_finished
from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

FAILING = definition([START, {"id": "boom", "type": "fail", "config": {"message": "down"}}], [("start", "boom")],
                     queue={"deadLetterQueue": True})


def test_a_redrive_during_a_replay_of_the_runs_letter_waits_and_is_refused(alice: Any, alice_client: Any) -> None:
    failed = run(alice, FAILING)
    assert failed.status == "failed"
    letter = DeadLetter.objects.get(execution_id=failed.pk, kind="run")
    replayed: dict[str, Any] = {}
    holding = threading.Event()

    def replay_held_open() -> None:
        # The replay's transaction stays open a moment after it marked the letter, as a
        # slow commit would: the redrive asked meanwhile must not slip past it.
        with transaction.atomic():
            replayed["execution"] = dead_letter_replay(dead_letter=letter, user=alice)
            holding.set()
            time.sleep(1.0)

    replay = db_thread(replay_held_open)
    replay.start()
    assert holding.wait(10)
    answers: list[Any] = []
    redrive = db_thread(lambda: answers.append(
        alice_client.post(f"/api/executions/{failed.pk}/redrive", {}, format="json")))
    redrive.start()
    replay.join(20)
    redrive.join(20)

    [answer] = answers
    assert answer.status_code == 409, answer.content
    assert "already replayed" in answer.json()["detail"]
    letter.refresh_from_db()
    assert letter.replayed_execution_id == replayed["execution"].pk  # the letter still names its replay
    assert Execution.objects.get(pk=failed.pk).redrives == 0  # and the run was not run again
    wait_finished(replayed["execution"].pk)
