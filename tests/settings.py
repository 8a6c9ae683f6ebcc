"""Settings of the test process (pytest's DJANGO_SETTINGS_MODULE): the app's own, with a
test-only secret key (the server refuses to start on the development key with DEBUG off,
as the tests run it) and API throttling off (tests post many requests; test_throttling
sets its own rates). Set in the environment before the settings load, so the daphne
servers that tests start inherit the same key (a session made here is valid there) and
the same rates."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-" + "k7Qe9vXr2LmZp4Tn8WbYc1Hs6Jd3Fg5A")
os.environ.setdefault("FLOWMAESTRO_THROTTLE_ANON", "off")
os.environ.setdefault("FLOWMAESTRO_THROTTLE_USER", "off")
os.environ.setdefault("FLOWMAESTRO_THROTTLE_HOOK_OWNER", "off")

from flowmaestro.settings import *  # noqa: E402,F403
