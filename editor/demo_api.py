"""A small demo API under /demo-api/ for the demo workflows to call over real HTTP.

The views are async on purpose: under daphne, sync views share one thread, so ten
parallel calls to a "100 ms" endpoint would take a second and the parallel demos would
look sequential. `asyncio.sleep` lets every request wait at the same time.
No auth and no CSRF: it holds nothing and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt

from engine.core.numerals import ascii_number

MAX_SLEEP_MS = 60_000

DEMO_USERS: list[dict[str, Any]] = [
    {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
    {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
    {"id": 4, "name": "Edsger Dijkstra", "email": "edsger@example.com"},
    {"id": 5, "name": "Barbara Liskov", "email": "barbara@example.com"},
    {"id": 6, "name": "Donald Knuth", "email": "donald@example.com"},
    {"id": 7, "name": "Margaret Hamilton", "email": "margaret@example.com"},
    {"id": 8, "name": "Leslie Lamport", "email": "leslie@example.com"},
    {"id": 9, "name": "Frances Allen", "email": "frances@example.com"},
    {"id": 10, "name": "Ken Thompson", "email": "ken@example.com"},
]
_USERS_BY_ID = {user["id"]: user for user in DEMO_USERS}
_CITIES = ["London", "Manchester", "Arlington", "Rotterdam", "Los Angeles", "Milwaukee", "Boston", "New York"]
_TEAMS = ["Platform", "Compilers", "Distributed Systems", "Languages", "Reliability"]


class BadParam(ValueError):
    pass


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _number(request: HttpRequest, name: str, default: float, *, low: float, high: float) -> float:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return float(default)
    value = ascii_number(raw)  # not float(): it took "٣", "1_0" and "nan"
    if value is None:
        raise BadParam(f"{name} must be a number written with the digits 0-9")
    if not low <= value <= high:
        raise BadParam(f"{name} must be between {low:g} and {high:g}")
    return value


def _whole(value: float) -> float | int:
    return int(value) if value.is_integer() else value


async def _maybe_fail(fail_rate: float) -> JsonResponse | None:
    # `random` is fine here: this simulates a flaky service, it guards nothing.
    if fail_rate > 0 and random.random() < fail_rate:
        return _error("Service temporarily unavailable (simulated failure).", 503)
    return None


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    uid = int(user["id"])
    return {
        **user,
        "city": _CITIES[uid % len(_CITIES)],
        "team": _TEAMS[uid % len(_TEAMS)],
        "joinedYear": 2010 + uid,
        "score": (uid * 37) % 100,
        "active": uid % 3 != 0,
    }


@csrf_exempt
async def users(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _error("Method not allowed.", 405)
    return JsonResponse(DEMO_USERS, safe=False)


@csrf_exempt
async def user_profile(request: HttpRequest, user_id: str) -> HttpResponse:
    if request.method != "GET":
        return _error("Method not allowed.", 405)
    try:
        latency = _number(request, "latency", 100, low=0, high=MAX_SLEEP_MS)
        fail_rate = _number(request, "failRate", 0, low=0, high=1)
    except BadParam as exc:
        return _error(str(exc), 400)
    user = _USERS_BY_ID.get(int(user_id))
    if user is None:
        return _error(f"No user {user_id}.", 404)
    await asyncio.sleep(latency / 1000)
    failure = await _maybe_fail(fail_rate)
    if failure is not None:
        return failure
    return JsonResponse({**_profile(user), "latencyMs": _whole(latency)})


@csrf_exempt
async def slow(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return _error("Method not allowed.", 405)
    try:
        ms = _number(request, "ms", 1000, low=0, high=MAX_SLEEP_MS)
        fail_rate = _number(request, "failRate", 0, low=0, high=1)
    except BadParam as exc:
        return _error(str(exc), 400)
    await asyncio.sleep(ms / 1000)
    failure = await _maybe_fail(fail_rate)
    if failure is not None:
        return failure
    return JsonResponse({"sleptMs": _whole(ms), "source": request.GET.get("source", "slow")})


@csrf_exempt
async def echo(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _error("Method not allowed: POST a JSON body.", 405)
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error("The body must be JSON.", 400)
    return JsonResponse(body, safe=False)


urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^users/?$", users, name="demo-users"),
    re_path(r"^users/(?P<user_id>[0-9]{1,9})/profile/?$", user_profile, name="demo-user-profile"),
    re_path(r"^slow/?$", slow, name="demo-slow"),
    re_path(r"^echo/?$", echo, name="demo-echo"),
]
