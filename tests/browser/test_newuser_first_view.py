"""What a workflow shows when it is opened, in Chromium.

The first view fits the graph but never zooms out below a legible size; a graph wider
than that was centred, so both ends were cut off: every demo workflow opened at
1440×900 with its Start node half off screen, and at 1024×700 a three-node approval
flow showed neither its Start nor its end. When the graph does not fit, the view now
starts at its left (Start) edge, where a reader begins.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.helpers import APPROVAL, ROOT, api_post
from tests.browser.test_newuser_problems_list import FAR_PROBLEM, in_view

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zoom(page: Any) -> float:
    return float(page.evaluate(
        "() => new DOMMatrixReadOnly(getComputedStyle(document.querySelector('.react-flow__viewport')).transform).a"))


def test_a_wide_workflow_opens_at_its_start_node(logged_in_page: Any, page_errors: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Far", "definition": FAR_PROBLEM, "draft": True})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node")
    page.wait_for_timeout(400)
    assert in_view(page, "start") and in_view(page, "step_1")
    assert zoom(page) >= 0.85  # still legible
    assert page_errors.unexpected() == []


def test_a_small_window_shows_the_start_of_a_short_workflow(logged_in_page: Any) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 700})
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='sign_off']")
    page.wait_for_timeout(400)
    assert in_view(page, "start") and in_view(page, "sign_off")


def test_a_workflow_that_fits_is_still_centred(logged_in_page: Any) -> None:
    page = logged_in_page
    workflow = api_post(page, "/api/workflows", {"name": "Refund", "definition": APPROVAL})
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='result']")
    page.wait_for_timeout(400)
    assert all(in_view(page, n) for n in ("start", "sign_off", "result"))
    left = page.evaluate("""() => {
        const v = document.querySelector('.fm-canvas').getBoundingClientRect();
        const s = document.querySelector(".react-flow__node[data-id='start']").getBoundingClientRect();
        const r = document.querySelector(".react-flow__node[data-id='result']").getBoundingClientRect();
        return [s.left - v.left, v.right - r.right];
    }""")
    assert abs(left[0] - left[1]) < 30, left


def demo(name: str) -> dict[str, Any]:
    text = (ROOT / "editor" / "demo" / name).read_text()
    body: dict[str, Any] = json.loads(text)
    return body


@pytest.mark.parametrize(("name", "size"), [
    ("01_fan_out_fan_in.json", (1024, 700)), ("01_fan_out_fan_in.json", (1280, 800)),
    *[(name, (1024, 700)) for name in ("02_parallel_with_fallback.json", "03_parallel_validation.json",
                                       "04_custom_merge.json", "05_parallel_loop_enrich_users.json")],
])
def test_every_demo_opens_whole(logged_in_page: Any, name: str, size: tuple[int, int]) -> None:
    """At 1024×700 the fan-out demo opened with Aggregate cut at the right edge and its
    Output off screen (and at 1280×800 the Output), the validation and custom-merge demos
    with their ends cut: the first view of a graph of up to about six columns shows every
    node, zoomed out as far as it takes (down to 0.3)."""
    page = logged_in_page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    workflow = api_post(page, "/api/workflows", demo(name))
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.wait_for_timeout(400)
    ids = [n["id"] for n in workflow["definition"]["nodes"]]
    assert [n for n in ids if not in_view(page, n)] == []


def test_shift_f_shows_the_whole_fan_out_again(logged_in_page: Any) -> None:
    """Shift+F ("Fit view" in the help) zoomed out no further than 0.85: in a 1024×700
    window the fan-out demo then had Start and Output cut at the edges, so "fit" did not
    fit. It now does what the first view does."""
    page = logged_in_page
    page.set_viewport_size({"width": 1024, "height": 700})
    workflow = api_post(page, "/api/workflows", demo("01_fan_out_fan_in.json"))
    page.goto(f"/workflows/{workflow['id']}/")
    page.wait_for_selector(".react-flow__node[data-id='start']")
    page.wait_for_timeout(300)
    for _ in range(3):
        page.click("[data-testid=canvas] .react-flow__controls-zoomin")
    page.wait_for_timeout(300)
    ids = [n["id"] for n in workflow["definition"]["nodes"]]
    assert [n for n in ids if not in_view(page, n)] != []  # zoomed in: some are off screen
    page.click(".fm-canvas .react-flow__pane")
    page.keyboard.press("Shift+F")
    page.wait_for_timeout(500)
    assert [n for n in ids if not in_view(page, n)] == []
