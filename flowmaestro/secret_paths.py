"""Webhook URLs are credentials: keep their tokens out of the logs.

`POST /hooks/{token}` needs no login; the token in the path is the secret (README,
"Triggers"). daphne's access log and Django's request warnings (`Forbidden (403):
/hooks/…`, `Bad Request: …`) printed that path whole, so whoever reads the server's logs
(a log shipper, a shared dashboard) could start the owner's runs. Both now show the
token's first four characters only, enough to tell two webhooks apart in a log and far
too few to call one (a token has 256 bits)."""

from __future__ import annotations

import logging
import re
from typing import Any

_HOOK_TOKEN = re.compile(r"(/hooks/)([A-Za-z0-9_-]{1,4})[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """`text` with every `/hooks/<token>` cut to `/hooks/<first 4>…`."""
    return _HOOK_TOKEN.sub(r"\1\2…", text) if "/hooks/" in text else text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactWebhookTokens(logging.Filter):
    """A handler filter (settings.LOGGING): every record the server prints goes through it,
    whichever logger wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        return True


_daphne_patched = False


def redact_daphne_access_log() -> None:
    """daphne writes its access log (stdout, or `--access-log FILE`) itself, outside Python's
    logging: hand it the path with the token cut. Idempotent; nothing without daphne."""
    global _daphne_patched
    if _daphne_patched:
        return
    _daphne_patched = True
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return
    write = AccessLogGenerator.__call__

    def call(self: Any, protocol: str, action: str, details: dict[str, Any]) -> None:
        path = details.get("path")
        if isinstance(path, str) and "/hooks/" in path:
            details = {**details, "path": redact(path)}
        write(self, protocol, action, details)

    AccessLogGenerator.__call__ = call  # type: ignore[method-assign]
