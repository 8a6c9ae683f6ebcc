"""Refusals the services raise for a request that cannot be carried out as asked.

Each names the HTTP status a client should get; `flowmaestro.api_errors` answers every
one of them the same way (`{"detail": message}`, plus `errors: [{message, nodeId}]` when
the refusal is about nodes of the workflow), so views need not catch them. The admin
catches them to show the message."""

from __future__ import annotations


class Refusal(Exception):
    status_code = 400

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.message = message
        # One {message, nodeId} per node the refusal is about, as for an invalid workflow:
        # what a client (or the editor) points at.
        self.errors = errors
