"""DRF throttles whose rates come from `settings.FLOWMAESTRO_THROTTLE_RATES` on every
request. DRF's own classes copy `DEFAULT_THROTTLE_RATES` once, at import, so a changed
setting (a test, a reloaded configuration) would be ignored. A rate of None: no limit.

Also the pruning of django-axes' login logs, which otherwise grow by a row per login."""

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


def prune_login_logs() -> int:
    """Delete axes' login and failed-login log entries older than
    `FLOWMAESTRO_LOGIN_LOG_DAYS` (a housekeeping job); the lockout counts are not logs and
    expire with `AXES_COOLOFF_TIME`. Returns how many entries went."""
    from axes.handlers.database import AxesDatabaseHandler

    handler = AxesDatabaseHandler()
    days = int(settings.FLOWMAESTRO_LOGIN_LOG_DAYS)
    return handler.reset_logs(age_days=days) + handler.reset_failure_logs(age_days=days)
