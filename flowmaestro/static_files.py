"""WhiteNoise, made async-capable.

WhiteNoise's middleware is sync-only. Under daphne one sync middleware forces Django to
run every request's middleware chain on the single thread-sensitive worker thread, so
async views (the demo API's `asyncio.sleep`) are served one after another and parallel
HTTP calls from a workflow look sequential. This subclass serves static files exactly
like WhiteNoise and lets every other request stay on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    # Hashed assets (WHITENOISE_IMMUTABLE_FILE_TEST) are cached for a year, the usual bound
    # (WhiteNoise's default is ten).
    FOREVER = 365 * 24 * 60 * 60
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(get_response, *args, **kwargs)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
