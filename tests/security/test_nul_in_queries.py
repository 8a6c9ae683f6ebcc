"""A NUL character in an address is a 400, never a 500. Probed: PostgreSQL refuses text with
NUL ("PostgreSQL text fields cannot contain NUL (0x00) bytes"), SQLite does not, so
`…/node-runs?nodeId=a%00b` answered 500 on PostgreSQL only."""

from __future__ import annotations

import pytest

from tests.engine.runs import START, definition, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_filters_with_a_nul_character_never_answer_500(alice, alice_client, make_workflow):
    ex = run(alice, definition([START], []))
    workflow = make_workflow()
    for url in (f"/api/executions/{ex.pk}/node-runs?nodeId=a%00b", f"/api/executions/{ex.pk}/node-runs?status=a%00b",
                f"/api/executions/{ex.pk}/node-runs?cursor=1.a%00b", f"/api/executions/{ex.pk}/timeline?nodeRun=a%00b",
                f"/api/executions/{ex.pk}/events?afterSeq=%00", "/api/executions?status=a%00b",
                "/api/executions?workflow=%00", "/api/dead-letters?state=%00", "/api/workflows?search=%00",
                f"/api/workflows/{workflow.pk}/versions?x=%00"):
        answer = alice_client.get(url)
        assert answer.status_code == 400, (url, answer.status_code, answer.content[:200])
        assert "NUL" in answer.json()["detail"]
    assert alice_client.get("/api/workflows/%00").status_code == 400
    assert alice_client.get(f"/api/executions/{ex.pk}/node-runs?nodeId=start").status_code == 200


def test_admin_search_with_a_nul_character_never_answers_500(client, django_user_model, alice):
    run(alice, definition([START], []))
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    for url in ("/admin/engine/execution/?q=%00", "/admin/engine/noderun/?q=a%00", "/admin/engine/event/?q=%00",
                "/admin/engine/deadletter/?q=%00", "/admin/editor/workflow/?q=%00", "/admin/auth/user/?q=%00"):
        answer = client.get(url)
        assert answer.status_code < 500, (url, answer.status_code)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_header_with_a_nul_character_is_a_400_not_a_500(client, alice, path):
    # django-axes stores a failed login's User-Agent: with NUL that write failed on PostgreSQL.
    answer = client.post(path, {"username": "alice", "password": "wrong"}, HTTP_USER_AGENT="ua\x00x")
    assert answer.status_code == 400
    assert client.post(path, {"username": "alice", "password": "wrong"}, HTTP_USER_AGENT="ua").status_code == 200
