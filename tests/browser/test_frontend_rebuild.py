"""Rebuilding the front end under a running daphne: pages pick up the new build at once.

Probed: `npx vite build` while daphne ran left every page broken until a restart. The
server read Vite's manifest once, so pages kept naming the old hashed files, which the
build had deleted (404), and WhiteNoise's index, also built once, did not know the new
files either. Now the manifest is read again when its file changes (a stat per page) and
the static index is rebuilt when it does.

The rebuild is simulated on the session's live server without disturbing the real build:
the `workflows` entry is copied under a new hashed name and the manifest rewritten to
name it; at the end the manifest is restored and the copy removed."""

from __future__ import annotations

import json
import shutil
import time
from typing import Any

import pytest

from tests.browser.fixtures import MANIFEST

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ENTRY = "src/entries/workflows.tsx"


def script_sources(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("script[type=module]", "els => els.map(e => e.getAttribute('src'))"))


def test_a_rewritten_manifest_and_its_new_files_are_served_without_a_restart(logged_in_page: Any, page_errors: Any,
                                                                            live_server_url: str) -> None:
    page = logged_in_page
    original_text = MANIFEST.read_text()
    manifest = json.loads(original_text)
    old_file = manifest[ENTRY]["file"]  # assets/workflows-<hash>.js
    new_file = old_file.rsplit("-", 1)[0] + "-Rebuilt1.js"
    dist = MANIFEST.parent.parent
    page.goto("/workflows/")
    page.wait_for_selector("[data-testid=workflow-list-page]")
    assert f"/static/dist/{old_file}" in script_sources(page)
    try:
        shutil.copyfile(dist / old_file, dist / new_file)
        manifest[ENTRY]["file"] = new_file
        time.sleep(0.05)  # a real build takes seconds; make sure the file's time moves
        MANIFEST.write_text(json.dumps(manifest))

        answer = page.goto("/workflows/")
        assert answer is not None and answer.status == 200
        page.wait_for_selector("[data-testid=workflow-list-page]")
        assert f"/static/dist/{new_file}" in script_sources(page)
        assert f"/static/dist/{old_file}" not in script_sources(page)
        served = page.request.get(f"{live_server_url}/static/dist/{new_file}")
        assert served.status == 200 and served.body() == (dist / old_file).read_bytes()
    finally:
        time.sleep(0.05)
        MANIFEST.write_text(original_text)
        (dist / new_file).unlink(missing_ok=True)

    # Back to the real build: pages name its file again, and the removed copy is a 404.
    page.goto("/workflows/")
    page.wait_for_selector("[data-testid=workflow-list-page]")
    assert f"/static/dist/{old_file}" in script_sources(page)
    assert page.request.get(f"{live_server_url}/static/dist/{new_file}").status == 404
    assert not page_errors.unexpected(), page_errors.messages
