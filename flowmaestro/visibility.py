"""Who may see what (SPEC §7), written once: a user sees what they own; staff see everything.

Everything someone else owns is simply not found — 404 from the API and the pages, close
4404 on a websocket — never a 403, so ids do not reveal whether an object exists. Every
reader (API, pages, websocket consumers, dead letters, triggers) goes through `visible`
and `get_or_404`, so the rule cannot drift between them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404

# Ids beyond a 64-bit integer would overflow the database driver; they cannot exist anyway.
MAX_ID = 2**63 - 1

M = TypeVar("M", bound=Model)


def is_staff(user: Any) -> bool:
    return bool(getattr(user, "is_staff", False))


def visible(qs: QuerySet[M], user: Any, *, owner: str = "owner_id") -> QuerySet[M]:
    """`qs` narrowed to what `user` may see; `owner` is the lookup of the owning user's id
    (`workflow__owner_id` for objects owned through their workflow)."""
    if is_staff(user):
        return qs
    return qs.filter(**{owner: user.pk})


def parse_id(raw: Any) -> int | None:
    """A positive 64-bit id from a URL or message, or None for anything else. Text is read
    as ASCII digits only: int() also took "٣", "1_0" and " 7 "."""
    if isinstance(raw, str):
        if not (raw.isascii() and raw.isdigit()):
            return None
    elif isinstance(raw, bool) or not isinstance(raw, int):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def get_or_404(qs: QuerySet[M], raw_id: Any, message: str = "Not found.", *, field: str = "pk") -> M:
    """The object of `qs` whose `field` is `raw_id`, or Http404 when the id is malformed,
    out of range or not in `qs` (pass `qs` through `visible` first): all look the same."""
    value = parse_id(raw_id)
    obj = qs.filter(**{field: value}).first() if value is not None else None
    if obj is None:
        raise Http404(message)
    return obj
