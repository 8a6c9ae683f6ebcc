"""WhiteNoise, made async-capable.

WhiteNoise's middleware is sync-only. Under daphne one sync middleware forces Django to
run every request's middleware chain on the single thread-sensitive worker thread, so
async views (the demo API's `asyncio.sleep`) are served one after another and parallel
HTTP calls from a workflow look sequential. This subclass serves static files exactly
like WhiteNoise and lets every other request stay on the event loop.

WhiteNoise (outside DEBUG) lists the static files once, at start-up. A front-end build
under a running daphne replaces static/dist's hashed files, so the new ones were 404 until
a restart. So before answering under /static/dist/ the middleware compares the Vite
manifest's stamp (one stat) with the one of its list, and lists the files again when a
build has rewritten it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware

from editor.templatetags.vite import DIST_URL, manifest_stamp


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    # Hashed assets (WHITENOISE_IMMUTABLE_FILE_TEST) are cached for a year, the usual bound
    # (WhiteNoise's default is ten).
    FOREVER = 365 * 24 * 60 * 60
    sync_capable = True
    async_capable = True
    files: dict[str, Any]  # WhiteNoise's list: URL -> its file (WhiteNoise has no type hints)

    def __init__(self, get_response: Callable[[HttpRequest], Any], *args: Any, **kwargs: Any) -> None:
        # Taken before the files are listed: a build that lands meanwhile is seen as new.
        self._dist_stamp = manifest_stamp()
        self._relist_lock = threading.Lock()
        super().__init__(get_response, *args, **kwargs)
        self._is_async = iscoroutinefunction(get_response)
        if self._is_async:
            markcoroutinefunction(self)

    def _static_file(self, path: str) -> Any:
        if self.autorefresh:
            return self.find_file(path)
        if path.startswith(DIST_URL) and manifest_stamp() != self._dist_stamp:
            self._relist()
        return self.files.get(path)

    def _relist(self) -> None:
        """List the static files again after a front-end build, into a new dictionary that
        replaces the old one whole (requests meanwhile read the old one)."""
        with self._relist_lock:
            stamp = manifest_stamp()
            if stamp == self._dist_stamp:
                return  # another request has just done it
            lister = copy.copy(self)
            lister.files = {}
            lister.add_files_from_finders()
            self.files = lister.files
            self._dist_stamp = stamp

    def __call__(self, request: HttpRequest) -> Any:
        if self._is_async:
            return self._acall(request)
        static_file = self._static_file(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self._static_file(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return await get_response(request)
