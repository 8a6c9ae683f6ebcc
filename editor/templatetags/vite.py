"""`{% vite_entry "name" %}`: the script, CSS and preload tags of one Vite entry.

Vite writes `static/dist/.vite/manifest.json` (build.manifest in vite.config.ts), mapping
each source file to its hashed output and the chunks/CSS it imports. The tag keeps the
parsed manifest and reads it again when the file changes (one stat per render, compared
with the stat of the copy it holds), so a `npx vite build` under a running daphne is picked
up at once: the old hashed files are gone after a build, and pages that still named them
broke until a restart. If the front end was never built, the page says so instead of
failing with a blank screen.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

DIST_URL = "/static/dist/"
ENTRIES_SOURCE_DIR = "src/entries/"

ManifestStamp = tuple[int, int, int]

_cache_lock = threading.Lock()
# The manifest as last read, with the stamp of the file it was read from.
_cached: tuple[ManifestStamp, dict[str, Any]] | None = None


def manifest_path() -> Path:
    return Path(settings.BASE_DIR) / "static" / "dist" / ".vite" / "manifest.json"


def manifest_stamp() -> ManifestStamp | None:
    """What changes when a build rewrites the manifest (modification time, size, inode), or
    None without a build. Also what the static files middleware watches."""
    try:
        st = manifest_path().stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def load_manifest() -> dict[str, Any] | None:
    """The parsed manifest, or None when the front end has not been built."""
    global _cached
    stamp = manifest_stamp()
    if stamp is None:
        return None
    cached = _cached
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(manifest_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        # Caught half-written by a build in progress: the last good one until it is whole.
        return cached[1] if cached is not None else None
    with _cache_lock:
        _cached = (stamp, data)
    return data


def reset_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def _find_chunk(manifest: dict[str, Any], entry: str) -> dict[str, Any] | None:
    for key in (f"{ENTRIES_SOURCE_DIR}{entry}.tsx", f"{ENTRIES_SOURCE_DIR}{entry}.ts", entry):
        if key in manifest:
            return manifest[key]
    # Fall back on the chunk's `name` (the rollup input key) whatever its source path.
    for chunk in manifest.values():
        if chunk.get("isEntry") and chunk.get("name") == entry:
            return chunk
    return None


def _collect(manifest: dict[str, Any], chunk: dict[str, Any], css: list[str], preloads: list[str], seen: set[str]) -> None:
    for css_file in chunk.get("css", []):
        if css_file not in css:
            css.append(css_file)
    for key in chunk.get("imports", []):
        if key in seen:
            continue
        seen.add(key)
        imported = manifest.get(key)
        if imported is None:
            continue
        preloads.append(imported["file"])
        _collect(manifest, imported, css, preloads, seen)


def render_entry(entry: str) -> SafeString:
    manifest = load_manifest()
    if manifest is None:
        return format_html(
            '<!-- vite manifest missing: {} -->'
            '<div class="frontend-missing" role="alert" data-testid="frontend-missing">'
            "front end not built: run npm ci &amp;&amp; npm run build (make run and make cluster do)</div>",
            str(manifest_path()),
        )
    chunk = _find_chunk(manifest, entry)
    if chunk is None:
        return format_html(
            '<!-- vite entry "{}" not in manifest -->'
            '<div class="frontend-missing" role="alert" data-testid="frontend-missing">'
            "front end not built (entry {} missing): run npm ci &amp;&amp; npm run build "
            "(make run and make cluster do)</div>",
            entry,
            entry,
        )
    css: list[str] = []
    preloads: list[str] = []
    _collect(manifest, chunk, css, preloads, set())
    parts = [
        format_html_join("", '<link rel="stylesheet" href="{}{}">', ((DIST_URL, f) for f in css)),
        format_html_join("", '<link rel="modulepreload" href="{}{}">', ((DIST_URL, f) for f in preloads)),
        format_html('<script type="module" src="{}{}"></script>', DIST_URL, chunk["file"]),
    ]
    return mark_safe("".join(str(p) for p in parts))  # noqa: S308 - every part is format_html-escaped


@register.simple_tag
def vite_entry(entry: str) -> SafeString:
    return render_entry(entry)
