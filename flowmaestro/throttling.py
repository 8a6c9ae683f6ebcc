"""DRF throttles whose rates come from `settings.FLOWMAESTRO_THROTTLE_RATES` on every
request. DRF's own classes copy `DEFAULT_THROTTLE_RATES` once, at import, so a changed
setting (a test, a reloaded configuration) would be ignored. A rate of None: no limit."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class AnonThrottle(AnonRateThrottle):
    """Anonymous API requests, counted per client address."""

    def get_rate(self) -> str | None:
        return settings.FLOWMAESTRO_THROTTLE_RATES.get(str(self.scope))


class UserThrottle(UserRateThrottle):
    """Logged-in API requests (session or token), counted per user."""

    def get_rate(self) -> str | None:
        return settings.FLOWMAESTRO_THROTTLE_RATES.get(str(self.scope))
