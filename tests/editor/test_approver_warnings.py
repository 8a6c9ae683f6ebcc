"""An `approval` node's approvers are checked when the workflow is validated: a name that
is neither the workflow's owner nor an active staff user can never approve (another user
gets a 404 on the run), so it is a warning on that node, one per name. Not an error: the
workflow still saves and runs (the approval then ends at its timeout)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db(transaction=True)


def with_approval(definition: dict[str, Any], approvers: list[Any]) -> dict[str, Any]:
    d = copy.deepcopy(definition)
    d["nodes"].append({"id": "ok", "type": "approval", "name": "OK?", "position": {"x": 750, "y": 0},
                       "config": {"approvers": approvers}})
    d["edges"].append({"id": "e3", "source": "done", "target": "ok"})
    return d


def cannot(name: str) -> dict[str, str]:
    return {"nodeId": "ok", "message": f"config.approvers: {name!r} cannot see this workflow's runs: only its owner "
                                       "and staff can approve"}


def test_an_approver_who_can_never_see_the_run_is_a_warning(alice_client, bob, staff, make_workflow,
                                                             simple_definition):
    get_user_model().objects.create_user("former", email="former@example.com", password="x", is_staff=True,
                                         is_active=False)
    workflow = make_workflow()
    approvers = ["alice", "ALICE@example.com", "sam", "sam@example.com", "bob", "ghost", "former",
                 "{{input.approver}}", ""]
    response = alice_client.post(f"/api/workflows/{workflow.pk}/validate",
                                 {"definition": with_approval(simple_definition, approvers)}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["errors"] == []
    # The owner (by name or e-mail, in any case) and active staff may approve; another user,
    # a name nobody has and a deactivated staff user never can. A template is known only at run time.
    assert body["warnings"] == [cannot("bob"), cannot("ghost"), cannot("former")]


def test_the_warning_follows_the_workflows_owner_and_does_not_stop_a_save(alice_client, staff_client, make_workflow,
                                                                           simple_definition, bob):
    workflow = make_workflow()
    d = with_approval(simple_definition, ["bob"])
    # Validated by staff, the rule is still about the workflow's owner (alice), not the caller.
    by_staff = staff_client.post(f"/api/workflows/{workflow.pk}/validate", {"definition": d}, format="json")
    assert by_staff.json()["warnings"] == [cannot("bob")]
    saved = alice_client.put(f"/api/workflows/{workflow.pk}", {"name": workflow.name, "definition": d}, format="json")
    assert saved.status_code == 200, saved.content
    # What is saved is validated the same way (an empty body validates the stored definition).
    stored = alice_client.post(f"/api/workflows/{workflow.pk}/validate")
    assert stored.json()["warnings"] == [cannot("bob")]
    # Made staff, bob can approve: the warning goes.
    bob.is_staff = True
    bob.save()
    assert alice_client.post(f"/api/workflows/{workflow.pk}/validate").json()["warnings"] == []
