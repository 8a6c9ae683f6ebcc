"""Signed calls of HMAC webhooks: what the sender signs, and the replay cache.

The scheme is Stripe's and Slack's: the sender puts the Unix time in seconds in
`X-FlowMaestro-Timestamp` and signs `<timestamp>.<raw body>` with the webhook's secret,
`X-FlowMaestro-Signature: sha256=<hex HMAC-SHA256>`. A timestamp further than
FLOWMAESTRO_WEBHOOK_TOLERANCE seconds from the server's clock is refused, and each accepted
signature is remembered until its timestamp leaves that window, so a captured request
(a proxy log, a leaked dump) starts no second run, then or later.

Webhooks made before the timestamp existed have `require_timestamp` off: a signature of the
raw body alone is still accepted for them (and, with nothing fresh in it, cannot be told
from its replay, so the cache does not apply); a call to them that does send the timestamp
header is checked and remembered as above, which is how their senders move over.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from editor.models import Webhook, WebhookSignatureSeen
from engine.errors import Refusal

SIGNATURE_HEADER = "X-FlowMaestro-Signature"
TIMESTAMP_HEADER = "X-FlowMaestro-Timestamp"
# Unix seconds have 10 digits until the year 2286; 12 leaves room and keeps int() small.
_TIMESTAMP_DIGITS = 12
# A remembered signature is deleted this long after its timestamp left the window, not at
# once: a replay checked just before the expiry (in another process, or on a server whose
# clock is a little behind) is still refused by the row when it inserts its own.
_PRUNE_MARGIN = timedelta(seconds=60)


class WebhookRefused(Refusal):
    status_code = 403


@dataclass(frozen=True)
class SignedCall:
    """An accepted timestamped call: its signature (lower-case hex), remembered until
    `expires_at`, when its timestamp is outside the tolerance anyway."""

    signature: str
    expires_at: datetime


def tolerance() -> int:
    return int(getattr(settings, "FLOWMAESTRO_WEBHOOK_TOLERANCE", 300))


def signed_payload(body: bytes, timestamp: str | None = None) -> bytes:
    return body if timestamp is None else timestamp.encode("ascii") + b"." + body


def webhook_signature(secret: str, body: bytes, timestamp: str | int | None = None) -> str:
    """The `X-FlowMaestro-Signature` value of `body` (sent with `timestamp` when given)."""
    payload = signed_payload(body, None if timestamp is None else str(timestamp))
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def how_to_sign(webhook: Webhook) -> str:
    """What the sender signs, in words (the API's `signedPayload`, the editor's panel)."""
    timestamped = f"<{TIMESTAMP_HEADER}>.<raw body>"
    if webhook.require_timestamp:
        return timestamped
    return f"<raw body>, or {timestamped} when {TIMESTAMP_HEADER} is sent"


def _matches(expected: str, signature: str | None) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII characters (a 500 for a header like
    # "é"); any such header is simply a wrong signature. Hex digits in either case are the
    # same signature (.NET writes capitals).
    given = (signature or "").strip().lower().encode("utf-8", "replace")
    return bool(given) and hmac.compare_digest(expected.encode(), given)


def _timestamp(text: str, now: datetime) -> int:
    text = text.strip()
    # ASCII digits only: int() also took "+17…", " 1_7…" and Arabic-Indic digits.
    if not (text.isascii() and text.isdigit() and len(text) <= _TIMESTAMP_DIGITS):
        raise WebhookRefused(f"{TIMESTAMP_HEADER} must be the Unix time in whole seconds (digits only, such as "
                             f"{int(now.timestamp())}), not {text[:40]!r}")
    return int(text)


def check_signature(*, webhook: Webhook, body: bytes, signature: str | None, timestamp: str | None,
                    now: datetime | None = None) -> SignedCall | None:
    """Refuse a call to an HMAC webhook that is not signed as it requires. Answers the
    call to remember (None for a legacy body-only signature, which has nothing to tell a
    replay apart by)."""
    now = now or timezone.now()
    if not webhook.hmac_secret:
        # An HMAC keyed with "" is one anybody can compute (a webhook whose auth was switched
        # to hmac in the admin before that was refused had none): no call is signed by it.
        raise WebhookRefused("this hmac webhook has no secret yet: 'New URL' in the editor's Triggers "
                             "(PATCH {\"rotate\": true}) gives it one, with its new URL")
    if timestamp is None:
        if webhook.require_timestamp:
            raise WebhookRefused(
                f"missing {TIMESTAMP_HEADER} header: send the Unix time in seconds there and sign "
                f"'<timestamp>.<raw body>' ({SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256>)")
        if not _matches(webhook_signature(webhook.hmac_secret, body), signature):
            raise WebhookRefused(f"missing or wrong {SIGNATURE_HEADER} header (sha256 HMAC of the raw body)")
        return None
    seconds = _timestamp(timestamp, now)
    expected = webhook_signature(webhook.hmac_secret, body, timestamp.strip())
    if not _matches(expected, signature):
        raise WebhookRefused(f"missing or wrong {SIGNATURE_HEADER} header (sha256 HMAC of "
                             f"'<{TIMESTAMP_HEADER}>.<raw body>')")
    window = tolerance()
    # Compared with the exact time, not whole seconds: accepted means now <= expires_at.
    skew = seconds - now.timestamp()
    if abs(skew) > window:
        when = f"{skew:.0f} s in the future" if skew > 0 else f"{-skew:.0f} s old"
        raise WebhookRefused(f"{TIMESTAMP_HEADER} is {when} by the server's clock; at most {window} s either way "
                             "is accepted: sign each call when it is sent")
    expires_at = datetime.fromtimestamp(seconds + window, tz=UTC)
    return SignedCall(signature=expected.removeprefix("sha256="), expires_at=expires_at)


def remember(*, webhook: Webhook, call: SignedCall, now: datetime | None = None) -> None:
    """Record `call` as used, or refuse it if it already was. Run in the transaction that
    starts the run: a call refused later (a full queue) is then not remembered and its
    retry goes through, and a second identical call waits for the first one's transaction
    and fails on the unique constraint, on SQLite and PostgreSQL alike."""
    now = now or timezone.now()
    # This webhook's expired signatures go here; idle webhooks' in the housekeeping thread.
    WebhookSignatureSeen.objects.filter(webhook=webhook, expires_at__lt=now - _PRUNE_MARGIN).delete()
    try:
        with transaction.atomic():
            WebhookSignatureSeen.objects.create(webhook=webhook, signature=call.signature, expires_at=call.expires_at)
    except IntegrityError:
        raise WebhookRefused(f"this signed call was already accepted (the same {SIGNATURE_HEADER} and "
                             f"{TIMESTAMP_HEADER}): sign each call with the time it is sent") from None


def prune_expired(now: datetime | None = None) -> int:
    """Delete remembered signatures whose timestamps are outside the tolerance (a
    housekeeping job), so the cache holds about one window of calls."""
    deleted, _ = WebhookSignatureSeen.objects.filter(expires_at__lt=(now or timezone.now()) - _PRUNE_MARGIN).delete()
    return deleted
