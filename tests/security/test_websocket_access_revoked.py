"""A live stream ends when its session no longer grants what it shows.

Found by the attacker pass of 2026-11-30: a websocket checked its user once, at the
handshake, and kept that user for as long as it stayed open. A staff member whose staff
status was taken away went on receiving another user's execution events and every user's
run status changes (the list stream even compared against the old staff view every
second); a user who logged out, or was deactivated, kept streaming on the session that no
longer existed. Each stream now checks its session again every
`engine.live.consumers.ACCESS_RECHECK_S` and closes: 4401 when the session is gone, 4404
when the execution is no longer one the user may see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.models import Session

from editor.models import Workflow
from engine.live import consumers
from engine.models import Execution
from tests.engine.test_consumers import (
    afinish,
    astore_events,
    communicator,
    receive_seqs,
    running_execution,
    session_cookie,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_S", 0.3)
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def closed_with(comm: Any, timeout: float = 5) -> int:
    """The close code the stream ends with (messages before it are skipped)."""
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return int(output["code"])


@database_sync_to_async
def demote(user: AbstractUser) -> None:
    type(user).objects.filter(pk=user.pk).update(is_staff=False)


async def test_staff_taken_away_ends_the_view_of_other_users_runs(make_workflow: Any, alice: AbstractUser,
                                                                    staff: AbstractUser):
    workflow: Workflow = await database_sync_to_async(make_workflow)()
    hers: Execution = await database_sync_to_async(running_execution)(workflow, alice)
    cookie = await database_sync_to_async(session_cookie)(staff)
    events = communicator(f"/ws/executions/{hers.pk}/", cookie)
    listing = communicator("/ws/executions/", cookie)
    assert (await events.connect())[0] and (await listing.connect())[0]
    await astore_events(hers, 2)
    assert await receive_seqs(events, 2) == [1, 2]  # staff see every run

    await demote(staff)
    assert await closed_with(events) == 4404  # now just another user: her run is not found
    await afinish(hers)
    assert await listing.receive_nothing(timeout=2)  # her run's end is not sent to him any more
    await listing.disconnect()


async def her_run_and_streams(make_workflow: Any, user: AbstractUser) -> tuple[Execution, Any, Any]:
    """A running execution of `user`'s and, on her session, its event stream and her list
    stream, both open."""
    workflow: Workflow = await database_sync_to_async(make_workflow)()
    run: Execution = await database_sync_to_async(running_execution)(workflow, user)
    cookie = await database_sync_to_async(session_cookie)(user)
    events = communicator(f"/ws/executions/{run.pk}/", cookie)
    listing = communicator("/ws/executions/", cookie)
    assert (await events.connect())[0] and (await listing.connect())[0]
    return run, events, listing


async def test_logging_out_ends_the_streams_of_that_session(make_workflow: Any, alice: AbstractUser):
    mine, events, listing = await her_run_and_streams(make_workflow, alice)

    await database_sync_to_async(Session.objects.all().delete)()  # what logging out does to the session
    assert await closed_with(events) == 4401
    assert await closed_with(listing) == 4401


async def test_a_deactivated_user_is_cut_off(make_workflow: Any, alice: AbstractUser):
    _, events, listing = await her_run_and_streams(make_workflow, alice)
    await database_sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(is_active=False)
    assert await closed_with(events) == 4401
    assert await closed_with(listing) == 4401


async def test_a_stream_whose_access_holds_stays_open(make_workflow: Any, alice: AbstractUser):
    mine, events, listing = await her_run_and_streams(make_workflow, alice)
    assert await events.receive_nothing(timeout=1.5)  # several rechecks: nothing closes it
    await astore_events(mine, 1)
    assert await receive_seqs(events, 1) == [1]
    await afinish(mine)
    message = await listing.receive_json_from()
    assert message["execution"]["id"] == mine.pk and message["execution"]["status"] == "succeeded"
    await events.disconnect()
    await listing.disconnect()
