"""The editor's "Test" button (`POST /api/workflows/{id}/test-expression`) cannot take the
server's HTTP threads. Probed on a live server: 16 concurrent tests of `while(true){}` from
alice held every HTTP thread (each waits for a sandbox worker and then runs 1 s), and bob's
plain `GET /api/workflows` took 4–5 s instead of 0.05 s. Now one user has at most
`FLOWMAESTRO_EXPRESSION_TESTS_PER_USER` (2) tests in flight and everyone together at most
`FLOWMAESTRO_EXPRESSION_TESTS_MAX` (half the HTTP threads); past that the answer is a quick
429 with Retry-After, and the sandbox serves tests fairly per user like runs."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.threads import db_thread

pytestmark = pytest.mark.django_db(transaction=True)

SPIN = {"code": "while (true) {}"}


def _burst(client: Any, url: str, count: int) -> list[Any]:
    answers: list[Any] = []
    lock = threading.Lock()

    def one() -> None:
        answer = client.post(url, SPIN, format="json")
        with lock:
            answers.append(answer)

    threads = [db_thread(one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_one_user_has_at_most_two_tests_in_flight_and_the_rest_are_429(alice_client, make_workflow):
    workflow = make_workflow()
    answers = _burst(alice_client, f"/api/workflows/{workflow.pk}/test-expression", 8)
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) <= 2 and codes.count(429) >= 6, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert refused["Retry-After"] == "1"
    assert "still running" in refused.json()["detail"]
    # Once they are done, the next test runs.
    answer = alice_client.post(f"/api/workflows/{workflow.pk}/test-expression", {"code": "1 + 1"}, format="json")
    assert answer.status_code == 200 and answer.json()["value"] == 2


def test_another_users_test_is_not_refused_because_of_the_first_users(alice_client, bob_client, bob, make_workflow,
                                                                       settings):
    settings.FLOWMAESTRO_EXPRESSION_TESTS_PER_USER = 100  # alice may fill the server-wide cap alone
    settings.FLOWMAESTRO_EXPRESSION_TESTS_MAX = 3
    workflow = make_workflow()
    mine = make_workflow(owner=bob)
    results: list[Any] = []
    spam = threading.Thread(target=lambda: results.extend(
        _burst(alice_client, f"/api/workflows/{workflow.pk}/test-expression", 6)))
    spam.start()
    time.sleep(0.3)
    answer = bob_client.post(f"/api/workflows/{mine.pk}/test-expression", {"code": "1 + 1"}, format="json")
    spam.join(30)
    codes = sorted(a.status_code for a in results)
    # The server-wide cap holds a place for each other user: alice gets all but one of them.
    assert codes.count(200) <= 2, codes
    assert answer.status_code == 200 and answer.json()["value"] == 2, answer.content
