"""A webhook's token (its URL is the credential) never reaches the server's output.

Probed on a live daphne: every call was written to daphne's access log as
`"POST /hooks/<the whole token>" 202`, and a refused one also to Django's request warnings
(`Forbidden: /hooks/<token>`); whoever reads the logs could start the owner's runs. Now
both print the token's first four characters and `…`."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import create_webhook
from tests.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)


def test_webhook_calls_are_logged_without_their_token(alice_client, make_workflow, tmp_path: Path) -> None:
    workflow = make_workflow()
    open_hook = create_webhook(alice_client, workflow.pk)
    signed_hook = create_webhook(alice_client, workflow.pk, auth="hmac")
    tokens = [hook["url"].rsplit("/", 1)[1] for hook in (open_hook, signed_hook)]
    output = tmp_path / "daphne.log"
    with running_daphne(output=output) as host:
        base = f"http://{host}/hooks/"
        assert httpx.post(base + tokens[0], json={"n": 1}, timeout=30).status_code == 202
        assert httpx.post(base + tokens[1], json={"n": 2}, timeout=30).status_code == 403  # unsigned
        assert httpx.post(base + tokens[1] + "?wait=abc", json={}, timeout=30).status_code == 400
    printed = output.read_text()
    assert f'"POST /hooks/{tokens[0][:4]}…" 202' in printed, printed[-2000:]  # the access log is there
    assert f"Forbidden: /hooks/{tokens[1][:4]}…" in printed  # Django's request warning
    assert f"Bad Request: /hooks/{tokens[1][:4]}…" in printed
    for token in tokens:
        assert token[:12] not in printed, printed[-2000:]


def test_other_paths_are_logged_as_they_were(make_workflow, tmp_path: Path) -> None:
    output = tmp_path / "daphne.log"
    with running_daphne(output=output) as host:
        assert httpx.get(f"http://{host}/api/executions?status=nope", timeout=30).status_code == 401
    assert '"GET /api/executions?status=nope" 401' in output.read_text()
