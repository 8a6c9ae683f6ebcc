"""Approve or reject a waiting `approval` node from the timeline page (issue 6).

start → approval ("Manager sign-off") → output. The run pauses at the approval; the page
shows an approval bar naming the node, and its Approve / Reject buttons send the resume
signal of SPEC §6 with `{"approved": true|false}`, which becomes the approval's output.
The engine treats a rejection as a decision, not a failure: the run goes on and succeeds,
and the workflow's output carries `approved: false` (a workflow that must stop on a
rejection branches on it with a `condition`).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, api_get, api_post, wait_for_status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def run_until_paused(page: Any, workflow_id: int) -> int:
    """Start a run and open its timeline once the engine waits at the approval.

    Opening the page only after the pause is the common case (someone follows a link to a
    run that waits for them), and the harder one for the page: the pause event is then
    older than the timeline it reads first.
    """
    run = api_post(page, f"/api/workflows/{workflow_id}/run", {"input": {"amount": 640}})
    page.wait_for_function(
        """async (id) => {
             const r = await fetch(`/api/executions/${id}`);
             return r.ok && (await r.json()).status === "paused";
           }""",
        arg=run["id"], polling=200, timeout=20_000,
    )
    page.goto(f"/executions/{run['id']}/")
    wait_for_status(page, "paused")
    return int(run["id"])


def approval_bar_names_the_node(page: Any) -> None:
    bar = page.wait_for_selector("[data-testid=approval]")
    text = bar.inner_text()
    assert "Manager sign-off" in text and "Refund over 500 EUR" in text, text
    # It stands out from the plain signal buttons: a filled callout with a thick edge.
    style = bar.evaluate("""el => { const s = getComputedStyle(el);
                             return [s.backgroundColor, parseFloat(s.borderLeftWidth), s.display]; }""")
    assert style[0] not in ("rgba(0, 0, 0, 0)", "transparent") and style[1] >= 4 and style[2] != "inline", style
    assert page.get_by_role("group", name="Approval").count() == 1
    assert page.get_by_role("button", name="Approve…").is_enabled()
    assert page.get_by_role("button", name="Reject…").is_enabled()


def decide(page: Any, button: str, comment: str) -> None:
    """Approve… or Reject… opens the approval dialog; the comment goes with the decision."""
    page.get_by_role("button", name=f"{button}…").click()
    dialog = page.locator("[data-testid=approval-dialog]")
    assert "Manager sign-off" in dialog.text_content()
    dialog.locator("[data-testid=approval-comment]").fill(comment)
    dialog.locator(f"[data-testid=approval-dialog-{button.lower()}]").click()


def test_approve_then_reject_a_waiting_approval_from_the_timeline(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})

    # Approve: the run goes on and succeeds; the approval's output is the decision.
    approved_id = run_until_paused(page, workflow["id"])
    approval_bar_names_the_node(page)
    # Escape closes the dialog without deciding.
    page.get_by_role("button", name="Approve…").click()
    page.locator("[data-testid=approval-dialog]").wait_for()
    page.keyboard.press("Escape")
    assert page.locator("[data-testid=approval-dialog]").count() == 0
    decide(page, "Approve", "fine by me")
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=approval]", state="detached")
    approved = api_get(page, f"/api/executions/{approved_id}")
    assert approved["status"] == "succeeded"
    assert approved["output"] == {"Decision": {"approved": True, "comment": "fine by me"}}
    assert next(r for r in approved["nodeRuns"] if r["nodeId"] == "sign_off")["output"] == {
        "approved": True, "comment": "fine by me"}

    # Reject, on a second run: the engine records the decision and the run still succeeds,
    # with `approved: false` as the approval's output (a rejection is data, not an error).
    rejected_id = run_until_paused(page, workflow["id"])
    approval_bar_names_the_node(page)
    decide(page, "Reject", "too much")
    wait_for_status(page, "succeeded")
    page.wait_for_selector("[data-testid=approval]", state="detached")
    rejected = api_get(page, f"/api/executions/{rejected_id}")
    assert rejected["status"] == "succeeded"
    assert rejected["output"] == {"Decision": {"approved": False, "comment": "too much"}}
    sign_off = next(r for r in rejected["nodeRuns"] if r["nodeId"] == "sign_off")
    assert sign_off["status"] == "succeeded" and sign_off["output"] == {"approved": False, "comment": "too much"}
    # The page shows the decision too: the approval's bar opens its node run, output included.
    page.click("[data-testid=timeline-bar][data-node-id='sign_off'] rect.tl-run")
    page.wait_for_function(
        "() => (document.querySelector('[data-testid=panel-output]')?.textContent ?? '').includes('\"approved\": false')")
    # The signal log names the resume that decided it.
    assert "resume" in page.inner_text("[data-testid=signals]")
    assert page_errors.unexpected() == []
