"""The main navigation of a staff user on a phone, in Chromium (a new user's pass).

Probed: logged in as the `admin` that `make run` prints, at 390 × 844 the bar held
Workflows, Executions, Dead letters, Admin and "Log ou" — the staff-only Admin link pushed
"Log out" past the right edge. Now every link is whole on one row down to 360 px."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [360, 390, 414])
def test_a_staff_users_nav_fits_a_phone(logged_in_page: Any, page_errors: Any, width: int) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="casey").update(is_staff=True)
    page = logged_in_page
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/workflows/")
    nav = page.locator("[data-testid=main-nav]")
    nav.wait_for()
    controls = nav.locator("a:visible, button:visible")
    names = [name.strip() for name in controls.all_inner_texts()]
    for needed in ("Workflows", "Executions", "Dead letters", "Admin", "Log out"):
        assert needed in names, names
    for i in range(controls.count()):
        box = controls.nth(i).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (names[i], box)
        assert box["height"] <= 40, (names[i], box)
    assert nav.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert page_errors.unexpected() == []
