"""A run recorded while no Celery worker runs, as its user sees it: the run page says no
worker is running and how to start one, instead of only "not started yet"; once a worker
starts, the run starts by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.cluster import LocalCluster, prepare_database
from tests.scaleout.conftest import _database

DEFINITION = {"schemaVersion": 1, "name": "Hello", "settings": {},
              "nodes": [{"id": "start", "type": "start", "name": "Start", "position": {"x": 0, "y": 0}, "config": {}},
                        {"id": "out", "type": "output", "name": "Output", "position": {"x": 250, "y": 0},
                         "config": {"value": "hello"}}],
              "edges": [{"id": "e1", "source": "start", "target": "out"}]}


@pytest.fixture
def web_only() -> Iterator[tuple[LocalCluster, dict[str, str], str]]:
    url, drop = _database()
    login = prepare_database(url)
    # A short lease, so that the test's worker counts as gone soon after it stops.
    local = LocalCluster(url, env={"FLOWMAESTRO_POLL_INTERVAL": "0.2", "FLOWMAESTRO_WORKER_LOST_AFTER": "2"})
    try:
        local.start_redis()
        yield local, login, f"http://{local.start_daphne('d1').address}"
    finally:
        local.stop()
        drop()


def test_a_run_with_no_worker_says_why_it_waits(web_only: tuple[LocalCluster, dict[str, str], str],
                                                browser: Any, frontend_built: Path) -> None:
    local, login, base = web_only
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Token {login['token']}"}) as api:
        workflow = api.post("/api/workflows", json={"name": "Hello", "definition": DEFINITION}).json()["id"]
        run = api.post(f"/api/workflows/{workflow}/run", json={"input": {}}).json()["id"]
        timeline = api.get(f"/api/executions/{run}/timeline").json()
        assert timeline["execution"]["status"] == "queued"
        assert timeline["notStartedBecause"].startswith("No Celery worker is running")

        context = browser.new_context()
        try:
            context.add_cookies([{"name": "sessionid", "value": login["session"], "url": base}])
            page = context.new_page()
            page.goto(f"{base}/executions/{run}/")
            note = page.get_by_test_id("queued-note")
            note.wait_for(timeout=15000)
            text = note.inner_text()
            assert "No Celery worker is running" in text
            assert "celery -A flowmaestro worker -Q executions,nodes" in text

            local.start_worker("w1", concurrency=2)
            deadline = time.monotonic() + 30
            while api.get(f"/api/executions/{run}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline, "the run did not start once a worker ran"
                time.sleep(0.2)
            # The open page follows: the run is drawn, the note is gone.
            page.get_by_test_id("queued-note").wait_for(state="detached", timeout=15000)
        finally:
            context.close()
        # A run that started names no missing piece.
        assert api.get(f"/api/executions/{run}/timeline").json()["notStartedBecause"] is None
