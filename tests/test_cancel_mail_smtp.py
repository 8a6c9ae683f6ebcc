"""A cancel's `notify` mail reaches the SMTP server the environment names.

Before, only the backend was read from the environment (`DJANGO_EMAIL_BACKEND`): with the
SMTP backend, mail went to localhost:25 whatever the operator's server was, and a server
that accepted the connection but never answered held the mail thread for ever (Django's
SMTP backend has no timeout unless one is set). Each test runs the settings in a fresh
process, as `make run` or a worker would read them, against a real SMTP listener on
loopback.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SEND = """
import django; django.setup()
from engine.core.engine import CancelNotice
from engine.notifications import send_cancel_notice
send_cancel_notice(CancelNotice(execution_id=42, trace_id="t-1", status="cancelled",
                                to=["ops@example.com", "lead@example.com"], by="alice",
                                reason="wrong input", compensations=[]))
print("sent")
"""


class Sink(socketserver.ThreadingTCPServer):
    """The few SMTP replies Django's backend needs; what it was sent, per message."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, silent: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.silent = silent
        self.messages: list[dict[str, object]] = []


class SinkHandler(socketserver.StreamRequestHandler):
    server: Sink

    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        if self.server.silent:
            time.sleep(30)  # accepts, never greets: a hung mail server
            return
        self.say("220 sink ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline().decode(errors="replace").rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.say("250 sink")
            elif verb == "MAIL":
                sender, recipients = line, []
                self.say("250 ok")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip(" <>"))
                self.say("250 ok")
            elif verb == "DATA":
                self.say("354 go on")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data.decode(errors="replace"))
                self.server.messages.append({"from": sender, "to": recipients, "data": "".join(body)})
                self.say("250 queued")
            elif verb == "QUIT":
                self.say("221 bye")
                return
            else:
                self.say("250 ok")


@pytest.fixture
def sink(request: pytest.FixtureRequest) -> Iterator[Sink]:
    server = Sink(silent=getattr(request, "param", False))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def send_with(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWMAESTRO_", "DJANGO_"))}
    return subprocess.run([sys.executable, "-c", SEND], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "flowmaestro.settings",
                               "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", **env})


def test_the_mail_goes_to_the_smtp_server_the_environment_names(sink: Sink) -> None:
    result = send_with(DJANGO_EMAIL_HOST="127.0.0.1", DJANGO_EMAIL_PORT=str(sink.server_address[1]),
                       DJANGO_DEFAULT_FROM_EMAIL="flows@example.com")
    assert result.returncode == 0, result.stderr[-2000:]
    # One message per address: no recipient sees the others.
    assert [m["to"] for m in sink.messages] == [["ops@example.com"], ["lead@example.com"]]
    first = str(sink.messages[0]["data"])
    assert "Subject: FlowMaestro: execution 42 cancelled" in first
    assert "was cancelled by alice: wrong input" in first
    assert "flows@example.com" in str(sink.messages[0]["from"])


@pytest.mark.parametrize("sink", [True], indirect=True)
def test_a_mail_server_that_never_answers_fails_the_mail_after_the_timeout(sink: Sink) -> None:
    started = time.monotonic()
    result = send_with(DJANGO_EMAIL_HOST="127.0.0.1", DJANGO_EMAIL_PORT=str(sink.server_address[1]),
                       DJANGO_EMAIL_TIMEOUT="0.5")
    took = time.monotonic() - started
    assert result.returncode != 0 and "sent" not in result.stdout
    assert "timed out" in result.stderr, result.stderr[-2000:]
    assert took < 20, took  # the sink holds the connection 30 s; the process start is the rest

