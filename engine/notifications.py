"""The mail a cancel handler with `notify` sends (SPEC: signal handlers), in words.

The engine core decides when (once the cancelled execution has really ended, its
compensations included) and with which facts (`engine.core.engine.CancelNotice`); this
module, on the Django side, writes the mail and sends it. The engine calls it on a thread
of its own, so a slow mail server delays nothing else.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail

from engine.core.engine import CancelNotice


def cancel_mail(notice: CancelNotice) -> tuple[str, str]:
    """(subject, body) of the mail for `notice`."""
    lines = [f"Execution {notice.execution_id} ({notice.trace_id}) was cancelled by {notice.by}: {notice.reason}",
             f"Final status: {notice.status}."]
    for item in notice.compensations:
        lines.append(f"Compensation {item.get('compensate')} for {item.get('nodeId')}: {item.get('status')}")
    return f"FlowMaestro: execution {notice.execution_id} {notice.status}", "\n".join(lines)


def send_cancel_notice(notice: CancelNotice) -> None:
    """One message per address, over one connection: the addresses are whatever the
    workflow's author typed (up to 20), and one message to all of them would show every
    recipient everyone else's address."""
    subject, body = cancel_mail(notice)
    send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [address]) for address in notice.to],
                   fail_silently=False)
