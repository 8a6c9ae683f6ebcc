"""Triggers: webhooks and schedules that start runs without a logged-in user.

Services (HackSoft style) for creating and changing them, the webhook call, and the
schedule tick that engine processes run. Runs they start are owned by the workflow's owner
and go through `engine.services.execution_start`, so they obey the workflow's queue
settings (a full queue refuses a webhook call with 429 and records the refusal on a
schedule) exactly as runs from the API do.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from editor.models import CatchUp, Schedule, Webhook, WebhookAuth, Workflow
from editor.services import InvalidDefinition
from editor.webhook_signing import (  # noqa: F401 - SIGNATURE_HEADER and webhook_signature: this module's API
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignedCall,
    WebhookRefused,
    check_signature,
    remember,
    webhook_signature,
)
from engine.errors import Refusal

log = logging.getLogger("engine.triggers")

# Cron expressions allow a seconds field (6 fields) in croniter; runs every second would
# flood the queue of a careless user's workflow, so only the standard 5 fields are taken.
CRON_FIELDS = 5


class InvalidTrigger(Refusal):
    status_code = 400


# --- webhooks ----------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits: unguessable, and the URL is the credential


def webhook_create(*, workflow: Workflow, name: str = "", auth: str = WebhookAuth.TOKEN,
                   enabled: bool = True, require_timestamp: bool = True) -> Webhook:
    """`require_timestamp` applies to HMAC webhooks (on by default for new ones); a token
    webhook stores it off."""
    if auth not in WebhookAuth.values:
        raise InvalidTrigger(f"auth must be one of {', '.join(WebhookAuth.values)}")
    hmac_auth = auth == WebhookAuth.HMAC
    return Webhook.objects.create(
        workflow=workflow, name=name[:200], token=_new_token(), auth=auth, enabled=enabled,
        hmac_secret=secrets.token_hex(32) if hmac_auth else "", require_timestamp=hmac_auth and require_timestamp,
    )


def webhook_update(*, webhook: Webhook, name: str | None = None, enabled: bool | None = None,
                   rotate: bool = False, require_timestamp: bool | None = None) -> Webhook:
    if name is not None:
        webhook.name = name[:200]
    if enabled is not None:
        webhook.enabled = enabled
    if require_timestamp is not None:
        if require_timestamp and webhook.auth != WebhookAuth.HMAC:
            raise InvalidTrigger("requireTimestamp applies to hmac webhooks only (a token webhook signs nothing)")
        webhook.require_timestamp = require_timestamp
    if rotate:  # a leaked URL is retired by giving the webhook a new one
        webhook.token = _new_token()
        if webhook.auth == WebhookAuth.HMAC:
            webhook.hmac_secret = secrets.token_hex(32)
    webhook.save()
    return webhook


def webhook_check(*, webhook: Webhook, body: bytes, signature: str | None, timestamp: str | None = None,
                  now: datetime | None = None) -> SignedCall | None:
    """Refuse a call the webhook does not accept (disabled, or an HMAC webhook's call not
    signed as editor.webhook_signing says). Answers the signed call to remember, if any."""
    # Runs from triggers belong to the workflow's owner: a deactivated account (whose login
    # and API tokens are refused) starts nothing either, though its webhooks stay enabled.
    if not webhook.enabled or not webhook.workflow.owner.is_active:
        raise WebhookRefused("this webhook is disabled")
    if webhook.auth == WebhookAuth.HMAC:
        return check_signature(webhook=webhook, body=body, signature=signature, timestamp=timestamp, now=now)
    return None


def webhook_call(*, webhook: Webhook, input: Any, body: bytes, signature: str | None,
                 timestamp: str | None = None, traceparent: str | None = None) -> Any:
    """Start a run of the webhook's workflow with `input` (the request body). Called in a
    transaction: the signature is remembered with the run it starts, or not at all."""
    from engine.services import execution_start

    now = timezone.now()
    signed = webhook_check(webhook=webhook, body=body, signature=signature, timestamp=timestamp, now=now)
    if signed is not None:
        remember(webhook=webhook, call=signed, now=now)
    workflow = webhook.workflow
    execution = execution_start(workflow=workflow, user=None, input=input, traceparent=traceparent)
    Webhook.objects.filter(pk=webhook.pk).update(last_called_at=timezone.now(), calls=F("calls") + 1)
    return execution


# --- schedules ---------------------------------------------------------------------------


# Names the zone database answers that are not one place: the server's own zone under
# another name (`localtime`; `posixrules`, New York's rules on most systems), a placeholder
# (`Factory`) and the leap-second trees. A schedule in one of them would run at another hour
# on another machine.
_NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})
_NOT_A_PLACE_PREFIXES = ("posix/", "right/")


def _zone(name: str) -> ZoneInfo:
    if name in _NOT_A_PLACE or name.startswith(_NOT_A_PLACE_PREFIXES):
        raise InvalidTrigger(f"time zone {name!r} is not one place: use an IANA name such as 'Europe/Paris' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTrigger(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Paris' or 'UTC')") from None


# Each field's name and range, and the names croniter takes for months and weekdays.
CRON_FIELD_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12),
                     ("day-of-week", 0, 7))
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WEEKDAYS = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# `*`, `a` or `a-b`, with an optional `/step`; other forms (croniter's `L`, `5#3`) are left
# to croniter. ASCII only: `\d` would take Arabic-Indic digits.
_CRON_PART = re.compile(r"^(?:(\*|\?)|([0-9]+|[a-z]{3})(?:-([0-9]+|[a-z]{3}))?)(?:/([0-9]+))?$", re.ASCII)


# croniter's `R` (a random value, drawn again at every occurrence it computes) and `H` (a
# hash of an id the schedule does not have), with an optional `(a-b)` and `/step`.
_CRON_DRAWN = re.compile(r"^[hr](?:\([0-9]+-[0-9]+\))?(?:/[0-9]+)?$", re.ASCII)


def _cron_value(text: str, field: int) -> int | None:
    if text.isascii() and text.isdigit():
        return int(text)
    return (_MONTHS if field == 3 else _WEEKDAYS if field == 4 else {}).get(text)


def _cron_field_problem(text: str, field: int) -> str | None:
    """What is wrong with one field of a 5-field cron expression, or None. croniter takes
    a range that starts after it ends (`1-0`, `mar-jan`) as one that wraps around, and a
    step longer than its range (`*/61`, `0-10/20`) as a single value: both are refused as
    standard cron refuses them, instead of running at times nobody wrote. (It also reads
    `5-5` as every value, so a range of one value is refused too.)"""
    name, low, high = CRON_FIELD_RANGES[field]
    for part in text.lower().split(","):
        if _CRON_DRAWN.match(part):
            return (f"{name} {part!r} is drawn at random (or hashed) anew for each run, so runs fall at "
                    "times nobody chose; write the value")
        match = _CRON_PART.match(part)
        if match is None:
            continue  # croniter's extensions, or nonsense croniter refuses
        star, first, last, step = match.groups()
        if star:
            start, end = low, (6 if field == 4 else high)
        else:
            start_value = _cron_value(first, field)
            end_value = _cron_value(last, field) if last else None
            if start_value is None or (last and end_value is None):
                continue  # an unknown name: croniter's message
            start = start_value
            if end_value is not None:
                # Sunday is 0 and 7: `sat-sun` (6-0) is the weekend, as `6-7`.
                end = 7 if field == 4 and end_value == 0 and start > 0 else end_value
            elif step:
                end = 6 if field == 4 else high  # `5/15`: from 5 to the field's end
            else:
                end = start
            for value in (start, end):
                if not low <= value <= high:
                    return f"{name} {value} is out of range: allowed {low} to {high}"
            if start > end:
                return f"{name} range {part!r} starts after it ends ({start} > {end}); write the lower value first"
            if last is not None and start == end:
                # croniter reads `5-5` as every minute, not as 5.
                return f"{name} range {part!r} starts and ends at {start}; write {start}"
        if step is not None:
            every = int(step)
            if every == 0:
                return f"{name} step {part!r} is 0; a step is 1 or more"
            if every > end - start:
                return (f"{name} step {part!r} is longer than its range {start}-{end}, so it only ever matches "
                        f"{start}; write {start}")
    return None


def cron_check(expression: str) -> str:
    expression = " ".join(str(expression).split())
    fields = expression.split(" ")
    if len(fields) != CRON_FIELDS:
        raise InvalidTrigger(
            f"cron expression {expression!r} has {len(fields)} fields; it needs 5 "
            "(minute hour day-of-month month day-of-week), e.g. '*/15 * * * *'"
        )
    for index, text in enumerate(fields):
        problem = _cron_field_problem(text, index)
        if problem is not None:
            raise InvalidTrigger(f"cron expression {expression!r} is not valid: {problem}")
    if not croniter.is_valid(expression):
        raise InvalidTrigger(f"cron expression {expression!r} is not valid")
    return expression


def next_occurrence(expression: str, zone: str, after: datetime) -> datetime:
    """The first occurrence strictly after `after`, in UTC. Computed in the schedule's zone
    so that '0 9 * * *' means 09:00 local time across daylight-saving changes."""
    local = after.astimezone(_zone(zone))
    try:
        nxt = croniter(expression, local).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError) as exc:
        raise InvalidTrigger(f"cron expression {expression!r}: {exc}") from None
    return nxt.astimezone(ZoneInfo("UTC"))


def upcoming(schedule: Schedule, count: int = 3) -> list[datetime]:
    out: list[datetime] = []
    moment = schedule.next_run_at or timezone.now()
    if schedule.next_run_at is not None:
        out.append(moment)
    while len(out) < count:
        moment = next_occurrence(schedule.cron, schedule.timezone, moment)
        out.append(moment)
    return out


def schedule_save(*, schedule: Schedule) -> Schedule:
    """Validate and store a new or changed schedule; its next occurrence counts from now."""
    schedule.cron = cron_check(schedule.cron)
    _zone(schedule.timezone)
    if schedule.catch_up not in CatchUp.values:
        raise InvalidTrigger(f"catchUp must be one of {', '.join(CatchUp.values)}")
    schedule.next_run_at = next_occurrence(schedule.cron, schedule.timezone, timezone.now()) if schedule.enabled else None
    schedule.save()
    return schedule


def _missed(schedule: Schedule, now: datetime) -> list[datetime]:
    """Occurrences from the stored next one up to now (the first is the one due)."""
    limit = int(getattr(settings, "FLOWMAESTRO_SCHEDULE_CATCH_UP_MAX", 10))
    assert schedule.next_run_at is not None
    moments = [schedule.next_run_at]
    while len(moments) < max(1, limit):
        nxt = next_occurrence(schedule.cron, schedule.timezone, moments[-1])
        if nxt > now:
            break
        moments.append(nxt)
    return moments


def schedules_run_due(now: datetime | None = None) -> int:
    """Start the runs of every schedule that is due; answer how many runs started.

    Safe to call from many engine processes at once: each schedule's occurrence is claimed
    by moving `next_run_at` forward with a compare-and-set update, and only the process
    whose update changed the row starts its run(s)."""
    from engine.services import execution_start

    now = now or timezone.now()
    grace = timedelta(seconds=float(getattr(settings, "FLOWMAESTRO_SCHEDULE_GRACE", 60)))
    started = 0
    due = list(Schedule.objects.filter(enabled=True, next_run_at__lte=now).select_related("workflow__owner")[:100])
    for schedule in due:
        claimed_at = schedule.next_run_at
        assert claimed_at is not None
        try:
            moments = _missed(schedule, now)
            following = next_occurrence(schedule.cron, schedule.timezone, max(moments[-1], now))
        except InvalidTrigger as exc:  # a schedule stored by hand (admin) with a bad cron
            Schedule.objects.filter(pk=schedule.pk).update(enabled=False, last_error=str(exc))
            continue
        won = Schedule.objects.filter(pk=schedule.pk, next_run_at=claimed_at).update(next_run_at=following)
        if not won:
            continue  # another engine process claimed this occurrence
        # Occurrences older than the grace period fell while nothing was running.
        late = [m for m in moments if now - m > grace]
        on_time = [m for m in moments if now - m <= grace]
        if schedule.catch_up == CatchUp.SKIP:
            runs = on_time[-1:]
        elif schedule.catch_up == CatchUp.LATEST:
            runs = moments[-1:]
        else:
            runs = moments
        if not schedule.workflow.owner.is_active:
            # As for webhooks: a deactivated account's schedules start nothing. The occurrence
            # is claimed all the same (no retry every second); reactivated, it runs on as before.
            Schedule.objects.filter(pk=schedule.pk).update(
                last_error="not run: the workflow's owner is deactivated")
            continue
        if late:
            log.info("schedule %s: %d occurrence(s) missed while down, policy %s -> %d run(s)",
                     schedule.pk, len(late), schedule.catch_up, len(runs))
        for _moment in runs:
            try:
                with transaction.atomic():
                    execution = execution_start(workflow=schedule.workflow, user=None, input=schedule.input)
                Schedule.objects.filter(pk=schedule.pk).update(
                    last_run_at=now, last_execution_id=execution.pk, last_error=""
                )
                started += 1
            except (Refusal, InvalidDefinition) as exc:  # a full queue, an invalid current version
                message = exc.message if isinstance(exc, Refusal) else invalid_definition_text(exc)
                Schedule.objects.filter(pk=schedule.pk).update(last_run_at=now, last_error=message[:1000])
            except Exception as exc:  # one schedule's failure never stops the others
                log.exception("schedule %s could not start a run", schedule.pk)
                Schedule.objects.filter(pk=schedule.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:1000])
    return started


def invalid_definition_text(exc: InvalidDefinition) -> str:
    first = exc.errors[0] if exc.errors else {}
    where = first.get("nodeId") or first.get("edgeId") or ""
    return f"the workflow's current version is invalid: {first.get('message', '')}" + (f" ({where})" if where else "")
