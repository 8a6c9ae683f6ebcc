"""Replay a loop item's dead letter, then redrive the run it came from: the redrive must not
run that item a second time (its side effects would happen twice).

Found with the real engine and a real HTTP endpoint that counts its calls: item 2 failed
(a dead letter), its replay called the endpoint again and succeeded, then a redrive of the
original run called it a third time. Now a redrive without a selection that would run an
item (or a run) whose dead letter was replayed elsewhere is refused with a 409 naming the
item and the replay's execution; choosing the items or nodes redrives what the user names,
that item too if named. The other order (redrive, then replay) stays refused at the replay."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from engine.runtime import start_engine
from tests.engine.runs import START, definition, run, wait_finished
from tests.http_server import QuietHandler, serving

pytestmark = pytest.mark.django_db(transaction=True)


class Endpoint:
    """`GET /item/<n>`: counts each call; answers 500 while n is broken."""

    def __init__(self) -> None:
        self.hits: Counter[int] = Counter()
        self.broken: set[int] = set()
        self.lock = threading.Lock()


@pytest.fixture
def endpoint() -> Iterator[tuple[Endpoint, str]]:
    state = Endpoint()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            n = int(self.path.rsplit("/", 1)[-1])
            with state.lock:
                state.hits[n] += 1
                broken = n in state.broken
            self.send(500 if broken else 200, b'{"ok": false}' if broken else b'{"ok": true}')

    # The endpoint is on this machine: let the engine's HTTP node call private addresses.
    start_engine().options.http_allow_private = True
    with serving(Handler) as url:
        yield state, url


def _workflow(url: str) -> dict[str, Any]:
    return definition([
        START,
        {"id": "loop", "type": "loop", "name": "Each order",
         "config": {"arrayPath": "{{input.items}}", "queue": {"deadLetterQueue": True}}},
        {"id": "charge", "type": "http", "name": "Charge", "parentId": "loop",
         "config": {"method": "GET", "url": url + "/item/{{item}}"}},
        {"id": "o", "type": "output", "name": "o", "config": {"value": "{{loop}}"}},
    ], [("start", "loop"), ("loop", "o")])


def _letter(client: Any, execution_id: int, index: int) -> dict[str, Any]:
    [letter] = [d for d in client.get(f"/api/dead-letters?execution={execution_id}").json()
                if d["itemIndex"] == index]
    return letter


def _failed_run_with_a_replayed_item(alice: Any, client: Any, endpoint: tuple[Endpoint, str]) -> tuple[Any, int]:
    state, url = endpoint
    state.broken = {2}
    ex = run(alice, _workflow(url), {"items": [1, 2, 3]})
    assert ex.status == "failed"
    assert state.hits == Counter({1: 1, 2: 1, 3: 1})
    state.broken = set()  # the charge service is fixed: replay the dead item
    letter = _letter(client, ex.pk, 1)
    answer = client.post(f"/api/dead-letters/{letter['id']}/replay", {}, format="json")
    assert answer.status_code == 201, answer.content
    replay = answer.json()["id"]
    start_engine().submit(replay)
    assert wait_finished(replay).status == "succeeded"
    assert state.hits[2] == 2  # the failed call and the replay's
    return ex, replay


def test_a_redrive_after_a_replay_does_not_run_the_replayed_item_again(alice, alice_client, endpoint):
    state, _ = endpoint
    ex, replay = _failed_run_with_a_replayed_item(alice, alice_client, endpoint)

    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")

    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert "item 1 of loop Each order" in body["detail"] and f"#{replay}" in body["detail"], body
    assert body["errors"] == [{"message": f"item 1 was replayed as execution #{replay}", "nodeId": "loop"}]
    wait_finished(ex.pk)
    assert state.hits[2] == 2  # not charged a third time
    assert alice_client.get(f"/api/executions/{ex.pk}").json()["status"] == "failed"  # left as it was


def test_naming_the_replayed_item_redrives_it_anyway(alice, alice_client, endpoint):
    state, _ = endpoint
    ex, _replay = _failed_run_with_a_replayed_item(alice, alice_client, endpoint)
    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"items": {"loop": [1]}}, format="json")
    assert answer.status_code == 202, answer.content
    start_engine().submit(ex.pk)
    assert wait_finished(ex.pk).status == "succeeded"
    assert state.hits == Counter({1: 1, 2: 3, 3: 1})  # asked for by name: once more, the others kept
    # It succeeded here: nothing is left to redrive, and the refusal says that, not the replay.
    again = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")
    assert again.status_code == 409 and "nothing in it failed" in again.json()["detail"]


def test_redrive_then_replay_is_still_refused_at_the_replay(alice, alice_client, endpoint):
    state, url = endpoint
    state.broken = {2}
    ex = run(alice, _workflow(url), {"items": [1, 2, 3]})
    state.broken = set()
    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")
    assert answer.status_code == 202, answer.content
    start_engine().submit(ex.pk)
    assert wait_finished(ex.pk).status == "succeeded"
    letter = _letter(alice_client, ex.pk, 1)
    assert (letter["state"], letter["replayedExecution"]) == ("replayed", ex.pk)
    again = alice_client.post(f"/api/dead-letters/{letter['id']}/replay", {}, format="json")
    assert again.status_code == 409
    assert state.hits[2] == 2


def test_only_the_replayed_item_is_refused_and_the_others_can_be_chosen(alice, alice_client, endpoint):
    state, url = endpoint
    state.broken = {2, 3}
    ex = run(alice, _workflow(url), {"items": [1, 2, 3]})
    state.broken = set()
    replay = alice_client.post(f"/api/dead-letters/{_letter(alice_client, ex.pk, 1)['id']}/replay", {},
                               format="json").json()["id"]
    start_engine().submit(replay)
    wait_finished(replay)
    refused = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json").json()
    assert "item 1 of loop Each order" in refused["detail"] and "item 2" not in refused["detail"], refused
    chosen = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"items": {"loop": [2]}}, format="json")
    assert chosen.status_code == 202, chosen.content
    start_engine().submit(ex.pk)
    # The replayed item kept its old failure here, but as replayed: the loop
    # (onPartialFailure "fail") does not fail again on an error its replay took up.
    assert wait_finished(ex.pk).status == "succeeded"
    assert state.hits == Counter({1: 1, 2: 2, 3: 2})  # item 3 ran again here; item 2 only in its replay


def test_a_run_whose_dead_letter_was_replayed_is_not_redriven_as_a_whole(alice, alice_client, endpoint):
    state, url = endpoint
    d = _workflow(url)
    d["settings"]["queue"] = {"deadLetterQueue": True}  # the workflow's: failed runs are kept
    state.broken = {2}
    ex = run(alice, d, {"items": [1, 2, 3]})
    state.broken = set()
    [letter] = [x for x in alice_client.get(f"/api/dead-letters?execution={ex.pk}&kind=run").json()]
    replay = alice_client.post(f"/api/dead-letters/{letter['id']}/replay", {}, format="json").json()["id"]
    start_engine().submit(replay)
    assert wait_finished(replay).status == "succeeded"
    refused = alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json")
    assert refused.status_code == 409
    assert f"the run (as execution #{replay})" in refused.json()["detail"], refused.json()
    assert state.hits == Counter({1: 2, 2: 2, 3: 2})


# -- the run page's offer: what "Redrive failed" counts, and leaveOutReplayed ----------------


def _offer(client: Any, execution_id: int) -> Any:
    return client.get(f"/api/executions/{execution_id}/timeline").json()["redriveOffer"]


def test_the_offer_leaves_the_replayed_item_out_and_its_redrive_succeeds(alice, alice_client, endpoint):
    """Items 2 and 3 failed, item 2's letter was replayed: the page's offer counts 1 item and
    names the replay; the redrive it sends runs item 3 only, and the loop (onPartialFailure
    "fail", the default) succeeds — item 2's old failure is its replay's business now."""
    state, url = endpoint
    state.broken = {2, 3}
    ex = run(alice, _workflow(url), {"items": [1, 2, 3]})
    assert ex.status == "failed"
    state.broken = set()
    replay = alice_client.post(f"/api/dead-letters/{_letter(alice_client, ex.pk, 1)['id']}/replay", {},
                               format="json").json()["id"]
    start_engine().submit(replay)
    wait_finished(replay)

    offer = _offer(alice_client, ex.pk)
    assert offer == {"replayed": [{"kind": "item", "nodeId": "loop", "itemIndex": 1, "execution": replay}],
                     "reason": f"1 item was replayed as #{replay}", "failedNodes": 0, "failedItems": 1}
    # API clients without the flag keep their 409.
    assert alice_client.post(f"/api/executions/{ex.pk}/redrive", {}, format="json").status_code == 409

    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"leaveOutReplayed": True}, format="json")
    assert answer.status_code == 202, answer.content
    start_engine().submit(ex.pk)
    done = wait_finished(ex.pk)
    assert done.status == "succeeded", done.error
    assert state.hits == Counter({1: 1, 2: 2, 3: 2})  # item 2 not a third time; item 3 again here
    loop_output = alice_client.get(f"/api/executions/{ex.pk}").json()["output"]["o"]
    assert loop_output[1] == {"replayedAs": replay}, loop_output
    # Its letter still points at the replay (no new letter of the old failure).
    letter = _letter(alice_client, ex.pk, 1)
    assert (letter["state"], letter["replayedExecution"]) == ("replayed", replay)
    # Nothing else is left: the run's own count leaves the kept replayed item out (so the
    # Executions list offers no "Redrive failed"), and a second such redrive is refused.
    summary = alice_client.get(f"/api/executions/{ex.pk}").json()
    assert (summary["failedItems"], summary["failedNodes"]) == (0, 0)
    assert _offer(alice_client, ex.pk) is None or _offer(alice_client, ex.pk)["failedItems"] == 0
    again = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"leaveOutReplayed": True}, format="json")
    assert again.status_code == 409 and "nothing in it failed" in again.json()["detail"], again.content


def test_when_every_failed_item_was_replayed_nothing_is_offered(alice, alice_client, endpoint):
    state, _ = endpoint
    ex, replay = _failed_run_with_a_replayed_item(alice, alice_client, endpoint)
    offer = _offer(alice_client, ex.pk)
    assert (offer["failedNodes"], offer["failedItems"], offer["reason"]) == (0, 0, f"1 item was replayed as #{replay}")
    answer = alice_client.post(f"/api/executions/{ex.pk}/redrive", {"leaveOutReplayed": True}, format="json")
    assert answer.status_code == 409, answer.content
    assert answer.json()["errors"] == [{"message": f"item 1 was replayed as execution #{replay}", "nodeId": "loop"}]
    assert alice_client.get(f"/api/executions/{ex.pk}").json()["status"] == "failed"
    assert state.hits[2] == 2


def test_no_offer_without_a_replay(alice, alice_client, endpoint):
    state, url = endpoint
    state.broken = {2}
    ex = run(alice, _workflow(url), {"items": [1, 2, 3]})
    assert _offer(alice_client, ex.pk) is None
